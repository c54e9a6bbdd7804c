"""Run a pipeline over a gold corpus and write metrics, report, errors and plots.

This is the only part of evaluation that needs a model; it turns gold and predicted Docs
into `Sentence`s and hands them to the pure scorer and analysis.
"""
import hashlib
import json
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

from spacy.language import Language
from spacy.tokens import Doc, DocBin
from wasabi import msg

from ..batching import SORT_BATCHES, by_length, in_input_order
from ..errors import UserError
from . import analysis, bootstrap, compare as compare_mod, report, scorer
from .scorer import Sentence, Span


def load_model(model: str, gpu_id: int = -1) -> Language:
    import spacy

    if gpu_id >= 0:
        try:
            spacy.require_gpu(gpu_id)
        except Exception as err:  # spaCy raises ValueError or a CUDA error depending on setup
            raise UserError(f"Cannot use GPU {gpu_id} ({err}). Pass --gpu-id -1 to evaluate on CPU.")
    try:
        return spacy.load(model)
    except OSError as err:
        if "E050" in str(err) or "E053" in str(err):
            raise UserError(
                f"Cannot load model '{model}': it is neither a pipeline directory nor an installed "
                "package. Pass the directory written by training (e.g. training/model-best) or "
                "install the packaged wheel (pip install packages/...whl) and pass its name."
            )
        raise


