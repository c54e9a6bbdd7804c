"""Run a pipeline over a gold corpus and write metrics, report, errors and plots.

This is the only part of evaluation that needs a model; it turns gold and predicted Docs
into `EvalSentence`s and hands them to the pure scorer and analysis.
"""
from bisect import bisect_right
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from spacy.language import Language
from spacy.tokens import Doc
from wasabi import msg

from ..errors import UserError
from ..extras import require
from ..jsonfiles import write_json, write_jsonl
from ..inference.loading import load_pipeline
from ..components.cuts import inside_entities
from ..inference.long_texts import Entity, pipe_entities
from ..readers.docbin import read_docbin
from ..components.confidence import DEFAULT_SPANS_KEY, calibrated, scoring_pipe
from . import analysis, bootstrap, calibration, compare as compare_mod, report, scorer
from .scorer import GOLD_TOKENS, RAW_TEXT, EvalSentence


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
    docs = [doc for file in files for doc in read_docbin(file, nlp.vocab)]
    if not docs:
        raise UserError(f"{path}: contains no documents; nothing to evaluate.")
    return docs, None


def predict(nlp: Language, gold_docs: List[Doc], tokenization: str, batch_size: int = 64) -> List[List[Entity]]:
    """Each document's predicted entities as (start_char, end_char, label, score); the score is
    None where the pipeline gives none.

    raw_text: the pipeline runs on `doc.text` with its own tokenizer, as `spacy.load(...)(text)`
    and `predict` do in production. gold_tokens: it runs on the gold tokens, so every gold
    entity is reachable (what CoNLL/seqeval figures measure). Texts longer than the pipeline's
    max_length run as pieces (`long_texts`).
    """
    def inputs():
        for i, doc in enumerate(gold_docs):
            if tokenization == RAW_TEXT:
                yield doc.text, i
            else:
                yield Doc(nlp.vocab, words=[t.text for t in doc], spaces=[bool(t.whitespace_) for t in doc]), i

    found: List[List[Entity]] = [[] for _ in gold_docs]
    name = scoring_pipe(nlp)
    key = nlp.get_pipe(name).spans_key if name else DEFAULT_SPANS_KEY
    for entities, i in pipe_entities(nlp, inputs(), batch_size=batch_size, scores_key=key):
        found[i] = entities
    return found


def scored_entities(gold_docs: List[Doc], predicted: List[List[Entity]]) -> List[Tuple[float, bool]]:
    """(score, right) of every scored prediction on raw text; right: span and type match a gold
    entity exactly (by characters), the strict criterion."""
    out = []
    for gold, pred in zip(gold_docs, predicted):
        spans = {(e.start_char, e.end_char, e.label_) for e in gold.ents}
        out.extend((score, (start, end, label) in spans) for start, end, label, score in pred if score is not None)
    return out


def unit_bounds(gold: Doc) -> Tuple[List[int], int]:
    """Token indices where the document is cut into bootstrap units: its gold sentence boundaries
    that no gold entity crosses, so the units are the same whatever a model predicts. Returns the
    cuts (0 and len included) and the number of boundaries left uncut."""
    starts = [s.start for s in gold.sents][1:] if gold.has_annotation("SENT_START") else []
    inside = inside_entities(gold)
    kept = [b for b in starts if not inside[b]]
    return [0] + kept + [len(gold)], len(starts) - len(kept)


def by_unit(spans: List[Tuple[int, int, str]], bounds: List[int]) -> List[List[Tuple[int, int, str]]]:
    """Spans grouped by the unit [bounds[i], bounds[i+1]) they start in, offsets made relative to
    it; one pass over spans sorted by start, so a document of any length costs linear time."""
    groups: List[List[Tuple[int, int, str]]] = [[] for _ in range(len(bounds) - 1)]
    for s, e, label in sorted(spans):
        i = bisect_right(bounds, s) - 1
        if 0 <= i < len(groups):
            groups[i].append((s - bounds[i], e - bounds[i], label))
    return groups


