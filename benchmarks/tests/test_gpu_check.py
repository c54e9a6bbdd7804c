"""The GPU check's CPU dry run: scripts/gpu_check.sh and benchmarks/gpu_check.py are the code a lent
GPU runs, with nothing to try them on before one is lent; this keeps them from rotting."""
import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.gpu_check import Check

from .conftest import DEMO, ROOT
PHASES = ["demo", "encoder", "train_2000", "train_8000", "predict_64", "predict_256"]


def test_a_failing_phase_is_recorded_and_the_next_one_runs(tmp_path):
    output = tmp_path / "out" / "gpu_check.json"
    check = Check(output, argparse.Namespace(gpu_id=-1, work=tmp_path))

    def broken():
        raise RuntimeError("no pipeline at /nowhere")

    assert check.phase("train_2000", broken) is None
    assert check.phase("predict_64", lambda: {"words_per_second": 5.0})["words_per_second"] == 5.0
    written = json.loads(output.read_text())["phases"]  # on disk after each phase, not only at the end
    assert "RuntimeError: no pipeline at /nowhere" in written["train_2000"]["error"]
    assert written["predict_64"]["words_per_second"] == 5.0
    assert check.failed == ["train_2000"]


@pytest.mark.slow
def test_cpu_dry_run_measures_every_phase(tmp_path, tiny_transformer):
    env = {**os.environ, "GPU_ID": "-1", "SIZE": "tiny", "DEMO_STEPS": "6", "PHASE_SECONDS": "0.5",
           "CORPUS": str(DEMO), "ENCODER_SHAPE": str(tiny_transformer), "OUT": str(tmp_path / "out"),
           "WORK": str(tmp_path / "work"), "PYTHON": sys.executable}
    env.pop("BUNDLE", None)
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_check.sh")], env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    results = json.loads((tmp_path / "out" / "gpu_check.json").read_text())
    phases = results["phases"]
    assert list(phases) == PHASES
    assert {name: figures["error"] for name, figures in phases.items() if "error" in figures} == {}
    assert results["environment"]["device"] == "cpu"
    assert results["environment"]["version_conflicts"] == []

    demo = phases["demo"]
    assert demo["steps"] == 6 and demo["train_words"] > 0 and demo["train_words_per_second"] > 0
    assert demo["inference_words_per_second"] > 0
    # the train phases' encoder: the given one's tokenizer and vocabulary, random weights, tiny layers
    shape = json.loads((tiny_transformer / "config.json").read_text())
    assert phases["encoder"]["vocab"] == shape["vocab_size"] and phases["encoder"]["layers"] == 2
    for batch in (2000, 8000):
        train = phases[f"train_{batch}"]
        assert train["batch_padded_words"] == batch and train["steps"] >= 1
        # batch_by_padded keeps each batch within its padded size (no piece is longer than 128)
        assert 0 < train["words"] <= train["padded_words"] <= batch * train["steps"]
        assert train["words_per_second"] > 0
    test_words = sum(1 for line in (DEMO / "test.iob2").read_text(encoding="utf8").splitlines()
                     if "\t" in line and not line.startswith("#"))
    for batch_size in (64, 256):
        predict = phases[f"predict_{batch_size}"]
        assert predict["batch_size"] == batch_size and predict["words_per_second"] > 0
        assert predict["words"] >= test_words  # at least one pass over the test texts
    # the CPU never runs mixed precision (thinc's gradient scaler cannot): train switches it off
    assert not any(phases[name]["mixed_precision"] for name in PHASES if name != "encoder")
    assert results["summary"]["train_8000_words_per_second"] == phases["train_8000"]["words_per_second"]
