"""--engine ray on a local Ray with 2 CPUs: predict's records equal a local run's, skipped
records are reported as locally, a stop leaves nothing; sweep and cv trials run as Ray tasks."""
import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import spacy

from spacy_bert_ner.errors import UserError
from spacy_bert_ner.inference.predict import predict
from spacy_bert_ner.inference.ray_engine import RayEngine
from spacy_bert_ner.inference.resume import part_paths
from spacy_bert_ner.inference.signals import Interrupted
from test_predict import model  # noqa: F401  (the fixture: an entity ruler saved like a trained model)

ray = pytest.importorskip("ray", reason="the ray extra is not installed: pip install -e '.[ray]'")

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "ner_trf.cfg"
TWO_WORKERS = RayEngine(workers=2)


@pytest.fixture(scope="module")
def local_ray():
    """One Ray for the tests that use it (predict then leaves it running, as any caller's Ray)."""
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    yield
    ray.shutdown()


def mixed_jsonl(path: Path, n: int = 200) -> None:
    """Records of many lengths, malformed lines, too-long and split documents, a BOM, CRLF."""
    lines = []
    for i in range(n):
        text = "".join(f"Søren Kierkegaard {j} boede i Aarhus. " for j in range(i % 11))
        lines.append("{broken" if i % 13 == 5 else json.dumps({"id": i, "text": text, "entities": []}
                                                             if i % 17 == 3 else {"id": i, "text": text}))
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode("utf8") + b"\r\n\xff\xfe\n")


def counts(summary):
    return (summary.docs, summary.entities, summary.skipped, summary.too_long, summary.split,
            summary.replaced_entities, summary.below_min_score)


def test_a_signal_stops_a_ray_run_and_leaves_no_part_file(model, tmp_path, monkeypatch, capsys):
    """Ray's own SIGTERM handler would end the process on the spot; predict's is back after
    ray.init, so the run stops, says so and removes its part file (a Ray run starts over)."""
    import spacy_bert_ner.inference.ray_engine as ray_engine

    assert not ray.is_initialized()  # so that predict starts (and stops) a local Ray itself
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    mixed_jsonl(source)
    calls = []

    class Signalling(ray_engine.Written):
        """The third document's line arrives with a SIGTERM, as from `kill`."""

        def __new__(cls, *fields):
            calls.append(1)
            if len(calls) == 3:
                os.kill(os.getpid(), signal.SIGTERM)
            return super().__new__(cls, *fields)

    monkeypatch.setattr(ray_engine, "Written", Signalling)
    with pytest.raises(Interrupted) as stop:
        predict(str(model), source, out, batch_size=2, ray=RayEngine(workers=1))
    assert stop.value.signum == signal.SIGTERM
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]
    message = " ".join(capsys.readouterr().out.split())
    assert f"Interrupted by SIGTERM after 2 documents; {out} was not written, and {part_paths(out)[0]} " \
           "was removed (a Ray run starts over)" in message
    assert not ray.is_initialized()


def test_ray_output_equals_a_local_run(model, tmp_path, local_ray, capsys):
    source = tmp_path / "in.jsonl"
    mixed_jsonl(source)
    settings = {"split_chars": 150, "max_chars": 330, "batch_size": 2}
    local = predict(str(model), source, tmp_path / "local.jsonl", **settings)
    local_err = capsys.readouterr().err
    on_ray = predict(str(model), source, tmp_path / "ray.jsonl", ray=TWO_WORKERS, **settings)
    assert (tmp_path / "ray.jsonl").read_bytes() == (tmp_path / "local.jsonl").read_bytes()
    assert counts(on_ray) == counts(local)
    assert local.skipped and local.too_long and local.split and local.replaced_entities
    assert f"Skipped {source}:6: not valid JSON" in capsys.readouterr().err and f"{source}:6:" in local_err
    assert ray.is_initialized()  # the caller's Ray is left running


@pytest.mark.parametrize("tool", ["label-studio", "prodigy"])
def test_ray_writes_the_annotation_tool_formats_as_a_local_run(model, tmp_path, local_ray, tool):
    """--format turns the finished part file into the tool's records, whichever engine wrote it."""
    source = tmp_path / "in.jsonl"
    mixed_jsonl(source, 60)
    settings = {"split_chars": 150, "max_chars": 330, "batch_size": 2, "format": tool}
    local = predict(str(model), source, tmp_path / "local.out", **settings)
    on_ray = predict(str(model), source, tmp_path / "ray.out", ray=TWO_WORKERS, **settings)
    assert (tmp_path / "ray.out").read_bytes() == (tmp_path / "local.out").read_bytes()
    assert counts(on_ray) == counts(local) and local.split and local.entities


def test_ray_reads_a_folder_as_locally(model, tmp_path, local_ray):
    folder = tmp_path / "docs"
    folder.mkdir()
    for i in range(7):
        (folder / f"{i:02d}.txt").write_text(f"Søren Kierkegaard boede i Aarhus {i}.", encoding="utf8")
    (folder / "03.txt").write_bytes(b"Aarhus \xff")
    (folder / "notes.md").write_text("Aarhus", encoding="utf8")
    local = predict(str(model), folder, tmp_path / "local.jsonl")
    on_ray = predict(str(model), folder, tmp_path / "ray.jsonl", ray=RayEngine(workers=1))
    assert (tmp_path / "ray.jsonl").read_bytes() == (tmp_path / "local.jsonl").read_bytes()
    assert counts(on_ray) == counts(local)
    assert counts(on_ray)[:3] == (6, 12, [f"{folder / '03.txt'}: not valid UTF-8 (invalid start byte at "
                                          "byte 7); convert the file to UTF-8"])


