"""Entity scores computed from spans alone, so they can be tested without a model.

A sentence is its tokens plus gold and predicted spans `(start, end, label)` in token
offsets (gold tokens) or character offsets (raw text), `end` exclusive as in spaCy. Strict scores count a prediction as correct only when
start, end and label all match a gold span; they equal seqeval's strict IOB2 scores
(`mode="strict", scheme=IOB2`), including its convention that an undefined ratio (no
predictions, no gold) is 0. Partial-match scores follow SemEval-2013 task 9.1 as
nervaluate 1.2 defines and counts them (schemas strict, exact, partial, ent_type), overall and
per type; tests assert equality with nervaluate, which is not needed at run time. They treat
spans as non-empty half-open intervals of any unit. Where no two gold and no two predicted
spans overlap (as in spaCy's `doc.ents`), the strict schema equals the strict scores.
"""
import hashlib
import json
from bisect import bisect_right
from collections import Counter
from typing import Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple

from ..readers.schemes import LabeledSpan, encode_iob2 as iob2_tags

# What the pipeline ran on: the raw text with its own tokenizer (what production gets), or the
# gold tokens (what CoNLL/seqeval figures measure).
RAW_TEXT, GOLD_TOKENS = "raw_text", "gold_tokens"
TOKENIZATIONS = {RAW_TEXT: "raw text", GOLD_TOKENS: "gold tokens"}


def fingerprint(units: Iterable[Tuple[Sequence[str], Sequence[LabeledSpan]]]) -> str:
    """A digest of a corpus's tokens and gold spans, unit by unit: `evaluate --compare` pairs two
    runs' bootstrap only on the same test sentences, and `cv` resumes folds only on the same corpus."""
    digest = hashlib.sha1()
    for tokens, spans in units:
        digest.update(json.dumps([list(tokens), [list(span) for span in spans]]).encode("utf8"))
    return digest.hexdigest()


class EvalSentence(NamedTuple):
    """A unit of evaluation: its gold tokens, gold and predicted spans, and text.

    Spans are token offsets, or, when `token_chars` gives each token's (start, end) in `text`,
    character offsets into `text`: the raw-text score, where predictions come from the pipeline's
    own tokenization and need not fall on gold tokens.
    """

    tokens: List[str]
    gold: List[LabeledSpan]
    pred: List[LabeledSpan]
    text: str = ""
    token_chars: Optional[List[Tuple[int, int]]] = None


def token_tags(sent: EvalSentence, spans: Sequence[LabeledSpan]) -> List[str]:
    """The IOB2 tag of each gold token under `spans`; with character spans, a token only partly
    inside a span gets the tag "X", which equals no gold tag."""
    n = len(sent.tokens)
    if sent.token_chars is None:
        return iob2_tags(n, [(start, min(end, n), label) for start, end, label in spans])
    tags = ["O"] * n
    starts = [start for start, _ in sent.token_chars]
    for start, end, label in spans:
        for i in range(max(0, bisect_right(starts, start) - 1), n):
            t_start, t_end = sent.token_chars[i]
            if t_start >= end:
                break
            if t_end <= start:
                continue
            inside = start <= t_start and t_end <= end
            tags[i] = ("B-" if t_start == start else "I-") + label if inside else "X"
    return tags


def prf(tp: int, n_pred: int, n_gold: int) -> Dict[str, float]:
    """Precision, recall and F1 with seqeval's arithmetic (0 where undefined)."""
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"p": p, "r": r, "f": f}


def sentence_counts(sent: EvalSentence) -> Dict[str, List[int]]:
    """Per-label [true positives, false positives, false negatives] of one sentence."""
    gold, pred = Counter(sent.gold), Counter(sent.pred)
    counts: Dict[str, List[int]] = {}
    for span in set(gold) | set(pred):
        tp = min(gold[span], pred[span])
        c = counts.setdefault(span[2], [0, 0, 0])
        c[0] += tp
        c[1] += pred[span] - tp
        c[2] += gold[span] - tp
    return counts


def sum_counts(per_sentence: Iterable[Dict[str, List[int]]]) -> Dict[str, List[int]]:
    total: Dict[str, List[int]] = {}
    for counts in per_sentence:
        for label, (tp, fp, fn) in counts.items():
            c = total.setdefault(label, [0, 0, 0])
            c[0] += tp
            c[1] += fp
            c[2] += fn
    return dict(sorted(total.items()))


def strict_scores(counts: Dict[str, List[int]]) -> Dict[str, object]:
    """spaCy-named micro scores, per-type scores and macro averages from summed counts.

    Labels are those seen in gold or predictions, as in seqeval; the macro average is the
    unweighted mean of the per-type values.
    """
    per_type = {label: prf(tp, tp + fp, tp + fn) for label, (tp, fp, fn) in counts.items()}
    tp = sum(c[0] for c in counts.values())
    n_pred = tp + sum(c[1] for c in counts.values())
    n_gold = tp + sum(c[2] for c in counts.values())
    micro = prf(tp, n_pred, n_gold)
    macro = {k: (sum(s[k] for s in per_type.values()) / len(per_type) if per_type else 0.0)
             for k in ("p", "r", "f")}
    return {
        "ents_p": micro["p"], "ents_r": micro["r"], "ents_f": micro["f"],
        "ents_per_type": per_type,
        "ents_macro_p": macro["p"], "ents_macro_r": macro["r"], "ents_macro_f": macro["f"],
        "ents_counts": {
            "tp": tp, "fp": n_pred - tp, "fn": n_gold - tp, "gold": n_gold, "pred": n_pred,
            "per_type": {label: {"tp": c[0], "fp": c[1], "fn": c[2]} for label, c in counts.items()},
        },
    }


