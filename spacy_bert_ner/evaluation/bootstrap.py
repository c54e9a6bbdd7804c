"""Bootstrap confidence intervals of strict F1, resampling sentences with replacement.

Works on a matrix of per-sentence [tp, fp, fn] counts per label, so a run can be stored
(`sentence_counts.json`) and compared later with a paired bootstrap over the same sentences.
A resample in which a label has no gold and no predicted span leaves that label's F1
undefined; those draws are left out of the label's percentiles (not counted as 0), and the
number of draws used is reported.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy

CHUNK = 256


def count_matrix(per_sentence: Sequence[Dict[str, List[int]]], labels: Sequence[str]) -> numpy.ndarray:
    """(sentences, labels, 3) array of tp/fp/fn."""
    index = {label: i for i, label in enumerate(labels)}
    matrix = numpy.zeros((len(per_sentence), len(labels), 3), dtype=numpy.int64)
    for row, counts in enumerate(per_sentence):
        for label, c in counts.items():
            matrix[row, index[label]] = c
    return matrix


def _f1(counts: numpy.ndarray) -> numpy.ndarray:
    """F1 along the last axis of [..., 3] counts; NaN where tp + fp + fn == 0."""
    tp, fp, fn = counts[..., 0], counts[..., 1], counts[..., 2]
    denom = 2 * tp + fp + fn
    with numpy.errstate(invalid="ignore", divide="ignore"):
        return numpy.where(denom > 0, 2 * tp / numpy.where(denom > 0, denom, 1), numpy.nan)


def resampled_f1(matrices: Sequence[numpy.ndarray], n: int, seed: int) -> List[Tuple[numpy.ndarray, numpy.ndarray]]:
    """Micro F1 (n,) and per-label F1 (n, labels) of each matrix on the same n resamples.

    Passing two matrices over the same sentences gives a paired bootstrap. The draws depend
    only on the seed and the number of sentences.
    """
    n_sents = matrices[0].shape[0]
    rng = numpy.random.default_rng(seed)
    micro: List[List[numpy.ndarray]] = [[] for _ in matrices]
    per_label: List[List[numpy.ndarray]] = [[] for _ in matrices]
    for start in range(0, n, CHUNK):
        size = min(CHUNK, n - start)
        draws = rng.integers(0, max(n_sents, 1), size=(size, n_sents))
        weights = numpy.stack([numpy.bincount(d, minlength=n_sents) for d in draws])
        for i, m in enumerate(matrices):
            summed = (weights @ m.reshape(n_sents, -1)).reshape(size, m.shape[1], 3)
            per_label[i].append(_f1(summed))
            micro[i].append(_f1(summed.sum(axis=1)))
    return [(numpy.concatenate(mi), numpy.concatenate(pl)) for mi, pl in zip(micro, per_label)]


def interval(values: numpy.ndarray, confidence: float) -> Optional[List[float]]:
    values = values[~numpy.isnan(values)]
    if not len(values):
        return None
    alpha = (1 - confidence) / 2
    lo, hi = numpy.quantile(values, [alpha, 1 - alpha])
    return [float(lo), float(hi)]


def f1_intervals(per_sentence: Sequence[Dict[str, List[int]]], labels: Sequence[str],
                 n: int = 1000, seed: int = 0, confidence: float = 0.95) -> Dict[str, object]:
    """Percentile intervals of micro F1 (`ents_f`), macro F1 and each label's F1."""
    matrix = count_matrix(per_sentence, labels)
    micro, per_label = resampled_f1([matrix], n, seed)[0]
    defined = ~numpy.isnan(per_label)
    # Macro F1 of a resample: mean over the labels occurring in it, as the point estimate does.
    macro = numpy.where(defined.any(axis=1), numpy.nansum(per_label, axis=1) / numpy.maximum(defined.sum(axis=1), 1),
                        numpy.nan)
    return {
        "n": n, "seed": seed, "confidence": confidence, "unit": "sentence",
        "ents_f": interval(micro, confidence),
        "ents_macro_f": interval(macro, confidence),
        "ents_per_type": {label: interval(per_label[:, j], confidence) for j, label in enumerate(labels)},
        "draws_defined": {label: int((~numpy.isnan(per_label[:, j])).sum()) for j, label in enumerate(labels)},
    }


def paired_difference(a: Sequence[Dict[str, List[int]]], b: Sequence[Dict[str, List[int]]],
                      labels: Sequence[str], n: int = 1000, seed: int = 0,
                      confidence: float = 0.95) -> Dict[str, Optional[List[float]]]:
    """Intervals of F1(a) - F1(b), overall (key `ents_f`) and per label, same resamples for both."""
    (ma, la), (mb, lb) = resampled_f1([count_matrix(a, labels), count_matrix(b, labels)], n, seed)
    out = {"ents_f": interval(ma - mb, confidence)}
    for j, label in enumerate(labels):
        out[label] = interval(la[:, j] - lb[:, j], confidence)
    return out
