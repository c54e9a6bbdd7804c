"""`audit`: likely annotation errors, found by models that never saw the text they judge.

A cross-validation (`cv`, so `--engine ray` spreads the folds) trains K models; each predicts its
held-out fold, on the annotation's own tokens, with the probability of every span it considered
(`held_out.jsonl` in the fold's directory, written before the fold counts as finished, so a rerun
skips finished folds). The disagreements between those predictions and the annotation are ranked
by `evaluation.label_issues` and written to DIR: `issues.jsonl` (one row per disagreement, best
first), `report.md` (counts per kind and label, the top rows in context) and the rows' sentences as
tasks of Label Studio (`label_studio.json`, with `label_studio_config.xml`) and Prodigy
(`prodigy.jsonl`), whose exports `convert` reads back.

Where the probabilities come from: a transition-based `ner` head's beam (`bert_ner_confidence`:
every span in the beam with the mass of the parses holding it); a `bert_token_ner` head's
per-token softmax (`span_probability` of each predicted span and of each annotated span under
every label).
"""
import json
from collections import defaultdict
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from spacy.tokens import Doc
from spacy.util import minibatch
from wasabi import msg

from ..components.confidence import scoring_pipe
from ..components.token_classifier import span_probability
from ..errors import UserError
from ..evaluation import label_issues
from ..evaluation.label_issues import Issue, Span
from ..jsonfiles import write_json, write_jsonl
from ..readers.annotation_tools import label_studio_config, label_studio_task, prodigy_task
from ..readers.docbin import read_docbin
from .cv import assign_folds, cross_validate
from .trials import RayTrials

HELD_OUT = "held_out.jsonl"
# Beam spans below this probability are left out of held_out.jsonl: they change no score by more.
MIN_SPAN_PROB = 1e-6
# The beam keeps every parse it holds (spaCy's default density prunes those far below the best):
# with pruning, an entity every kept parse shares scores exactly 1, and a ranking of such ties
# says nothing; without it the mass of the unlikely parses tells them apart.
AUDIT_BEAM_DENSITY = 0.0


def audit(config_path: Path, data: Path, output: Path, folds: int = 5, seed: int = 0, dev_share: float = 0.1,
          max_steps: Optional[int] = None, gpu_id: int = -1, overrides: Optional[Dict[str, Any]] = None,
          ray: Optional[RayTrials] = None, top: int = 20) -> Dict[str, Any]:
    """Cross-validate with held-out predictions, then rank and write the issues; returns the summary."""
    import spacy

    from ..evaluation.runner import read_gold
    from .runs import load_config

    cv_summary = cross_validate(config_path, data, output, folds, seed, dev_share, max_steps, gpu_id,
                                overrides=overrides, ray=ray, after_fold=predict_held_out)
    nlp = spacy.blank(load_config(config_path, dict(overrides or {}))["nlp"]["lang"])
    docs, _ = read_gold(data, nlp)
    assignment = assign_folds(len(docs), folds, seed)
    held: Dict[int, Tuple[int, Dict[str, Any]]] = {}
    for k in range(folds):
        index = [i for i, f in enumerate(assignment) if f == k]
        fold_dir = output / f"fold{k}"
        held_out = [json.loads(line) for line in (fold_dir / HELD_OUT).read_text(encoding="utf8").splitlines()]
        if len(held_out) != len(index):
            raise UserError(f"{fold_dir / HELD_OUT} has {len(held_out)} documents where fold {k} holds "
                            f"{len(index)}: delete {fold_dir} and rerun to predict it again.")
        held.update((doc_index, (k, record)) for doc_index, record in zip(index, held_out))
    records, counts = ranked_records(docs, held)
    labels = sorted({e.label_ for doc in docs for e in doc.ents} | {r["predicted"]["label"] for r in records
                                                                     if r["predicted"]})
    write_jsonl(output / "issues.jsonl", records)
    write_tool_files(output, records, docs, labels, data)
    (output / "report.md").write_text(report_md(records, counts, cv_summary, data, top), encoding="utf8")
    summary = {"issues": len(records), "per_kind": {kind: sum(c.values()) for kind, c in counts.items()},
               "counts": counts, "documents": len(docs), "folds": folds, "cv_ents_f": cv_summary["ents_f"]}
    write_json(output / "audit.json", summary)
    msg.table([[kind, n] for kind, n in summary["per_kind"].items()], header=["Kind", "Rows"], divider=True)
    msg.good(f"{len(records)} disagreements ranked in {output / 'issues.jsonl'}; overview in {output / 'report.md'}")
    return summary


