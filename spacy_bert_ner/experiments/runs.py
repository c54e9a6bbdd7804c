"""One training run in a child process, so a crash or out-of-memory ends that run only.

The child is `python -m spacy_bert_ner train`, with the same checks and precision settings
as a user's own training; its output goes to `train.log` in the run directory.
"""
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, Optional

from spacy import util

from ..errors import UserError


def load_config(config_path: Path, overrides: Dict[str, Any], interpolate: bool = True):
    if not Path(config_path).is_file():
        raise UserError(f"Config file {config_path} does not exist; pass a training .cfg such as configs/ner_trf.cfg.")
    return util.load_config(config_path, overrides=dict(overrides), interpolate=interpolate)


def check_setting(config, key: str, option: str) -> None:
    """A dotted setting must exist in the config, or the override would silently add a new one."""
    node = config
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            raise UserError(f"{option}: the config has no setting {key}. Use a setting that exists "
                            "in the config (e.g. training.dropout) or one of the short names.")
        node = node[part]


def step_overrides(config, max_steps: Optional[int]) -> Dict[str, Any]:
    """Cap the length of a run and make sure it evaluates at its last step, so model-best is trained."""
    out: Dict[str, Any] = {}
    steps = max_steps if max_steps is not None else config["training"]["max_steps"]
    if max_steps is not None:
        out["training.max_steps"] = max_steps
    if steps and config["training"]["eval_frequency"] > steps:
        out["training.eval_frequency"] = steps
    return out


def log_override(config, run_dir: Path) -> Dict[str, Any]:
    """Send the run's JSONL training log (when the config has `paths.training_log`) into its directory."""
    if "training_log" in config.get("paths", {}):
        return {"paths.training_log": str(run_dir / "training_log.jsonl")}
    return {}


def train_in_subprocess(config_path: Path, output: Path, overrides: Dict[str, Any], gpu_id: int) -> Dict[str, Any]:
    """Train; return {"status": "done"|"failed", "seconds", "performance" (dev scores of model-best)}."""
    output.mkdir(parents=True, exist_ok=True)
    args = [sys.executable, "-m", "spacy_bert_ner", "train", str(config_path), "--output", str(output),
            "--gpu-id", str(gpu_id)]
    for key, value in overrides.items():
        args += [f"--{key}", json.dumps(value) if not isinstance(value, str) else value]
    log = output / "train.log"
    start = time.perf_counter()
    with log.open("w", encoding="utf8") as out:
        out.write(" ".join(args) + "\n")
        out.flush()
        # A log file, not a terminal: wasabi's colour codes off.
        proc = subprocess.run(args, stdout=out, stderr=subprocess.STDOUT,
                              env={**os.environ, "ANSI_COLORS_DISABLED": "1", "WASABI_LOG_FRIENDLY": "1"})
    seconds = time.perf_counter() - start
    meta = output / "model-best" / "meta.json"
    if proc.returncode != 0 or not meta.is_file():
        tail = log.read_text(encoding="utf8", errors="replace").strip().splitlines()[-3:]
        return {"status": "failed", "seconds": seconds, "returncode": proc.returncode,
                "error": " | ".join(line[:160] for line in tail), "log": str(log)}
    performance = json.loads(meta.read_text(encoding="utf8")).get("performance", {})
    return {"status": "done", "seconds": seconds, "performance": performance, "log": str(log)}


