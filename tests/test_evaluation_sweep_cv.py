"""`sweep` and `cv` on the tiny local transformer with 10-step trainings."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spacy_bert_ner.experiments.cv import assign_folds
from spacy_bert_ner.experiments.sweep import parse_grid, plan

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "ner_trf.cfg"

pytestmark = pytest.mark.skipif(not CONFIG.exists(), reason="configs/ner_trf.cfg not written yet")


def cli(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "spacy_bert_ner", *map(str, args)], capture_output=True,
                          text=True, cwd=ROOT, **kwargs)


def common(tiny_transformer, demo_corpus):
    return ["--paths.train", demo_corpus / "train.spacy", "--paths.dev", demo_corpus / "dev.spacy",
            "--components.transformer.model.name", tiny_transformer, "--checks.max_misaligned", 0.01]


def test_grid_and_plan():
    grid = parse_grid(["lr=2e-5,5e-5", "batch=500,1000", "training.dropout=0.2"])
    assert grid == {"training.optimizer.learn_rate.initial_rate": [2e-5, 5e-5],
                    "training.batcher.size": [500, 1000], "training.dropout": [0.2]}
    assert len(plan(grid, None, 0)) == 4
    assert plan(grid, 2, 7) == plan(grid, 2, 7) and len(plan(grid, 2, 7)) == 2


def test_grid_settings_are_checked_in_every_config_before_training(tmp_path):
    from spacy_bert_ner.errors import UserError
    from spacy_bert_ner.experiments.sweep import sweep

    tokcls = ROOT / "configs" / "tokcls_trf.cfg"
    if not tokcls.exists():
        pytest.skip("configs/tokcls_trf.cfg not written yet")
    with pytest.raises(UserError, match="tokcls_trf.cfg.*components.ner.model.hidden_width"):
        sweep(CONFIG, tmp_path, [f"config={CONFIG},{tokcls}", "head_width=32,64"])
    with pytest.raises(UserError, match="no setting training.nonsense"):
        sweep(CONFIG, tmp_path, ["training.nonsense=1"])
    assert not (tmp_path / "trials").exists()


def test_folds_are_deterministic_balanced_and_seeded():
    folds = assign_folds(23, 4, seed=1)
    assert folds == assign_folds(23, 4, seed=1) != assign_folds(23, 4, seed=2)
    sizes = sorted(folds.count(k) for k in range(4))
    assert sizes == [5, 6, 6, 6]


@pytest.mark.slow
def test_sweep_survives_crashing_trials(tmp_path, tiny_transformer, demo_corpus):
    proc = cli("sweep", CONFIG, "--output", tmp_path, "--grid", "dropout=abc,xyz", "--budget-steps", 10,
               *common(tiny_transformer, demo_corpus))
    results = json.loads((tmp_path / "results.json").read_text())
    assert [t["status"] for t in results["trials"]] == ["failed", "failed"]
    assert results["best"] is None and not (tmp_path / "best.cfg").exists()
    assert proc.returncode == 1 and "Error: all 2 trials failed" in proc.stderr


@pytest.mark.slow
def test_sweep_resumes_after_interruption(tmp_path, tiny_transformer, demo_corpus):
    args = ["sweep", CONFIG, "--output", tmp_path, "--grid", "lr=0.001,0.002", "--budget-steps", 10,
            *common(tiny_transformer, demo_corpus)]
    results_path = tmp_path / "results.json"
    first = subprocess.Popen([sys.executable, "-m", "spacy_bert_ner", *map(str, args)], cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        while first.poll() is None and not results_path.exists():
            time.sleep(0.5)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)  # the sweep and the trial it is training
        first.wait()
    interrupted = json.loads(results_path.read_text())
    assert [t["status"] for t in interrupted["trials"]] == ["done"]
    finished = interrupted["trials"][0]
    log_time = (Path(finished["dir"]) / "train.log").stat().st_mtime

    proc = cli(*args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("finished before, skipped") == 1
    assert (Path(finished["dir"]) / "train.log").stat().st_mtime == log_time
    results = json.loads(results_path.read_text())
    trials = results["trials"]
    assert [t["status"] for t in trials] == ["done", "done"]
    assert trials[0]["ents_f"] >= trials[1]["ents_f"] and results["best"]["id"] == trials[0]["id"]
    assert all(t["overrides"]["training.max_steps"] == 10 for t in trials)
    assert all((Path(t["dir"]) / "training_log.jsonl").stat().st_size > 0 for t in trials)
    assert (Path(trials[0]["dir"]) / "model-best").is_dir() and not (Path(trials[1]["dir"]) / "model-best").exists()
    best_lr = trials[0]["params"]["training.optimizer.learn_rate.initial_rate"]
    assert f"initial_rate = {best_lr}" in (tmp_path / "best.cfg").read_text()


@pytest.mark.slow
def test_cv_two_folds_and_resume(tmp_path, tiny_transformer, demo_corpus):
    args = ["cv", CONFIG, demo_corpus / "train.spacy", "--output", tmp_path, "--folds", 2, "--seed", 3,
            "--max-steps", 10, *common(tiny_transformer, demo_corpus)[4:]]
    proc = cli(*args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads((tmp_path / "cv_results.json").read_text())
    assert [f["fold"] for f in summary["per_fold"]] == [0, 1]
    f1 = [f["ents_f"] for f in summary["per_fold"]]
    assert summary["ents_f"]["mean"] == pytest.approx(sum(f1) / 2)
    assert summary["ents_f"]["std"] == pytest.approx(abs(f1[0] - f1[1]) / 2 ** 0.5)
    assert set(summary["ents_per_type"]) <= {"PER", "ORG", "LOC", "MISC"}

    import spacy
    from spacy.tokens import DocBin

    vocab = spacy.blank("da").vocab
    n = lambda p: len(list(DocBin().from_disk(p).get_docs(vocab)))  # noqa: E731
    total = n(demo_corpus / "train.spacy")
    tests = [n(tmp_path / f"fold{k}" / "test.spacy") for k in range(2)]
    assert sum(tests) == total
    for k in range(2):
        fold = tmp_path / f"fold{k}"
        assert n(fold / "train.spacy") + n(fold / "dev.spacy") + tests[k] == total
        assert (fold / "eval" / "report.md").exists() and not (fold / "model-best").exists()
        assert (fold / "eval" / "training_curve.png").exists()  # from the fold's JSONL training log

    again = cli(*args)
    assert again.returncode == 0 and again.stdout.count("finished before, skipped") == 2
    assert json.loads((tmp_path / "cv_results.json").read_text())["ents_f"] == summary["ents_f"]