def to_sentences(gold: Doc, pred: List[Entity], tokenization: str) -> Tuple[List[EvalSentence], int, int]:
    """A document as bootstrap units (see `unit_bounds`) with gold and predicted spans.

    Spans are token offsets on gold tokens and character offsets into the unit's text on raw
    text. A predicted entity that crosses a unit boundary belongs to the unit it starts in.
    Returns the units, the sentence boundaries left uncut and the predictions crossing one.
    """
    cuts, n_uncut = unit_bounds(gold)
    chars = [gold[b].idx for b in cuts[:-1]] + [len(gold.text)]
    tokens = [t.text for t in gold]
    pred = [(start, end, label) for start, end, label, *_ in pred]
    if tokenization == GOLD_TOKENS:
        gold_spans = [(e.start, e.end, e.label_) for e in gold.ents]
        pred = [(span.start, span.end, label) for start, end, label in pred
                for span in [gold.char_span(start, end, alignment_mode="expand")] if span is not None]
        bounds = cuts
    else:
        gold_spans = [(e.start_char, e.end_char, e.label_) for e in gold.ents]
        bounds = chars
    gold_by_unit, pred_by_unit = by_unit(gold_spans, bounds), by_unit(pred, bounds)
    text = gold.text  # Doc.text joins every token on each access
    units, crossing = [], 0
    for i in range(len(cuts) - 1):
        a, b, ca, cb = cuts[i], cuts[i + 1], chars[i], chars[i + 1]
        crossing += sum(1 for _, e, _ in pred_by_unit[i] if e > bounds[i + 1] - bounds[i])
        token_chars = None if tokenization == GOLD_TOKENS else [
            (t.idx - ca, t.idx + len(t.text) - ca) for t in gold[a:b]]
        units.append(EvalSentence(tokens[a:b], gold_by_unit[i], pred_by_unit[i], text[ca:cb].rstrip(), token_chars))
    return units, n_uncut, crossing


def tokenizer_against_gold(nlp: Language, gold_docs: List[Doc]) -> Tuple[Dict[str, object], Dict[str, object]]:
    """What the pipeline's tokenizer does to the gold annotation, in one pass over the documents:

    - misaligned: gold entities it cannot reproduce (an edge inside one of its tokens), which no
      prediction on raw text can match;
    - split: gold tokens it cuts into several (a Chinese word is one token per character). The
      model learned on its own tokens, so where many are cut, the gold-token score shows it input
      unlike any it trained on.
    Documents over nlp.max_length are left out of both counts.
    """
    misaligned, misaligned_examples, split, total, split_examples = 0, [], 0, 0, []
    for doc in gold_docs:
        if len(doc.text) > nlp.max_length:
            continue
        tokens = nlp.make_doc(doc.text)
        for ent in doc.ents:
            if tokens.char_span(ent.start_char, ent.end_char) is None:
                misaligned += 1
                if len(misaligned_examples) < 5:
                    inside = tokens.char_span(ent.start_char, ent.end_char, alignment_mode="expand")
                    misaligned_examples.append(f"{ent.text!r} {ent.label_} in the token(s) {inside.text!r}")
        starts = [token.idx for token in tokens]
        total += len(doc)
        for token in doc:
            i = bisect_right(starts, token.idx)
            if i < len(starts) and starts[i] < token.idx + len(token.text):
                split += 1
                if len(split_examples) < 5:
                    split_examples.append(repr(token.text))
    return ({"count": misaligned, "examples": misaligned_examples},
            {"count": split, "of": total, "examples": split_examples})


def raw_text_unavailable(gold_docs: List[Doc]) -> Optional[str]:
    """Why the corpus has no raw text to run the pipeline on, or None if it has."""
    unknown = sum(1 for doc in gold_docs if doc.has_unknown_spaces)
    if unknown:
        return (f"{unknown} of {len(gold_docs)} documents have no known spacing (the corpus has no `# text` "
                "comments or SpaceAfter marks), so their raw text, and the score production would get, is unknown")
    return None


