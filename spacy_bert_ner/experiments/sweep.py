"""Hyperparameter search over config overrides, locally, with resumable results.

Each trial is a set of overrides trained in its own process (see `runs`), one after the other
or side by side as Ray tasks (`--engine ray`, see `trials`). `results.json`
in the output directory is rewritten after every trial; a rerun with the same grid skips
the trials recorded as done and retries failed or interrupted ones. Only the best trial
keeps its model-best; the others keep their train.log and scores.
"""
import hashlib
import itertools
import json
import random
import shutil
from functools import partial
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from wasabi import msg

from ..errors import UserError
from ..jsonfiles import write_json
from .runs import check_setting, load_config, log_override, step_overrides, train_in_subprocess
from .trials import RayTrials, run_jobs

# Short names for the settings searched most often; any dotted config path works too.
ALIASES = {
    "lr": "training.optimizer.learn_rate.initial_rate",
    "warmup": "training.optimizer.learn_rate.warmup_steps",
    "batch": "training.batcher.size",
    "dropout": "training.dropout",
    "steps": "training.max_steps",
    "freeze": "initialize.after_init.freeze_layers",
    "encoder_lr_scale": "initialize.after_init.encoder_lr_scale",
    "head_width": "components.ner.model.hidden_width",
}
# Grid values of this key are config files, e.g. the two heads: config=configs/ner_trf.cfg,configs/tokcls_trf.cfg
CONFIG_KEY = "config"
RESULTS = "results.json"


def parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_grid(items: Sequence[str]) -> Dict[str, List[Any]]:
    """["lr=2e-5,5e-5", "batch=1000"] -> {"training.optimizer...initial_rate": [2e-5, 5e-5], ...}."""
    grid: Dict[str, List[Any]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        key = key.strip()
        if not sep or not key or not values.strip():
            raise UserError(f"--grid {item!r}: write NAME=VALUE[,VALUE...], e.g. --grid lr=2e-5,5e-5")
        setting = ALIASES.get(key, key)
        if setting in grid:
            raise UserError(f"--grid: {key} given twice; list all its values in one --grid.")
        grid[setting] = [parse_value(v.strip()) for v in values.split(",") if v.strip()]
    if not grid:
        raise UserError("Give at least one --grid NAME=VALUES, e.g. --grid lr=2e-5,5e-5. "
                        f"Short names: {', '.join(ALIASES)}; any dotted config setting works too.")
    return grid


def trial_id(params: Dict[str, Any], fixed: Dict[str, Any]) -> str:
    """Stable name of a trial: its grid values plus everything else that shapes the run."""
    key = json.dumps({"params": params, "fixed": fixed}, sort_keys=True)
    return hashlib.sha1(key.encode("utf8")).hexdigest()[:10]


def plan(grid: Dict[str, List[Any]], n_trials: Optional[int], seed: int) -> List[Dict[str, Any]]:
    """All grid points, or n_trials of them drawn without replacement (same seed, same draw)."""
    keys = list(grid)
    points = [dict(zip(keys, combo)) for combo in itertools.product(*(grid[k] for k in keys))]
    if n_trials is not None:
        if n_trials < 1:
            raise UserError("--trials must be at least 1.")
        if n_trials < len(points):
            points = random.Random(seed).sample(points, n_trials)
    return points


def short(params: Dict[str, Any]) -> Dict[str, Any]:
    names = {v: k for k, v in ALIASES.items()}
    return {names.get(k, k): v for k, v in params.items()}


def sweep(config_path: Path, output: Path, grid_items: Sequence[str], n_trials: Optional[int] = None,
          seed: int = 0, budget_steps: Optional[int] = None, gpu_id: int = -1,
          overrides: Optional[Dict[str, Any]] = None, ray: Optional[RayTrials] = None) -> Dict[str, Any]:
    """Train every planned trial (as Ray tasks with `ray`, see `trials`) and rank them by dev F1."""
    overrides = dict(overrides or {})
    grid = parse_grid(grid_items)
    configs = {str(Path(p)): load_config(Path(p), overrides) for p in grid.get(CONFIG_KEY, [config_path])}
    for path, config in configs.items():
        for setting in grid:
            if setting != CONFIG_KEY:
                check_setting(config, setting, f"--grid (in {path})")
    if budget_steps is not None and budget_steps < 1:
        raise UserError("--budget-steps must be at least 1.")
    output.mkdir(parents=True, exist_ok=True)
    results_path = output / RESULTS
    previous = json.loads(results_path.read_text(encoding="utf8")) if results_path.is_file() else {"trials": []}
    done = {t["id"]: t for t in previous["trials"] if t["status"] == "done"}
    trials, jobs, planned = [], [], {}
    for params in plan(grid, n_trials, seed):
        trial_path = Path(params.get(CONFIG_KEY, config_path))
        settings = {k: v for k, v in params.items() if k != CONFIG_KEY}
        tid = trial_id(params, {"overrides": overrides, "budget_steps": budget_steps,
                                "config": configs[str(trial_path)].to_str()})
        if tid in done:
            msg.info(f"Trial {tid} {short(params)}: finished before, skipped (dev ents_f {done[tid]['ents_f']:.4f})")
            trials.append(done[tid])
            continue
        run_overrides = {**overrides, **settings}
        trial_config = load_config(trial_path, run_overrides)
        run_overrides.update(step_overrides(trial_config, budget_steps if "training.max_steps" not in params else None))
        trial_dir = output / "trials" / tid
        if trial_dir.exists():
            shutil.rmtree(trial_dir)  # leftovers of an interrupted or failed attempt
        run_overrides.update(log_override(trial_config, trial_dir))
        planned[tid] = {"id": tid, "params": params, "config": str(trial_path), "overrides": run_overrides,
                        "dir": str(trial_dir)}
        jobs.append((tid, partial(train_in_subprocess, trial_path, trial_dir, run_overrides)))
        msg.text(f"Trial {tid} {short(params)}: " + ("training ..." if ray is None else "sent to Ray"))
    for tid, result in run_jobs(jobs, ray, gpu_id):
        record = {**planned[tid], "status": result["status"], "seconds": round(result["seconds"], 2)}
        if result["status"] == "done":
            perf = result["performance"]
            record.update(ents_f=perf.get("ents_f", 0.0), ents_p=perf.get("ents_p", 0.0),
                          ents_r=perf.get("ents_r", 0.0), ents_per_type=perf.get("ents_per_type"))
            msg.good(f"Trial {tid}: dev ents_f {record['ents_f']:.4f} in {record['seconds']:.0f}s")
        else:
            record.update(error=result["error"], log=result["log"])
            msg.fail(f"Trial {tid} failed (exit {result['returncode']}): {result['error']}; see {result['log']}")
        trials.append(record)
        keep_best_model(trials)
        write_json(results_path, summary(config_path, grid, n_trials, seed, budget_steps, trials), atomic=True)
    result = summary(config_path, grid, n_trials, seed, budget_steps, trials)
    write_json(results_path, result, atomic=True)
    if result["best"] is not None:
        best = load_config(Path(result["best"]["config"]), result["best"]["overrides"], interpolate=False)
        best.to_disk(output / "best.cfg")
        msg.good(f"Best trial {result['best']['id']}: dev ents_f {result['best']['ents_f']:.4f}; "
                 f"config written to {output / 'best.cfg'}")
    print_table(result)
    if result["best"] is None:
        raise UserError(f"all {len(trials)} trials failed; the cause is at the end of each "
                        f"{output / 'trials'}/*/train.log (also in {results_path}).")
    return result


def ranked(trials: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return sorted(trials, key=lambda t: (t["status"] != "done", -t.get("ents_f", 0.0), t["seconds"]))


def keep_best_model(trials: List[Dict[str, Any]]) -> None:
    """Delete model directories of all trials but the best finished one."""
    finished = [t for t in ranked(trials) if t["status"] == "done"]
    for t in finished[1:] + [t for t in trials if t["status"] != "done"]:
        for name in ("model-best", "model-last"):
            path = Path(t["dir"]) / name
            if path.exists():
                shutil.rmtree(path)
    if finished and (Path(finished[0]["dir"]) / "model-last").exists():
        shutil.rmtree(Path(finished[0]["dir"]) / "model-last")


def summary(config_path: Path, grid, n_trials, seed, budget_steps, trials) -> Dict[str, Any]:
    order = ranked(trials)
    best = order[0] if order and order[0]["status"] == "done" else None
    if best is not None:
        best = {**best, "model": str(Path(best["dir"]) / "model-best")}
    return {"config": str(config_path), "grid": grid, "trials_requested": n_trials, "seed": seed,
            "budget_steps": budget_steps, "best": best, "trials": order}


def print_table(result: Dict[str, Any]) -> None:
    keys = list(result["grid"])
    header = ["Trial"] + list(short({k: None for k in keys})) + ["Dev F", "P", "R", "Seconds", "Status"]
    rows = []
    for t in result["trials"]:
        scores = [f"{100 * t[k]:.2f}" if t["status"] == "done" else "-" for k in ("ents_f", "ents_p", "ents_r")]
        rows.append([t["id"]] + [t["params"][k] for k in keys] + scores + [f"{t['seconds']:.0f}", t["status"]])
    msg.table(rows, header=header, divider=True)