def ranked_records(docs: List[Doc], held: Dict[int, Tuple[Optional[int], Dict[str, Any]]]
                   ) -> Tuple[List[Dict[str, Any]], Dict[str, Dict[str, int]]]:
    """The rows of issues.jsonl, best first, and their counts per kind and label, from the held-out
    predictions of documents (index -> (fold, held_out.jsonl record))."""
    rows: List[Tuple[Issue, Dict[str, Any]]] = []
    n_annotated = n_predicted = 0
    for doc_index in sorted(held):
        fold, record = held[doc_index]
        gold = [(e.start, e.end, e.label_) for e in docs[doc_index].ents]
        predicted = [tuple(e) for e in record["entities"]]
        probs = {(s, e, label): p for s, e, label, p in record["spans"]}
        n_annotated, n_predicted = n_annotated + len(gold), n_predicted + len(predicted)
        rows += [(issue, {"fold": fold, "document": doc_index})
                 for issue in label_issues.find_issues(gold, predicted, probs)]
    weights = label_issues.kind_weights([issue for issue, _ in rows], n_annotated, n_predicted)
    ranked = label_issues.rank(rows, weights)
    records = [issue_record(rank, score, issue, docs[where["document"]], where)
               for rank, (score, issue, where) in enumerate(ranked, 1)]
    return records, label_issues.count(issue for issue, _ in rows)


def predict_held_out(fold_dir: Path, gpu_id: int) -> None:
    """The fold's model-best on its test.spacy, on the annotation's tokens (so every annotated span
    can be compared): per document its entities with scores and the probabilities of the spans the
    model considered, one JSON line each in `fold_dir/held_out.jsonl`. Runs where the fold trained."""
    from ..inference.loading import load_pipeline

    nlp = load_pipeline(str(fold_dir / "model-best"), gpu_id)
    gold_docs = read_docbin(fold_dir / "test.spacy", nlp.vocab)
    name = scoring_pipe(nlp)
    if name is None:
        raise UserError("audit needs a pipeline that scores its entities: add bert_ner_confidence after a `ner` "
                        "component (configs/ner_trf.cfg) or use bert_token_ner (configs/tokcls_trf.cfg).")
    scorer = nlp.get_pipe(name)
    beam = nlp.get_pipe_meta(name).factory == "bert_ner_confidence"
    records = []
    # the transformer output stays on the docs until the spans are scored
    with nlp.select_pipes(disable=[n for n in ("doc_cleaner",) if n in nlp.pipe_names]):
        for batch in minibatch(gold_docs, 32):
            inputs = [Doc(nlp.vocab, words=[t.text for t in d], spaces=[bool(t.whitespace_) for t in d]) for d in batch]
            docs = list(nlp.pipe(inputs))
            if beam:
                by_doc = scorer.span_probabilities(docs, beam_density=AUDIT_BEAM_DENSITY)
            else:
                by_doc = [token_classifier_spans(scorer, doc, gold, probs) for doc, gold, (_, probs)
                          in zip(docs, batch, scorer.predict(docs))]
            for doc, spans in zip(docs, by_doc):
                # probabilities unrounded: near 1 the digits far down still order the rows
                entities = [[e.start, e.end, e.label_, min(1.0, spans.get((e.start, e.end, e.label_), 0.0))]
                            for e in doc.ents]
                records.append({"entities": entities, "spans": [[s, e, label, p] for (s, e, label), p
                                                                in spans.items() if p >= MIN_SPAN_PROB]})
                doc._.trf_data = None
    write_jsonl(fold_dir / (HELD_OUT + ".part"), records)
    (fold_dir / (HELD_OUT + ".part")).replace(fold_dir / HELD_OUT)


def token_classifier_spans(head, doc: Doc, gold: Doc, probs) -> Dict[Span, float]:
    """A token-classification head's probability of each predicted span and of each annotated
    span under every label (the spans `find_issues` looks up)."""
    tags = head.tags
    wanted = {(e.start, e.end, e.label_) for e in doc.ents}
    wanted |= {(e.start, e.end, label) for e in gold.ents for label in head.labels}
    return {(s, e, label): span_probability(probs, tags, s, e, label) for s, e, label in wanted}


def sentence_of(doc: Doc, start: int, end: int) -> Tuple[int, int, int]:
    """(index, first token, end token) of the sentence that holds token `start` (the whole doc when
    it has no sentence boundaries); a place that crosses a sentence end is shown up to its end."""
    if not doc.has_annotation("SENT_START"):
        return 0, 0, len(doc)
    for i, sent in enumerate(doc.sents):
        if sent.start <= start < sent.end:
            return i, sent.start, max(sent.end, end)
    return 0, 0, len(doc)


def char_span(doc: Doc, span, offset: int) -> Optional[Dict[str, Any]]:
    if span is None:
        return None
    out = {"start": doc[span[0]].idx - offset, "end": doc[span[1] - 1].idx + len(doc[span[1] - 1]) - offset,
           "text": doc[span[0]:span[1]].text, "label": span[2]}
    if len(span) > 3:
        out["score"] = round(span[3], 4)
    return out