def evaluate(model: str, data: Path, output: Path, training_log: Optional[Path] = None,
             compare: Optional[Path] = None, seed: int = 0, n_bootstrap: int = 1000,
             gpu_id: int = -1, cpu_inference: Optional[str] = None) -> Dict[str, object]:
    if n_bootstrap < 1:
        raise UserError("--bootstrap must be at least 1 (1000 is usual for 95% intervals).")
    require("matplotlib", "plots need")
    # Bad logs or comparison files fail before the model runs; the other run is read before
    # anything is written, so it may even live in the output directory.
    points = None
    if training_log is not None:
        from .training_log import read_training_log

        points = read_training_log(training_log)
    other = compare_mod.load_other(compare) if compare is not None else None
    nlp = load_pipeline(model, gpu_id, cpu_inference)
    gold_docs, reader = read_gold(data, nlp)
    unavailable = raw_text_unavailable(gold_docs)
    runs = {}
    scored: List[Tuple[float, bool]] = []
    for tokenization in ([GOLD_TOKENS] if unavailable else [RAW_TEXT, GOLD_TOKENS]):
        predicted = predict(nlp, gold_docs, tokenization)
        if not scored:  # the headline's: raw text where there is one
            scored = scored_entities(gold_docs, predicted)
        units, crossing, uncut = [], 0, 0
        for gold, pred in zip(gold_docs, predicted):
            doc_units, n_uncut, n_crossing = to_sentences(gold, pred, tokenization)
            units.extend(doc_units)
            uncut, crossing = uncut + n_uncut, crossing + n_crossing
        runs[tokenization] = (units, crossing)
    headline = GOLD_TOKENS if unavailable else RAW_TEXT
    n_gold = sum(len(doc.ents) for doc in gold_docs)
    misaligned, split = (None, None) if unavailable else tokenizer_against_gold(nlp, gold_docs)
    notes = {"sentence_boundaries_merged": uncut, "raw_text_unavailable": unavailable,
             "misaligned_gold_entities": misaligned, "gold_tokens_split": split,
             "calibration": calibration.calibration_report(scored, n_gold) if scored else None}
    return write_evaluation(runs[headline][0], output, model=str(model), data=str(data), n_docs=len(gold_docs),
                            tokenization=headline, gold_tokens=runs[GOLD_TOKENS][0] if headline == RAW_TEXT else None,
                            crossing={k: v[1] for k, v in runs.items()}, notes=notes, reader=reader,
                            training_points=points, other=other, seed=seed, n_bootstrap=n_bootstrap)


def score_units(sentences: List[EvalSentence], seed: int, n_bootstrap: int
                ) -> Tuple[Dict[str, object], Dict[str, object], List[Dict[str, object]]]:
    """Every score of one tokenization: (metrics, per-sentence counts for --compare, error records)."""
    metrics: Dict[str, object] = dict(scorer.score(sentences))
    per_sentence = [scorer.sentence_counts(s) for s in sentences]
    labels = list(metrics["ents_per_type"])
    metrics["bootstrap"] = bootstrap.f1_intervals(per_sentence, labels, n=n_bootstrap, seed=seed)
    found = analysis.analyse(sentences)
    errors = found.pop("errors")
    metrics.update(found)
    counts = {"fingerprint": scorer.fingerprint((s.tokens, s.gold) for s in sentences), "labels": labels, "sentences": per_sentence}
    return metrics, counts, errors


def write_evaluation(
    sentences: List[EvalSentence], output: Path, *, model: str, data: str, n_docs: int,
    tokenization: str = GOLD_TOKENS, gold_tokens: Optional[List[EvalSentence]] = None,
    crossing: Optional[Dict[str, int]] = None, notes: Optional[Dict[str, object]] = None,
    reader: Optional[Dict[str, object]] = None,
    training_points: Optional[List[Dict[str, object]]] = None,
    other: Optional[Tuple[Dict[str, object], Optional[Dict[str, object]]]] = None,
    seed: int = 0, n_bootstrap: int = 1000,
) -> Dict[str, object]:
    """Score and write metrics.json, sentence_counts.json, errors.jsonl, report.md and PNGs.

    sentences: the headline units, scored on `tokenization`; gold_tokens: the same units on gold
    tokens when the headline is the raw-text score. metrics.json holds the headline at its top
    level (so tools reading `ents_f` read what production gets) and the gold-token scores under
    "gold_tokens". other: (metrics, per-sentence counts or None) of a run to compare with.
    """
    from . import plots

    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    crossing = crossing or {}
    metrics: Dict[str, object] = {"model": model, "data": data, "n_docs": n_docs, "tokenization": tokenization,
                                  **{k: v for k, v in (notes or {}).items() if v is not None}}
    if reader is not None:
        metrics["reader"] = reader
    scores, counts, errors = score_units(sentences, seed, n_bootstrap)
    metrics.update(scores, predictions_crossing_units=crossing.get(tokenization, 0))
    counts["tokenization"] = tokenization
    blocks = {tokenization: (metrics, counts)}
    if gold_tokens is not None:
        gold_scores, gold_counts, gold_errors = score_units(gold_tokens, seed, n_bootstrap)
        gold_scores["predictions_crossing_units"] = crossing.get(GOLD_TOKENS, 0)
        metrics[GOLD_TOKENS] = gold_scores
        counts[GOLD_TOKENS] = gold_counts
        blocks[GOLD_TOKENS] = (gold_scores, gold_counts)
        write_jsonl(output / "errors_gold_tokens.jsonl", gold_errors)
    write_json(output / compare_mod.COUNTS_FILE, counts, indent=None)
    write_jsonl(output / "errors.jsonl", errors)
    comparison = compare_mod.compare_runs(blocks, *other) if other is not None else None
    if comparison:
        write_json(output / "comparison.json", comparison)
    plot_files = {"per_type_f1": plots.plot_per_type_f1(metrics, output / "per_type_f1.png").name,
                  "confusion": plots.plot_confusion(metrics["confusion"], output / "confusion.png").name}
    if training_points:
        plot_files["training_curve"] = plots.plot_training_curve(training_points, output / "training_curve.png").name
    if metrics.get("calibration"):
        plot_files["reliability"] = plots.plot_reliability(metrics["calibration"], output / "reliability.png").name
    metrics["plots"] = plot_files
    write_json(output / "metrics.json", metrics)
    (output / "report.md").write_text(report.render_markdown(metrics, plot_files, comparison), encoding="utf8")
    report.print_scores(metrics)
    if comparison:
        report.print_comparison(comparison)
    if metrics.get("sentence_boundaries_merged"):
        msg.warn(f"{metrics['sentence_boundaries_merged']} gold sentence boundaries are crossed by a gold entity; "
                 "the sentences on both sides count as one.")
    if metrics.get("raw_text_unavailable"):
        msg.warn(f"Only the gold-token score exists: {metrics['raw_text_unavailable']}.")
    if unlike := report.gold_tokens_unlike_training(metrics):
        msg.warn(unlike)
    msg.good(f"Wrote metrics.json, report.md, errors.jsonl and plots to {output}")
    return metrics


