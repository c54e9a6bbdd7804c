"""Compare two evaluations: per-type F1 difference and whether its 95% interval excludes zero.

When both metrics directories hold `sentence_counts.json` for the same sentences (same
fingerprint), the interval comes from a paired bootstrap: the same resampled sentences
score both runs, which removes the sentence-sampling noise the two runs share. Otherwise it
is approximated from the two runs' own intervals, treating them as independent and normal
(standard error = interval width / 3.92), which is wider and only a fallback.
"""
import json
import math
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from ..errors import UserError
from .bootstrap import paired_difference
from .scorer import GOLD_TOKENS, TOKENIZATIONS

COUNTS_FILE = "sentence_counts.json"
Z95 = 1.959963984540054


def load_metrics(path: Path) -> Dict[str, object]:
    path = Path(path)
    if path.is_dir():
        path = path / "metrics.json"
    if not path.is_file():
        raise UserError(f"--compare: {path} does not exist. Pass the metrics.json written by an earlier "
                        "`spacy-bert-ner evaluate` run.")
    try:
        metrics = json.loads(path.read_text(encoding="utf8"))
    except json.JSONDecodeError as err:
        raise UserError(f"--compare: {path} is not valid JSON ({err.msg}); pass a metrics.json from `evaluate`.")
    if not isinstance(metrics, dict) or "ents_f" not in metrics or "ents_per_type" not in metrics:
        raise UserError(f"--compare: {path} has no ents_f/ents_per_type; pass a metrics.json from `evaluate`.")
    metrics["_path"] = str(path)
    return metrics


def load_other(path: Path) -> Tuple[Dict[str, object], Optional[Dict[str, object]]]:
    """The other run's metrics and, when stored beside them, its per-sentence counts."""
    metrics = load_metrics(path)
    counts_path = Path(metrics["_path"]).parent / COUNTS_FILE
    counts = json.loads(counts_path.read_text(encoding="utf8")) if counts_path.is_file() else None
    return metrics, counts


def _from_intervals(this: Optional[List[float]], other: Optional[List[float]], diff: float) -> Optional[List[float]]:
    if this is None or other is None:
        return None
    se = math.hypot((this[1] - this[0]) / (2 * Z95), (other[1] - other[0]) / (2 * Z95))
    return [diff - Z95 * se, diff + Z95 * se]


def compare(metrics: Dict[str, object], counts: Dict[str, object], other: Dict[str, object],
            other_counts: Optional[Dict[str, object]]) -> Dict[str, object]:
    """Differences this - other of micro F1 (row "ALL (micro)") and each type's F1."""
    labels = sorted(set(metrics["ents_per_type"]) | set(other["ents_per_type"]))
    boot = metrics["bootstrap"]
    paired = other_counts is not None and other_counts["fingerprint"] == counts["fingerprint"]
    if paired:
        intervals = paired_difference(counts["sentences"], other_counts["sentences"], labels,
                                      n=boot["n"], seed=boot["seed"], confidence=boot["confidence"])
        method = (f"paired bootstrap over the same {len(counts['sentences'])} sentences, "
                  f"{boot['n']} resamples, seed {boot['seed']}")
    else:
        method = ("approximation from the two runs' own bootstrap intervals (independent, normal); "
                  "the runs were not on the same sentences or the other has no " + COUNTS_FILE)
    rows = {}
    keys = [("ALL (micro)", "ents_f")] + [(label, label) for label in labels]
    for row, key in keys:
        if key == "ents_f":
            this_f, other_f = metrics["ents_f"], other["ents_f"]
            this_ci, other_ci = boot["ents_f"], other.get("bootstrap", {}).get("ents_f")
        else:
            this_f = metrics["ents_per_type"].get(key, {}).get("f", 0.0)
            other_f = other["ents_per_type"].get(key, {}).get("f", 0.0)
            this_ci = boot["ents_per_type"].get(key)
            other_ci = other.get("bootstrap", {}).get("ents_per_type", {}).get(key)
        diff = this_f - other_f
        interval = intervals[key] if paired else _from_intervals(this_ci, other_ci, diff)
        rows[row] = {"this": this_f, "other": other_f, "diff": diff, "interval": interval,
                     "excludes_zero": None if interval is None else bool(interval[0] > 0 or interval[1] < 0)}
    return {"other": other["_path"], "paired": paired, "method": method, "per_type": rows}


def counterpart(other: Dict[str, object], other_counts: Optional[Dict[str, object]], tokenization: str
                ) -> Optional[Tuple[Dict[str, object], Optional[Dict[str, object]]]]:
    """The other run's scores and counts on `tokenization`, or None if it has none (a metrics.json
    written before the raw-text score holds gold-token scores only)."""
    if other.get("tokenization", GOLD_TOKENS) == tokenization:
        return other, other_counts
    if tokenization in other:
        block = {**other[tokenization], "_path": other["_path"]}
        return block, (other_counts or {}).get(tokenization)
    return None


def compare_runs(blocks: Dict[str, Tuple[Dict[str, object], Dict[str, object]]], other: Dict[str, object],
                 other_counts: Optional[Dict[str, object]]) -> Dict[str, object]:
    """`compare` for each tokenization this run was scored on: {tokenization: comparison}, and
    "skipped" for those the other run has no scores on."""
    out: Dict[str, object] = {"other": other["_path"], "skipped": []}
    for tokenization, (metrics, counts) in blocks.items():
        found = counterpart(other, other_counts, tokenization)
        if found is None:
            out["skipped"].append(f"{other['_path']} has no {TOKENIZATIONS[tokenization]} scores")
            continue
        out[tokenization] = compare(metrics, counts, *found)
    return out
