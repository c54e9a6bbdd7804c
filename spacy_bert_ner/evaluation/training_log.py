"""Read a training log (JSONL, one line per dev evaluation) into points for the training curve.

Accepted line shapes, all needing `step`:
- spaCy's `spacy.ConsoleLogger.v3` `output_file`: `losses`, `scores` (percent, as printed), `score`;
- spaCy's logger `info` dict: `losses`, `other_scores` (fractions), `score`;
- flat lines: `ents_f` (fraction) and optionally `loss` or `losses`.
"""
import json
from pathlib import Path
from typing import Dict, List

from ..errors import CorpusError, UserError


def read_training_log(path: Path) -> List[Dict[str, object]]:
    """[{"step", "ents_f" or None, "score" or None, "losses": {name: value}}] in file order."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"Training log {path} does not exist. Pass the JSONL file the training wrote "
                        "(spaCy's ConsoleLogger.v3 `output_file`), or leave out --training-log.")
    points = []
    for n, line in enumerate(path.read_text(encoding="utf8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as err:
            raise CorpusError(path, n, f"not a JSON object ({err.msg}); the log must have one JSON object per line")
        if not isinstance(entry, dict) or "step" not in entry:
            raise CorpusError(path, n, 'each line needs a "step" key (spaCy logger lines have one)')
        if "other_scores" in entry:
            ents_f = entry["other_scores"].get("ents_f")
        elif "scores" in entry:
            ents_f = entry["scores"].get("ents_f")
            ents_f = ents_f / 100 if ents_f is not None else None
        else:
            ents_f = entry.get("ents_f")
        losses = entry.get("losses")
        if losses is None:
            losses = {"loss": entry["loss"]} if "loss" in entry else {}
        points.append({
            "step": int(entry["step"]),
            "ents_f": None if ents_f is None else float(ents_f),
            "score": None if entry.get("score") is None else float(entry["score"]),
            "losses": {k: float(v) for k, v in losses.items()},
        })
    if not points:
        raise CorpusError(path, None, "the training log is empty; no evaluation lines to plot")
    return points
