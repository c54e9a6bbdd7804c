"""bench_serve in a seconds-long mode on a tiny model: it serves, loads, measures and writes."""
import json

import pytest

from benchmarks.tests.conftest import DEMO

pytest.importorskip("fastapi")
pytest.importorskip("psutil")


@pytest.fixture(scope="module")
def ruler_model(tmp_path_factory):
    """A Danish pipeline with an entity ruler: the service's whole path without an encoder's time."""
    import spacy

    nlp = spacy.blank("da")
    nlp.add_pipe("entity_ruler").add_patterns([{"label": "LOC", "pattern": "København"}])
    path = tmp_path_factory.mktemp("bench-serve") / "model"
    nlp.to_disk(path)
    return path


@pytest.mark.slow
def test_bench_serve_quick_mode_writes_its_figures(ruler_model, tmp_path):
    from benchmarks import bench_serve

    output = tmp_path / "serve.json"
    bench_serve.main([str(ruler_model), "--data", str(DEMO / "test.iob2"), "--concurrency", "1,4",
                      "--requests", "30", "--max-seconds", "10", "--memory-marks", "20,60", "--output", str(output)])
    results = json.loads(output.read_text(encoding="utf8"))
    assert results["nlp_pipe"]["texts_per_s"] > 0
    assert [run["concurrency"] for run in results["runs"]] == [1, 4]
    for run in results["runs"]:
        assert run["requests"] == 30 and run["errors"] == 0
        assert run["latency_ms"]["p50"] <= run["latency_ms"]["p95"] <= run["latency_ms"]["p99"]
    assert [mark["requests"] for mark in results["memory"]["marks"]] == [20, 60]
    assert results["server_exit"] == 0