@pytest.mark.slow
def test_ray_predicts_with_a_trained_transformer_and_its_scores(trained, tmp_path, local_ray, demo_dir):
    from test_predict import assert_same_predictions, read_jsonl

    sentences = [line[len("# text = "):] for line in (demo_dir / "test.iob2").read_text(encoding="utf8").splitlines()
                 if line.startswith("# text = ")]
    source = tmp_path / "in.txt"
    source.write_text("\n".join(sentences[:120]) + "\n", encoding="utf8")
    local = predict(str(trained), source, tmp_path / "local.jsonl", batch_size=8, min_score=0.3)
    on_ray = predict(str(trained), source, tmp_path / "ray.jsonl", batch_size=8, min_score=0.3, ray=TWO_WORKERS)
    assert_same_predictions(read_jsonl(tmp_path / "ray.jsonl"), read_jsonl(tmp_path / "local.jsonl"))
    assert on_ray.entities == local.entities > 0 and on_ray.below_min_score == local.below_min_score


def test_ray_settings_that_cannot_work_stop_with_one_message(model, tmp_path, local_ray):
    source = tmp_path / "in.txt"
    source.write_text("Aarhus\n", encoding="utf8")
    with pytest.raises(UserError, match="ask for 3 CPU at once, and the Ray cluster has 2"):
        predict(str(model), source, tmp_path / "out.jsonl", ray=RayEngine(workers=3))
    with pytest.raises(UserError, match="--resume is for the local engine"):
        predict(str(model), source, tmp_path / "out.jsonl", resume=True, ray=TWO_WORKERS)
    with pytest.raises(UserError, match="a URI is read by Ray Data; add --engine ray"):
        predict(str(model), "s3://bucket/in.jsonl", tmp_path / "out.jsonl")
    with pytest.raises(UserError, match="Input not found: file:///nowhere/in.jsonl"):
        predict(str(model), "file:///nowhere/in.jsonl", tmp_path / "out.jsonl", ray=TWO_WORKERS)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt"]
    proc = subprocess.run([sys.executable, "-m", "spacy_bert_ner", "predict", str(model), str(source),
                           str(tmp_path / "out.jsonl"), "--workers", "2"], capture_output=True, text=True)
    assert proc.returncode == 1 and "--workers and the other Ray options need --engine ray" in proc.stderr


def trial_overrides(tiny_transformer, demo_corpus):
    return {"paths.train": str(demo_corpus / "train.spacy"), "paths.dev": str(demo_corpus / "dev.spacy"),
            "components.transformer.model.name": str(tiny_transformer), "checks.max_misaligned": 0.01}


@pytest.mark.slow
def test_sweep_trials_run_as_ray_tasks_and_a_rerun_skips_them(tmp_path, tiny_transformer, demo_corpus,
                                                               local_ray, capsys):
    from spacy_bert_ner.experiments.sweep import sweep
    from spacy_bert_ner.experiments.trials import RayTrials

    overrides = trial_overrides(tiny_transformer, demo_corpus)
    result = sweep(CONFIG, tmp_path, ["lr=0.001,0.002"], budget_steps=10, overrides=overrides, ray=RayTrials())
    assert [t["status"] for t in result["trials"]] == ["done", "done"]
    assert (Path(result["best"]["model"]) / "meta.json").is_file() and (tmp_path / "best.cfg").is_file()
    recorded = json.loads((tmp_path / "results.json").read_text(encoding="utf8"))
    assert sorted(t["id"] for t in recorded["trials"]) == sorted(t["id"] for t in result["trials"])
    capsys.readouterr()
    again = sweep(CONFIG, tmp_path, ["lr=0.001,0.002"], budget_steps=10, overrides=overrides, ray=RayTrials())
    assert capsys.readouterr().out.count("finished before, skipped") == 2
    assert again["best"]["id"] == result["best"]["id"]
    with pytest.raises(UserError, match="--gpus-per-trial"):
        sweep(CONFIG, tmp_path / "gpu", ["lr=0.003"], budget_steps=10, overrides=overrides, gpu_id=0,
              ray=RayTrials())


@pytest.mark.slow
def test_cv_folds_train_and_are_scored_as_ray_tasks(tmp_path, tiny_transformer, demo_corpus, local_ray):
    from spacy_bert_ner.experiments.cv import cross_validate
    from spacy_bert_ner.experiments.trials import RayTrials

    overrides = trial_overrides(tiny_transformer, demo_corpus)
    del overrides["paths.train"], overrides["paths.dev"]
    overrides["checks.max_misaligned"] = 0.05  # "Varde Å." is 1 of a fold's 54 entities
    summary = cross_validate(CONFIG, demo_corpus / "dev.spacy", tmp_path, folds=2, max_steps=10,
                             n_bootstrap=10, overrides=overrides, ray=RayTrials())
    assert [f["fold"] for f in summary["per_fold"]] == [0, 1]
    assert all((tmp_path / f"fold{k}" / "eval" / "metrics.json").is_file() for k in (0, 1))
    assert sum(f["n_gold"] for f in summary["per_fold"]) == len(
        [e for d in spacy.tokens.DocBin().from_disk(demo_corpus / "dev.spacy").get_docs(spacy.blank("da").vocab)
         for e in d.ents])
    assert not (tmp_path / "fold0" / "model-best").exists()  # models are not kept unless asked for
