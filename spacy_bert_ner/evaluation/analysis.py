"""Error analysis: which gold and predicted spans went wrong, how, and between which types.

Gold and predicted spans of a sentence are paired one to one, so that each gold span and
each prediction is explained exactly once. Pairing rule: candidate pairs are gold/predicted
spans that share part of their interval; they are taken best first (the longer shared part
first; at equal length identical boundaries, then the same type, then the earlier gold span,
then the earlier prediction) and a pair is kept when neither span is paired yet. Identical
spans always pair (no other pair of either shares more), so the correct pairs are the strict
true positives. A kept pair is correct or one error classified by type and boundaries.
A gold span left unpaired is `missed` when no prediction overlaps it and `merged` when its
overlapping predictions are paired with other gold spans (two gold spans predicted as one);
a prediction left unpaired is `spurious` when it overlaps no gold span and `split` when the
gold spans it overlaps are paired with other predictions (one gold span predicted in pieces).

The confusion matrix counts the same pairing: gold types as rows plus a "spurious" row for
unpaired predictions, predicted types as columns plus a "missed" column for unpaired gold
spans. Row sums are the gold counts per type, column sums the predicted counts.
"""
from collections import Counter
from typing import Dict, Iterator, List, Optional, Sequence

from .scorer import EvalSentence, LabeledSpan

ERROR_KINDS = ("wrong_type", "too_wide", "too_narrow", "overlap", "wrong_type_and_boundary",
               "merged", "split", "missed", "spurious")
ERROR_DESCRIPTIONS = {
    "wrong_type": "right boundaries, wrong type",
    "too_wide": "right type, predicted span contains the gold span",
    "too_narrow": "right type, predicted span inside the gold span",
    "overlap": "right type, spans overlap otherwise",
    "wrong_type_and_boundary": "wrong type and wrong boundaries, spans overlap",
    "merged": "gold span whose overlapping predictions are paired with other gold spans",
    "split": "prediction whose overlapping gold spans are paired with other predictions",
    "missed": "gold span overlapped by no prediction",
    "spurious": "prediction overlapping no gold span",
}
MISSED, SPURIOUS = "missed", "spurious"


def shared(a: LabeledSpan, b: LabeledSpan) -> int:
    """Length of the part two half-open intervals share (0 or less: they do not overlap)."""
    return min(a[1], b[1]) - max(a[0], b[0])


def classify(gold: LabeledSpan, pred: LabeledSpan) -> str:
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


def pair(gold: Sequence[LabeledSpan], pred: Sequence[LabeledSpan]) -> Dict[int, int]:
    """Gold index -> prediction index of the one-to-one pairing described above."""
    candidates = sorted((-shared(g, p), g[:2] != p[:2], g[2] != p[2], i, j)
                        for i, g in enumerate(gold) for j, p in enumerate(pred) if shared(g, p) > 0)
    pairs: Dict[int, int] = {}
    paired_pred = set()
    for *_, i, j in candidates:
        if i not in pairs and j not in paired_pred:
            pairs[i] = j
            paired_pred.add(j)
    return pairs


def align(sent: EvalSentence) -> Iterator[Dict[str, object]]:
    """Yield {"kind", "gold", "pred"} for each gold span in order, then each unpaired prediction.

    Correct pairs are included; an unpaired span also carries "overlapping", the spans of the
    other side that overlap it (all paired elsewhere; empty when missed or spurious).
    """
    pairs = pair(sent.gold, sent.pred)
    for i, g in enumerate(sent.gold):
        if i in pairs:
            p = sent.pred[pairs[i]]
            yield {"kind": "correct" if g == p else classify(g, p), "gold": g, "pred": p}
            continue
        overlapping = [p for p in sent.pred if shared(g, p) > 0]
        yield {"kind": "merged" if overlapping else MISSED, "gold": g, "pred": None, "overlapping": overlapping}
    paired = set(pairs.values())
    for j, p in enumerate(sent.pred):
        if j not in paired:
            overlapping = [g for g in sent.gold if shared(g, p) > 0]
            yield {"kind": "split" if overlapping else SPURIOUS, "gold": None, "pred": p, "overlapping": overlapping}


def span_record(sent: EvalSentence, span: Optional[LabeledSpan]) -> Optional[Dict[str, object]]:
    if span is None:
        return None
    start, end, label = span
    text = sent.text[start:end] if sent.token_chars is not None else " ".join(sent.tokens[start:end])
    return {"start": start, "end": end, "label": label, "text": text}


def analyse(sentences: Sequence[EvalSentence], n_examples: int = 3) -> Dict[str, object]:
    """Confusion matrix, error counts with examples, and one record per error.

    Cells count the pairing of the module docstring, so the diagonal is correct spans plus
    same-type boundary errors, and the matrix adds up to the gold and predicted counts. Each
    gold span that is not predicted exactly and each wrong prediction is in exactly one error
    record; merged and split records also list the "overlapping" spans paired elsewhere.
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
            if a.get("overlapping"):
                record["overlapping"] = [span_record(sent, s) for s in a["overlapping"]]
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