def token_accuracy(sentences: Sequence[EvalSentence]) -> float:
    """Share of tokens whose predicted IOB2 tag equals the gold tag, O included."""
    right = total = 0
    for sent in sentences:
        gold, pred = token_tags(sent, sent.gold), token_tags(sent, sent.pred)
        right += sum(g == p for g, p in zip(gold, pred))
        total += len(sent.tokens)
    return right / total if total else 0.0


# nervaluate's default `min_overlap_percentage`: a prediction overlaps a gold span when the
# part they share is at least this share of the gold span (with character offsets, one shared
# character is too little for a gold span over 100 characters).
MIN_OVERLAP_PERCENT = 1.0
# When a prediction is right under a schema (COR); overlapping otherwise it is INC (PAR for partial).
SEMEVAL_CORRECT = {
    "strict": lambda gold, pred: gold == pred,
    "exact": lambda gold, pred: gold[:2] == pred[:2],
    "partial": lambda gold, pred: gold[:2] == pred[:2],
    "ent_type": lambda gold, pred: gold[2] == pred[2],
}
SEMEVAL_SCHEMAS = tuple(SEMEVAL_CORRECT)


def semeval_overlaps(gold: LabeledSpan, pred: LabeledSpan) -> bool:
    """nervaluate's overlap test, on half-open intervals (nervaluate's are closed)."""
    shared = min(gold[1], pred[1]) - max(gold[0], pred[0])
    return shared > 0 and shared / (gold[1] - gold[0]) * 100.0 >= MIN_OVERLAP_PERCENT


def semeval_counts(gold: Sequence[LabeledSpan], pred: Sequence[LabeledSpan]) -> Dict[str, Counter]:
    """COR/INC/PAR/MIS/SPU counts of one sentence per schema, as nervaluate 1.2 counts them.

    Predictions are taken in order, and each is matched with at most one overlapping gold
    span that no earlier prediction took: one it is right for under the schema (COR; for
    ent_type the one with the nearest boundaries, for the others the first), else the
    first overlapping one (INC, PAR for partial). A prediction matched with nothing is SPU,
    a gold span left unmatched MIS; so COR+INC+PAR+MIS is the number of gold spans and
    COR+INC+PAR+SPU the number of predictions.
    """
    counts = {}
    for schema, right in SEMEVAL_CORRECT.items():
        c: Counter = Counter({"COR": 0, "INC": 0, "PAR": 0, "MIS": 0, "SPU": 0})
        taken = set()
        for p in pred:
            overlapping = [i for i, g in enumerate(gold) if i not in taken and semeval_overlaps(g, p)]
            correct = [i for i in overlapping if right(gold[i], p)]
            if correct:
                taken.add(min(correct, key=lambda i: abs(gold[i][0] - p[0]) + abs(gold[i][1] - p[1])))
                c["COR"] += 1
            elif overlapping:
                taken.add(overlapping[0])
                c["PAR" if schema == "partial" else "INC"] += 1
            else:
                c["SPU"] += 1
        c["MIS"] = len(gold) - len(taken)
        counts[schema] = c
    return counts


def semeval_scores(sentences: Sequence[EvalSentence], label: Optional[str] = None) -> Dict[str, Dict[str, float]]:
    """SemEval-2013 scores: strict/exact count only COR; partial/ent_type give PAR half.

    With `label`, only gold and predicted spans of that type take part, as in nervaluate's
    per-type results: a prediction of the wrong type is MIS for the gold type and SPU for
    its own.
    """
    totals = {schema: Counter() for schema in SEMEVAL_SCHEMAS}
    for sent in sentences:
        gold, pred = sent.gold, sent.pred
        if label is not None:
            gold, pred = [s for s in gold if s[2] == label], [s for s in pred if s[2] == label]
        for schema, c in semeval_counts(gold, pred).items():
            totals[schema].update(c)
    result = {}
    for schema, c in totals.items():
        possible = c["COR"] + c["INC"] + c["PAR"] + c["MIS"]
        actual = c["COR"] + c["INC"] + c["PAR"] + c["SPU"]
        credit = c["COR"] + (0.5 * c["PAR"] if schema in ("partial", "ent_type") else 0)
        p = credit / actual if actual else 0.0
        r = credit / possible if possible else 0.0
        result[schema] = {
            **{k.lower(): c[k] for k in ("COR", "INC", "PAR", "MIS", "SPU")},
            "possible": possible, "actual": actual,
            "p": p, "r": r, "f": 2 * p * r / (p + r) if p + r else 0.0,
        }
    return result


def score(sentences: Sequence[EvalSentence]) -> Dict[str, object]:
    """All span-level scores of a corpus (without bootstrap intervals or error analysis)."""
    scores = strict_scores(sum_counts(sentence_counts(s) for s in sentences))
    scores["ents_token_acc"] = token_accuracy(sentences)
    scores["semeval"] = semeval_scores(sentences)
    scores["semeval_per_type"] = {label: semeval_scores(sentences, label) for label in scores["ents_per_type"]}
    scores["n_sentences"] = len(sentences)
    scores["n_tokens"] = sum(len(s.tokens) for s in sentences)
    return scores