MIN_CALIBRATION_ENTITIES = 20


def calibrate(model: str, data: Path, output: Optional[Path] = None, gpu_id: int = -1) -> Dict[str, object]:
    """Fit the temperature of the pipeline's entity scores on DATA (dev) and keep it in its config.

    The scores are taken on raw text, as production sees them, with the temperature at 1; the
    fitted one is written to config.cfg of MODEL (or of a copy in OUTPUT), the setting
    `components.<scoring component>.temperature`, so `spacy.load` applies it.
    """
    import shutil

    from spacy.util import load_config

    nlp = load_pipeline(model, gpu_id)
    name = scoring_pipe(nlp)
    if name is None:
        raise UserError(f"{model} gives its entities no scores: its pipeline {nlp.pipe_names} has no "
                        "bert_ner_confidence or bert_token_ner. Train with the current configs.")
    if not Path(model, "config.cfg").is_file():
        raise UserError(f"calibrate writes the temperature into a pipeline folder's config.cfg; {model} is not a "
                        "folder. Pass the trained model (e.g. training/model-best) and package it afterwards.")
    gold_docs, _ = read_gold(data, nlp)
    if raw_text_unavailable(gold_docs):
        raise UserError(f"{data}: {raw_text_unavailable(gold_docs)}; calibrate needs the raw text production sees.")
    nlp.get_pipe(name).temperature = 1.0
    scored = scored_entities(gold_docs, predict(nlp, gold_docs, RAW_TEXT))
    if len(scored) < MIN_CALIBRATION_ENTITIES:
        msg.warn(f"{data}: only {len(scored)} predicted entities, too few to fit a temperature; it stays 1.")
    temperature = calibration.fit_temperature(scored) if len(scored) >= MIN_CALIBRATION_ENTITIES else 1.0
    after = [(calibrated(score, temperature), right) for score, right in scored]
    result = {"component": name, "temperature": temperature, "n_scored": len(scored),
              "ece_before": calibration.expected_calibration_error(scored),
              "ece_after": calibration.expected_calibration_error(after)}
    target = Path(model)
    if output is not None:
        if Path(output).exists():
            raise UserError(f"--output {output} exists; give a new folder for the calibrated copy.")
        shutil.copytree(model, output)
        target = Path(output)
    config = load_config(target / "config.cfg", interpolate=False)
    config["components"][name]["temperature"] = temperature
    config.to_disk(target / "config.cfg")
    write_json(target / "calibration.json", result)
    msg.good(f"Temperature {temperature:.3f} for {name} ({len(scored)} entities of {data}): expected calibration "
             f"error {result['ece_before']:.3f} -> {result['ece_after']:.3f}; written to {target / 'config.cfg'}")
    return result