def issue_record(rank: int, score: float, issue: Issue, doc: Doc, where: Dict[str, Any]) -> Dict[str, Any]:
    """One row of issues.jsonl: `score` ranks (the model's belief, `model_score`, weighed by kind);
    offsets are characters of the document's text."""
    sent_index, sent_start, sent_end = sentence_of(doc, issue.start, issue.end)
    return {"rank": rank, "kind": issue.kind, "score": round(score, 4), "model_score": round(issue.score, 4),
            "fold": where["fold"],
            "document": where["document"], "sentence": sent_index,
            "sentence_start": doc[sent_start].idx, "sentence_text": doc[sent_start:sent_end].text,
            "start": doc[issue.start].idx, "end": doc[issue.end - 1].idx + len(doc[issue.end - 1]),
            "annotated": char_span(doc, issue.annotated, 0), "predicted": char_span(doc, issue.predicted, 0)}


def write_tool_files(output: Path, records: List[Dict[str, Any]], docs: List[Doc], labels: List[str],
                     data: Path) -> None:
    """One review task per sentence with rows, best row first: the sentence with its annotated
    entities as they are (what the reviewer corrects, and what comes back through `convert`), the
    rows in the task's data (Label Studio) or meta (Prodigy)."""
    by_sentence: Dict[Tuple[int, int], List[Dict[str, Any]]] = defaultdict(list)
    for record in records:
        by_sentence[(record["document"], record["sentence"])].append(record)
    ls_tasks, prodigy_tasks = [], []
    for (doc_index, sent_index), rows in by_sentence.items():
        doc, first = docs[doc_index], rows[0]
        offset, text = first["sentence_start"], first["sentence_text"]
        end = offset + len(text)
        spans = [(e.start_char - offset, e.end_char - offset, e.label_, None) for e in doc.ents
                 if e.start_char >= offset and e.end_char <= end]
        issues = [{"rank": r["rank"], "kind": r["kind"], "score": r["score"],
                   "annotated": described(r["annotated"]), "predicted": described(r["predicted"])} for r in rows]
        info = {"document": doc_index, "sentence": sent_index, "top_score": first["score"], "issues": issues}
        ls_tasks.append(label_studio_task(text, spans, model_version=f"annotation of {data.name}", data=info))
        sentence = doc.char_span(offset, end, alignment_mode="expand").as_doc()
        prodigy_tasks.append(prodigy_task(text, spans, meta=info, doc=sentence))
    write_json(output / "label_studio.json", ls_tasks)
    (output / "label_studio_config.xml").write_text(label_studio_config(labels), encoding="utf8")
    write_jsonl(output / "prodigy.jsonl", prodigy_tasks)


def described(span: Optional[Dict[str, Any]]) -> Optional[str]:
    """'Aarhus (LOC, 0.97)': a span as a reviewer reads it in the task."""
    if span is None:
        return None
    return f"{span['text']} ({span['label']}" + (f", {span['score']:.2f})" if "score" in span else ")")


def in_context(record: Dict[str, Any], width: int = 60) -> str:
    """The sentence around the place in question, the place between ⟦ ⟧."""
    text, offset = record["sentence_text"], record["sentence_start"]
    start, end = record["start"] - offset, min(record["end"] - offset, len(text))
    left, right = text[max(0, start - width):start], text[end:end + width]
    before, after = ("…" if start > width else ""), ("…" if end + width < len(text) else "")
    return f"{before}{left}⟦{text[start:end]}⟧{right}{after}"


def report_md(records: List[Dict[str, Any]], counts: Dict[str, Dict[str, int]], cv_summary: Dict[str, Any],
              data: Path, top: int) -> str:
    labels = sorted({label for per_label in counts.values() for label in per_label})
    f1 = cv_summary["ents_f"]
    lines = [f"# Audit of {data}", "",
             f"{len(records)} places where a model trained without the text disagrees with its annotation "
             f"({cv_summary['folds']} folds; held-out F1 {100 * f1['mean']:.1f} ± {100 * f1['std']:.1f}). "
             "Rows are ranked by the model's belief that the annotation is wrong, weighed by how rarely "
             "the model disagrees that way (issues.jsonl); "
             "review them in Label Studio (label_studio.json) or Prodigy (prodigy.jsonl).", "",
             "## Rows per kind and label", "",
             "| kind | " + " | ".join(labels) + " | all |", "|---|" + "---:|" * (len(labels) + 1)]
    for kind, per_label in counts.items():
        lines.append(f"| {kind} | " + " | ".join(str(per_label.get(label, 0)) for label in labels)
                     + f" | {sum(per_label.values())} |")
    lines += ["", f"## Top {min(top, len(records))} rows", "",
              "| rank | score | kind | annotated | predicted | in context | doc/sent |",
              "|---:|---:|---|---|---|---|---|"]
    for record in records[:top]:
        cells = [record["rank"], f"{record['score']:.3f}", record["kind"], described(record["annotated"]) or "–",
                 described(record["predicted"]) or "–", in_context(record).replace("|", "\\|"),
                 f"{record['document']}/{record['sentence']}"]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"
