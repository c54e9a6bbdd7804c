"""Error analysis: which gold and predicted spans went wrong, how, and between which types.

Spans are aligned per sentence: exact matches first; then every remaining gold/predicted
pair that overlaps is one error, classified by type and boundary; a remaining gold span
that overlaps no remaining prediction is missed, a remaining prediction that overlaps no
remaining gold span is spurious. Every span takes part in at least one alignment; a
prediction that overlaps two gold spans makes two errors.
"""
from collections import Counter
from typing import Dict, Iterator, List, Optional, Sequence

from .scorer import Sentence, Span

ERROR_KINDS = ("wrong_type", "too_wide", "too_narrow", "overlap", "wrong_type_and_boundary",
               "missed", "spurious")
ERROR_DESCRIPTIONS = {
    "wrong_type": "right boundaries, wrong type",
    "too_wide": "right type, predicted span contains the gold span",
    "too_narrow": "right type, predicted span inside the gold span",
    "overlap": "right type, spans overlap otherwise",
    "wrong_type_and_boundary": "wrong type and wrong boundaries, spans overlap",
    "missed": "gold span overlapped by no prediction",
    "spurious": "prediction overlapping no gold span",
}
MISSED, SPURIOUS = "missed", "spurious"


def classify(gold: Span, pred: Span) -> str:
    (gs, ge, gl), (ps, pe, pl) = gold, pred
    if (gs, ge) == (ps, pe):
        return "wrong_type"
    if gl != pl:
        return "wrong_type_and_boundary"
    if ps <= gs and pe >= ge:
        return "too_wide"
    if ps >= gs and pe <= ge:
        return "too_narrow"
    return "overlap"


def align(sent: Sentence) -> Iterator[Dict[str, Optional[Span]]]:
    """Yield {"kind", "gold", "pred"} for every alignment of one sentence, correct ones included."""
    pred_left = list(sent.pred)
    gold_left = []
    for span in sent.gold:
        if span in pred_left:
            pred_left.remove(span)
            yield {"kind": "correct", "gold": span, "pred": span}
        else:
            gold_left.append(span)
    paired_pred = set()
    for g in gold_left:
        overlapping = [i for i, p in enumerate(pred_left) if p[0] < g[1] and g[0] < p[1]]
        for i in overlapping:
            paired_pred.add(i)
            yield {"kind": classify(g, pred_left[i]), "gold": g, "pred": pred_left[i]}
        if not overlapping:
            yield {"kind": MISSED, "gold": g, "pred": None}
    for i, p in enumerate(pred_left):
        if i not in paired_pred:
            yield {"kind": SPURIOUS, "gold": None, "pred": p}


def span_record(sent: Sentence, span: Optional[Span]) -> Optional[Dict[str, object]]:
    if span is None:
        return None
    start, end, label = span
    return {"start": start, "end": end, "label": label, "text": " ".join(sent.tokens[start:end])}


def analyse(sentences: Sequence[Sentence], n_examples: int = 3) -> Dict[str, object]:
    """Confusion matrix, error counts with examples, and one record per error.

    The confusion matrix has gold types as rows plus a "spurious" row, predicted types as
    columns plus a "missed" column; cells count alignments, so the diagonal is correct spans
    plus same-type boundary errors.
    """
    confusion: Dict[str, Counter] = {}
    kinds: Counter = Counter()
    examples: Dict[str, List[Dict[str, object]]] = {k: [] for k in ERROR_KINDS}
    errors: List[Dict[str, object]] = []
    for i, sent in enumerate(sentences):
        for a in align(sent):
            row = a["gold"][2] if a["gold"] else SPURIOUS
            col = a["pred"][2] if a["pred"] else MISSED
            confusion.setdefault(row, Counter())[col] += 1
            if a["kind"] == "correct":
                continue
            kinds[a["kind"]] += 1
            record = {"sentence": i, "kind": a["kind"], "text": sent.text or " ".join(sent.tokens),
                      "gold": span_record(sent, a["gold"]), "pred": span_record(sent, a["pred"])}
            errors.append(record)
            if len(examples[a["kind"]]) < n_examples:
                examples[a["kind"]].append(record)
    labels = sorted({k for k in confusion if k != SPURIOUS} | {c for r in confusion.values() for c in r if c != MISSED})
    rows, cols = labels + [SPURIOUS], labels + [MISSED]
    return {
        "confusion": {"rows": rows, "columns": cols,
                      "matrix": [[confusion.get(r, Counter())[c] for c in cols] for r in rows]},
        "error_counts": {k: kinds[k] for k in ERROR_KINDS},
        "error_examples": {k: v for k, v in examples.items() if v},
        "errors": errors,
    }
