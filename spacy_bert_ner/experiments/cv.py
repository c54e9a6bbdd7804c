"""K-fold cross-validation over documents: K trainings, F1 mean and spread per type.

Documents (not sentences) are dealt into K folds after a seeded shuffle, so sentences of
one document never sit on both sides. For fold k the held-out fold is the test set; a
seeded `dev_share` of the remaining documents is the dev set that picks model-best, and the
rest is trained on. Each fold's model-best is scored on its test fold by `evaluate`, so the
estimate is never taken on the data that selected the checkpoint. Finished folds are
skipped on a rerun into the same output directory. A caller may also run its own step on each
fold's model-best before it is scored and deleted (`after_fold`, as `audit` predicts the held-out
fold with it); a fold counts as finished only once both are done. The folds train one after the other, or side
by side as Ray tasks (`--engine ray`, see `trials`), each scored where it trained.
"""
import json
import math
import random
import shutil
import statistics
from functools import partial
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from spacy.tokens import DocBin
from wasabi import msg

from ..errors import UserError
from ..evaluation.scorer import fingerprint
from ..extras import require
from ..jsonfiles import write_json
from .runs import load_config, log_override, step_overrides, train_in_subprocess
from .trials import RayTrials, run_jobs

SPEC = "cv.json"
RESULTS = "cv_results.json"

# Called with a fold's directory (model-best, test.spacy) and the GPU, where the fold trained.
AfterFold = Callable[[Path, int], None]


def assign_folds(n_docs: int, k: int, seed: int) -> List[int]:
    """Fold number of each document: seeded shuffle, then dealt round-robin (sizes differ by <= 1)."""
    order = list(range(n_docs))
    random.Random(seed).shuffle(order)
    folds = [0] * n_docs
    for position, doc in enumerate(order):
        folds[doc] = position % k
    return folds


def split_dev(train: List[int], dev_share: float, seed: int) -> List[int]:
    n_dev = max(1, round(dev_share * len(train)))
    return sorted(random.Random(seed).sample(train, n_dev))


def mean_std(values: List[float]) -> Dict[str, Any]:
    return {"mean": statistics.fmean(values) if values else None,
            "std": statistics.stdev(values) if len(values) > 1 else 0.0 if values else None,
            "folds": len(values)}


def cross_validate(config_path: Path, data: Path, output: Path, folds: int = 5, seed: int = 0,
                   dev_share: float = 0.1, max_steps: Optional[int] = None, gpu_id: int = -1,
                   keep_models: bool = False, n_bootstrap: int = 1000,
                   overrides: Optional[Dict[str, Any]] = None, ray: Optional[RayTrials] = None,
                   after_fold: Optional[AfterFold] = None) -> Dict[str, Any]:
    import spacy

    from ..evaluation.runner import read_gold

    require("matplotlib", "the folds' evaluation plots need")
    overrides = dict(overrides or {})
    if folds < 2:
        raise UserError("--folds must be at least 2.")
    if not 0 < dev_share < 1:
        raise UserError("--dev-share must be between 0 and 1 (e.g. 0.1).")
    config = load_config(config_path, overrides)
    nlp = spacy.blank(config["nlp"]["lang"])
    docs, _ = read_gold(data, nlp)
    smallest_train = len(docs) - math.ceil(len(docs) / folds)
    if len(docs) < folds or smallest_train < 2:
        raise UserError(f"{data} has {len(docs)} documents; {folds}-fold CV needs at least {max(folds, 3)} "
                        "and 2 left for train and dev in every fold. Use fewer --folds, or convert with a "
                        "smaller --n-sents to get more (shorter) documents.")
    output.mkdir(parents=True, exist_ok=True)
    spec = {"config": str(config_path), "data": str(data), "folds": folds, "seed": seed, "dev_share": dev_share,
            "max_steps": max_steps, "overrides": overrides, "fingerprint": fingerprint(
                ([t.text for t in doc], [(e.start, e.end, e.label_) for e in doc.ents]) for doc in docs)}
    spec_path = output / SPEC
    if spec_path.is_file() and json.loads(spec_path.read_text(encoding="utf8")) != spec:
        raise UserError(f"{output} holds a cross-validation with other data or settings ({spec_path}). "
                        "Use another --output, or delete that directory to start over.")
    write_json(spec_path, spec, atomic=True)
    assignment = assign_folds(len(docs), folds, seed)
    fold_results, jobs = [], []
    for k in range(folds):
        fold_dir = output / f"fold{k}"
        metrics_path = fold_dir / "eval" / "metrics.json"
        if metrics_path.is_file():
            msg.info(f"Fold {k}: finished before, skipped")
            fold_results.append(fold_record(k, json.loads(metrics_path.read_text(encoding="utf8")), None))
            continue
        if fold_dir.exists():
            shutil.rmtree(fold_dir)  # leftovers of an interrupted attempt
        fold_dir.mkdir(parents=True)
        test = [i for i, f in enumerate(assignment) if f == k]
        rest = [i for i, f in enumerate(assignment) if f != k]
        dev = split_dev(rest, dev_share, seed + k)
        train = [i for i in rest if i not in set(dev)]
        for name, idx in (("train", train), ("dev", dev), ("test", test)):
            DocBin(docs=[docs[i] for i in idx], store_user_data=True).to_disk(fold_dir / f"{name}.spacy")
        run_overrides = {**overrides, "paths.train": str(fold_dir / "train.spacy"),
                         "paths.dev": str(fold_dir / "dev.spacy")}
        run_overrides.update(step_overrides(config, max_steps))
        run_overrides.update(log_override(config, fold_dir))
        msg.text(f"Fold {k}: training on {len(train)} documents (dev {len(dev)}, test {len(test)}) "
                 + ("..." if ray is None else "sent to Ray"))
        jobs.append((k, partial(train_and_score, config_path, fold_dir, run_overrides, seed, n_bootstrap,
                                keep_models, after_fold)))
    for k, (result, metrics) in run_jobs(jobs, ray, gpu_id):
        if result["status"] != "done":
            raise UserError(f"Fold {k}: training failed ({result['error']}); see {result['log']}. "
                            "Fix the cause and rerun the same command: finished folds are skipped.")
        fold_results.append(fold_record(k, metrics, result["seconds"]))
    fold_results.sort(key=lambda fold: fold["fold"])
    summary = aggregate(spec, fold_results)
    write_json(output / RESULTS, summary, atomic=True)
    print_table(summary)
    return summary


