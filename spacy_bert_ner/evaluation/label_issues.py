"""Where a model and the annotation disagree, as likely annotation errors ranked by the model's belief.

Pure functions on token spans: the annotated (gold) entities of a text, the entities the model
predicted (with their scores) and the model's probability of any span, as a mapping
(start, end, label) -> probability where a span not in it has (about) none. `audit` fills these
from models that never saw the text (the held-out fold of a cross-validation), so a confident
disagreement points at the annotation as often as at the model.

The kinds of disagreement, each with the score it is ranked by (all in 0..1, higher = more
likely an annotation error):

- `missing`: the model predicts an entity that overlaps no annotated one. Score: the model's
  probability of its entity.
- `spurious`: an annotated entity that no predicted entity overlaps. Score: the probability that
  no entity at all covers any of its tokens, 1 - (sum of the probabilities of the spans that
  overlap it), cut to 0..1.
- `wrong_type`: the model predicts the annotated span with another label. Score: the model's
  probability of its label times 1 - that of the annotated one.
- `wrong_boundary`: the model predicts an overlapping entity with other edges. Score: as for
  `wrong_type` (a predicted span overlapping several annotated ones is one row per annotated one).

Agreement (a predicted entity equal to an annotated one) is never a row, whatever its score.

Across kinds the scores are not comparable as they are: a model makes some disagreements on its
own far more often than others (one that misses many entities gives many confident `spurious`
rows that are its error, not the annotation's). So the ranking weighs each kind by how rare it is
(`kind_weights`): the rate of the rarest kind over this kind's rate, a rate being rows per chance
(annotated entities; predicted ones for `missing`). It is confident learning's idea of a threshold
per class set by the model's own behaviour on the data, with the same share of annotation errors
assumed behind every kind.
"""
from dataclasses import dataclass
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, TypeVar

import numpy

Span = Tuple[int, int, str]  # token start, token end (exclusive), label
ScoredSpan = Tuple[int, int, str, float]  # ... and the model's score of it
T = TypeVar("T")

MISSING = "missing"
SPURIOUS = "spurious"
WRONG_TYPE = "wrong_type"
WRONG_BOUNDARY = "wrong_boundary"
KINDS = (MISSING, SPURIOUS, WRONG_TYPE, WRONG_BOUNDARY)


@dataclass(frozen=True)
class Issue:
    kind: str
    score: float
    annotated: Optional[Span]  # None for `missing`
    predicted: Optional[ScoredSpan]  # None for `spurious`

    @property
    def start(self) -> int:
        """First token of the place in question (the annotated and predicted spans together)."""
        return min(s[0] for s in (self.annotated, self.predicted) if s is not None)

    @property
    def end(self) -> int:
        return max(s[1] for s in (self.annotated, self.predicted) if s is not None)

    @property
    def label(self) -> str:
        """The label the row is counted under: the annotated one, or the predicted one if none."""
        return self.annotated[2] if self.annotated is not None else self.predicted[2]


def overlaps(a: Tuple[int, int], b: Tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def find_issues(gold: Sequence[Span], predicted: Sequence[ScoredSpan],
                span_probs: Mapping[Span, float]) -> List[Issue]:
    """The disagreements of one text (see the module for the kinds and scores), in text order."""
    issues: List[Issue] = []
    covered = set()
    for g in gold:
        p_gold = span_probs.get(g, 0.0)
        near = [p for p in predicted if overlaps(p, g)]
        covered.update(near)
        if any(tuple(p[:3]) == tuple(g) for p in near):
            continue
        if not near:
            mass = sum(prob for span, prob in span_probs.items() if overlaps(span, g))
            issues.append(Issue(SPURIOUS, clip(1.0 - mass), tuple(g), None))
            continue
        for p in near:
            kind = WRONG_TYPE if (p[0], p[1]) == (g[0], g[1]) else WRONG_BOUNDARY
            issues.append(Issue(kind, clip(p[3] * (1.0 - p_gold)), tuple(g), tuple(p)))
    issues += [Issue(MISSING, clip(p[3]), None, tuple(p)) for p in predicted if p not in covered]
    return sorted(issues, key=lambda issue: (issue.start, issue.end))


def clip(score: float) -> float:
    return min(1.0, max(0.0, float(score)))


def kind_weights(issues: Sequence[Issue], n_annotated: int, n_predicted: int) -> Dict[str, float]:
    """Per kind, the rate of the rarest kind over its own (1 for the rarest, and for a kind without
    rows); a rate is the kind's rows per chance: per annotated entity, per predicted one for `missing`."""
    rows = {kind: 0 for kind in KINDS}
    for issue in issues:
        rows[issue.kind] += 1
    rates = {kind: n / (n_predicted if kind == MISSING else n_annotated) for kind, n in rows.items() if n}
    if not rates:
        return {kind: 1.0 for kind in KINDS}
    rarest = min(rates.values())
    return {kind: rarest / rates[kind] if kind in rates else 1.0 for kind in KINDS}


def rank(rows: Iterable[Tuple[Issue, T]], weights: Optional[Mapping[str, float]] = None
         ) -> List[Tuple[float, Issue, T]]:
    """(ranking score, issue, context) of the issues of many texts, highest first: the issue's score
    times its kind's weight (`kind_weights`; none: 1). Equal scores keep their order, so the ranking
    is reproducible."""
    scored = [(issue.score * (weights or {}).get(issue.kind, 1.0), issue, where) for issue, where in rows]
    return sorted(scored, key=lambda row: -row[0])


def token_marginals(n_tokens: int, span_probs: Mapping[Span, float], labels: Sequence[str]) -> numpy.ndarray:
    """Per token, the probability of O and of each label (columns: O, then `labels`): the mass of
    the spans that cover it, from span probabilities such as a beam's. Where the spans' mass on a
    token passes 1 (overlapping spans of different parses) it is scaled down to 1."""
    column: Dict[str, int] = {label: i + 1 for i, label in enumerate(labels)}
    probs = numpy.zeros((n_tokens, len(labels) + 1))
    for (start, end, label), p in span_probs.items():
        if label in column:
            probs[start:end, column[label]] += p
    inside = probs[:, 1:].sum(axis=1)
    over = inside > 1.0
    probs[over, 1:] /= inside[over, None]
    probs[:, 0] = 1.0 - probs[:, 1:].sum(axis=1)
    return numpy.clip(probs, 0.0, 1.0)


def count(issues: Iterable[Issue]) -> Dict[str, Dict[str, int]]:
    """Rows per kind and label: {kind: {label: n}}."""
    out: Dict[str, Dict[str, int]] = {kind: {} for kind in KINDS}
    for issue in issues:
        out[issue.kind][issue.label] = out[issue.kind].get(issue.label, 0) + 1
    return out
