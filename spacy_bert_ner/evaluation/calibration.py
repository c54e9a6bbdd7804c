"""How far the entities' confidence scores can be trusted, and a temperature that makes them closer.

A score is calibrated when, of the entities scored about 0.8, about 80% are right (a prediction is
right when its span and type match a gold entity exactly, the strict criterion). Measured by the
expected calibration error over equal-width bins, a reliability table (for the plot), and
precision and recall of the entities kept at thresholds. `fit_temperature` finds the T of
`components.confidence.calibrated` that minimises the log loss on dev: the negative
log-likelihood of sigmoid(a * logit(score)), a = 1 / T, is convex in a, so a ternary search finds
it.
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple

N_BINS = 10
THRESHOLDS = (0.5, 0.7, 0.9)
EPSILON = 1e-6


def _logit(p: float) -> float:
    p = min(max(p, EPSILON), 1.0 - EPSILON)
    return math.log(p / (1.0 - p))


def reliability(scored: Sequence[Tuple[float, bool]], n_bins: int = N_BINS) -> List[Dict[str, float]]:
    """Per equal-width score bin: its range, count, mean score and share of right predictions."""
    bins: List[List[Tuple[float, bool]]] = [[] for _ in range(n_bins)]
    for score, right in scored:
        bins[min(int(score * n_bins), n_bins - 1)].append((score, right))
    return [{"low": i / n_bins, "high": (i + 1) / n_bins, "count": len(b),
             "mean_score": sum(s for s, _ in b) / len(b) if b else None,
             "accuracy": sum(r for _, r in b) / len(b) if b else None} for i, b in enumerate(bins)]


def expected_calibration_error(scored: Sequence[Tuple[float, bool]], n_bins: int = N_BINS) -> Optional[float]:
    """Sum over bins of (share of predictions in the bin) x |accuracy - mean score|; None if no predictions."""
    if not scored:
        return None
    return sum(b["count"] / len(scored) * abs(b["accuracy"] - b["mean_score"])
               for b in reliability(scored, n_bins) if b["count"])


def at_thresholds(scored: Sequence[Tuple[float, bool]], n_gold: int,
                  thresholds: Sequence[float] = THRESHOLDS) -> Dict[str, Dict[str, float]]:
    """Precision, recall and F1 of the predictions scored at least each threshold."""
    out = {}
    for t in thresholds:
        kept = [right for score, right in scored if score >= t]
        tp = sum(kept)
        p = tp / len(kept) if kept else 0.0
        r = tp / n_gold if n_gold else 0.0
        out[f"{t:g}"] = {"kept": len(kept), "p": p, "r": r, "f": 2 * p * r / (p + r) if p + r else 0.0}
    return out


def log_loss(scored: Sequence[Tuple[float, bool]], inverse_temperature: float) -> float:
    total = 0.0
    for score, right in scored:
        z = inverse_temperature * _logit(score)
        # log(1 + exp(-z)) for a right prediction, log(1 + exp(z)) for a wrong one, without overflow
        m = -z if right else z
        total += max(m, 0.0) + math.log1p(math.exp(-abs(m)))
    return total / len(scored)


def fit_temperature(scored: Sequence[Tuple[float, bool]], low: float = 0.02, high: float = 20.0,
                    steps: int = 100) -> float:
    """The temperature T minimising the log loss of sigmoid(logit(score) / T) on `scored`.

    With only right or only wrong predictions the loss has no minimum: T stays 1.
    """
    rights = sum(right for _, right in scored)
    if not scored or rights in (0, len(scored)):
        return 1.0
    a, b = low, high
    for _ in range(steps):
        m1, m2 = a + (b - a) / 3, b - (b - a) / 3
        if log_loss(scored, m1) <= log_loss(scored, m2):
            b = m2
        else:
            a = m1
    return 1.0 / ((a + b) / 2)


def calibration_report(scored: Sequence[Tuple[float, bool]], n_gold: int) -> Dict[str, object]:
    """Everything evaluate writes about the scores: ECE, reliability bins, P/R at thresholds."""
    return {"n_scored": len(scored), "ece": expected_calibration_error(scored),
            "reliability": reliability(scored), "thresholds": at_thresholds(scored, n_gold)}