def read_gold(path: Path, nlp: Language) -> Tuple[List[Doc], Optional[Dict[str, object]]]:
    """Gold Docs, plus the reader's report (repairs, drops) when DATA is a corpus file, not a DocBin."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"Evaluation data {path} does not exist. Pass a .spacy file written by "
                        "`spacy-bert-ner convert` or a corpus file convert reads.")
    if path.is_file() and path.suffix != ".spacy":
        from ..readers import read_corpus

        docs, file_report = read_corpus(path, nlp.vocab)
        reader = file_report.to_dict()
        if reader["repaired"] or reader["dropped"] or reader["set_aside"]:
            msg.warn(f"{path}: reading repaired {reader['repaired']}, dropped {reader['dropped']} and set "
                     f"aside {reader['set_aside']} items; see metrics.json 'reader' (or run convert --report).")
        return docs, reader
    # A directory is read as spaCy's Corpus reads one: every .spacy file below it, sorted.
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*.spacy") if p.is_file())
    if not files:
        raise UserError(f"{path}: a directory without .spacy files. Pass a directory written by "
                        "`spacy-bert-ner convert`, a .spacy file, or a corpus file.")
    docs = []
    for file in files:
        try:
            docs.extend(DocBin().from_disk(file).get_docs(nlp.vocab))
        except Exception as err:  # DocBin raises ValueError/KeyError/msgpack errors on foreign files
            raise UserError(f"{file}: not a readable spaCy DocBin ({type(err).__name__}: {err}). "
                            "Recreate it with `spacy-bert-ner convert`.")
    if not docs:
        raise UserError(f"{path}: contains no documents; nothing to evaluate.")
    return docs, None


def predict(nlp: Language, gold_docs: List[Doc], batch_size: int = 64) -> List[Doc]:
    """Run the pipeline on the gold tokenization, so gold and predicted spans share offsets."""
    inputs = ((Doc(nlp.vocab, words=[t.text for t in d], spaces=[bool(t.whitespace_) for t in d]), None)
              for d in gold_docs)
    docs = nlp.pipe(by_length(inputs, batch_size * SORT_BATCHES), as_tuples=True, batch_size=batch_size)
    return [doc for doc, _ in in_input_order(docs)]


def _spans(doc: Doc) -> List[Span]:
    return [(e.start, e.end, e.label_) for e in doc.ents]


def to_sentences(gold: Doc, pred: Doc) -> Tuple[List[Sentence], int]:
    """Split a document at its gold sentence boundaries, the unit of the bootstrap.

    A boundary that a gold or predicted entity crosses is not split at, so the two
    sentences form one unit; returns the units and the number of boundaries kept whole.
    """
    tokens = [t.text for t in gold]
    gold_spans, pred_spans = _spans(gold), _spans(pred)
    starts = [s.start for s in gold.sents][1:] if gold.has_annotation("SENT_START") else []
    crossed = {b for b in starts if any(s < b < e for s, e, _ in gold_spans + pred_spans)}
    cuts = [0] + [b for b in starts if b not in crossed] + [len(gold)]
    units = []
    for a, b in zip(cuts, cuts[1:]):
        shift = lambda spans: [(s - a, e - a, l) for s, e, l in spans if a <= s and e <= b]  # noqa: E731
        units.append(Sentence(tokens[a:b], shift(gold_spans), shift(pred_spans), gold[a:b].text.strip()))
    return units, len(crossed)


def write_json(path: Path, data: object, indent: Optional[int] = 2) -> None:
    """Full float precision and readable UTF-8 (srsly rounds floats to 10 digits)."""
    path.write_text(json.dumps(data, ensure_ascii=False, indent=indent) + "\n", encoding="utf8")


def fingerprint(sentences: Iterable[Sentence]) -> str:
    digest = hashlib.sha1()
    for s in sentences:
        digest.update(json.dumps([s.tokens, s.gold]).encode("utf8"))
    return digest.hexdigest()


def evaluate(model: str, data: Path, output: Path, training_log: Optional[Path] = None,
             compare: Optional[Path] = None, seed: int = 0, n_bootstrap: int = 1000,
             gpu_id: int = -1) -> Dict[str, object]:
    if n_bootstrap < 1:
        raise UserError("--bootstrap must be at least 1 (1000 is usual for 95% intervals).")
    # Bad logs or comparison files fail before the model runs; the other run is read before
    # anything is written, so it may even live in the output directory.
    points = None
    if training_log is not None:
        from .training_log import read_training_log

        points = read_training_log(training_log)
    other = compare_mod.load_other(compare) if compare is not None else None
    nlp = load_model(model, gpu_id)
    gold_docs, reader = read_gold(data, nlp)
    pred_docs = predict(nlp, gold_docs)
    sentences: List[Sentence] = []
    merged = 0
    for gold, pred in zip(gold_docs, pred_docs):
        units, n_crossed = to_sentences(gold, pred)
        sentences.extend(units)
        merged += n_crossed
    return write_evaluation(sentences, output, model=str(model), data=str(data), n_docs=len(gold_docs),
                            boundaries_merged=merged, reader=reader, training_points=points, other=other,
                            seed=seed, n_bootstrap=n_bootstrap)


def write_evaluation(
    sentences: List[Sentence], output: Path, *, model: str, data: str, n_docs: int,
    boundaries_merged: int = 0, reader: Optional[Dict[str, object]] = None,
    training_points: Optional[List[Dict[str, object]]] = None,
    other: Optional[Tuple[Dict[str, object], Optional[Dict[str, object]]]] = None,
    seed: int = 0, n_bootstrap: int = 1000,
) -> Dict[str, object]:
    """Score sentences and write metrics.json, sentence_counts.json, errors.jsonl, report.md, PNGs.

    other: (metrics, per-sentence counts or None) of a run to compare with.
    """
    from . import plots

    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    metrics: Dict[str, object] = {"model": model, "data": data, "n_docs": n_docs,
                                  "sentence_boundaries_merged": boundaries_merged}
    if reader is not None:
        metrics["reader"] = reader
    metrics.update(scorer.score(sentences))
    per_sentence = [scorer.sentence_counts(s) for s in sentences]
    labels = list(metrics["ents_per_type"])
    metrics["bootstrap"] = bootstrap.f1_intervals(per_sentence, labels, n=n_bootstrap, seed=seed)
    found = analysis.analyse(sentences)
    errors = found.pop("errors")
    metrics.update(found)
    counts = {"fingerprint": fingerprint(sentences), "labels": labels, "sentences": per_sentence}
    write_json(output / compare_mod.COUNTS_FILE, counts, indent=None)
    with (output / "errors.jsonl").open("w", encoding="utf8") as f:
        f.writelines(json.dumps(e, ensure_ascii=False) + "\n" for e in errors)
    comparison = compare_mod.compare(metrics, counts, *other) if other is not None else None
    if comparison:
        write_json(output / "comparison.json", comparison)
    plot_files = {"per_type_f1": plots.plot_per_type_f1(metrics, output / "per_type_f1.png").name,
                  "confusion": plots.plot_confusion(metrics["confusion"], output / "confusion.png").name}
    if training_points:
        plot_files["training_curve"] = plots.plot_training_curve(training_points, output / "training_curve.png").name
    metrics["plots"] = plot_files
    write_json(output / "metrics.json", metrics)
    (output / "report.md").write_text(report.render_markdown(metrics, plot_files, comparison), encoding="utf8")
    report.print_scores(metrics)
    if comparison:
        report.print_comparison(comparison)
    if boundaries_merged:
        msg.warn(f"{boundaries_merged} sentence boundaries are crossed by a gold or predicted entity; "
                 "the sentences on both sides count as one sentence.")
    msg.good(f"Wrote metrics.json, report.md, errors.jsonl and plots to {output}")
    return metrics