def train_and_score(config_path: Path, fold_dir: Path, overrides: Dict[str, Any], seed: int, n_bootstrap: int,
                    keep_models: bool, after_fold: Optional[AfterFold], gpu_id: int
                    ) -> Tuple[Dict[str, Any], Optional[Dict[str, Any]]]:
    """Train one fold, run `after_fold` on it, and score its model-best on the fold's test set
    (`fold_dir/eval`, written last: its metrics.json marks the fold finished): the training's
    result and the metrics (None when it failed). Runs here or as a Ray task."""
    from ..evaluation.runner import evaluate

    result = train_in_subprocess(config_path, fold_dir, overrides, gpu_id)
    if result["status"] != "done":
        return result, None
    if after_fold is not None:
        after_fold(fold_dir, gpu_id)
    log = fold_dir / "training_log.jsonl"
    metrics = evaluate(str(fold_dir / "model-best"), fold_dir / "test.spacy", fold_dir / "eval",
                       training_log=log if log.is_file() else None, seed=seed,
                       n_bootstrap=n_bootstrap, gpu_id=gpu_id)
    if not keep_models:
        for name in ("model-best", "model-last"):
            shutil.rmtree(fold_dir / name, ignore_errors=True)
    return result, metrics


def fold_record(k: int, metrics: Dict[str, Any], seconds: Optional[float]) -> Dict[str, Any]:
    return {"fold": k, "ents_f": metrics["ents_f"], "ents_p": metrics["ents_p"], "ents_r": metrics["ents_r"],
            "ents_macro_f": metrics["ents_macro_f"],
            "ents_per_type": {label: s["f"] for label, s in metrics["ents_per_type"].items()},
            "n_sentences": metrics["n_sentences"], "n_gold": metrics["ents_counts"]["gold"],
            "train_seconds": None if seconds is None else round(seconds, 2)}


def aggregate(spec: Dict[str, Any], folds: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Mean and sample standard deviation over folds; a type counts in the folds where it occurs."""
    labels = sorted({label for f in folds for label in f["ents_per_type"]})
    return {
        **{k: spec[k] for k in ("config", "data", "folds", "seed", "dev_share")},
        "std": "sample standard deviation over folds (n - 1)",
        "ents_f": mean_std([f["ents_f"] for f in folds]),
        "ents_p": mean_std([f["ents_p"] for f in folds]),
        "ents_r": mean_std([f["ents_r"] for f in folds]),
        "ents_macro_f": mean_std([f["ents_macro_f"] for f in folds]),
        "ents_per_type": {label: mean_std([f["ents_per_type"][label] for f in folds if label in f["ents_per_type"]])
                          for label in labels},
        "per_fold": folds,
    }


def print_table(summary: Dict[str, Any]) -> None:
    rows = [[f"fold {f['fold']}", f"{100 * f['ents_f']:.2f}", f["n_gold"]] for f in summary["per_fold"]]
    msg.table(rows, header=["Fold", "Test F", "Gold"], divider=True)
    fmt = lambda s: ["-", "-"] if s["mean"] is None else [f"{100 * s['mean']:.2f}", f"{100 * s['std']:.2f}"]  # noqa: E731
    rows = [["ALL (micro)"] + fmt(summary["ents_f"]) + [summary["ents_f"]["folds"]],
            ["ALL (macro)"] + fmt(summary["ents_macro_f"]) + [summary["ents_macro_f"]["folds"]]]
    rows += [[label] + fmt(s) + [s["folds"]] for label, s in summary["ents_per_type"].items()]
    msg.table(rows, header=["Type", "Mean F", "Std F", "Folds"], divider=True,
              aligns=["l", "r", "r", "r"])
