"""bench_audit: the injected errors are what it records, its measures count right, the tiny mode runs."""
import json
import subprocess
import sys
from collections import Counter

import pytest
import spacy

from benchmarks.bench_audit import MOVED, REMOVED, RETYPED, at, found, inject, random_p_r
from spacy_bert_ner.readers import read_corpus

from .conftest import DEMO, ROOT


def demo_docs():
    return read_corpus(DEMO / "train.iob2", spacy.blank("da").vocab)[0]


def test_injected_errors_are_seeded_recorded_and_the_only_changes():
    clean, noisy = demo_docs(), demo_docs()
    errors = inject(noisy, seed=3)
    n = round(0.05 * sum(len(doc.ents) for doc in clean))
    assert Counter(e["kind"] for e in errors) == {REMOVED: n, RETYPED: n, MOVED: n}
    assert errors == inject(demo_docs(), seed=3) and errors != inject(demo_docs(), seed=4)
    ents = lambda doc: {(e.start, e.end, e.label_) for e in doc.ents}  # noqa: E731
    for i, (before, after) in enumerate(zip(clean, noisy)):
        mine = [e for e in errors if e["document"] == i]
        originals = {tuple(e["original"]) for e in mine}
        injected = {tuple(e["injected"]) for e in mine if e["injected"]}
        assert ents(after) == (ents(before) - originals) | injected
    for error in errors:
        (s, e, label), new = error["original"], error["injected"]
        if error["kind"] == RETYPED:
            assert new[:2] == [s, e] and new[2] != label
        elif error["kind"] == MOVED:
            assert new[2] == label and abs(new[0] - s) + abs(new[1] - e) == 1
        doc = clean[error["document"]]
        assert doc.text[error["start"]:error["end"]].strip()  # the place, in characters


def test_a_row_finds_an_error_it_overlaps_in_the_same_document():
    errors = [(0, 10, 15), (0, 30, 35), (1, 0, 5)]
    rows = [(0, 12, 20), (1, 10, 12), (0, 14, 16), (2, 0, 5), (1, 3, 4)]
    hits, seen = found(rows, errors)
    assert hits == [True, False, True, False, True] and seen == {0, 2}
    assert at(rows, errors, 3) == {"k": 3, "rows": 3, "precision": 2 / 3, "recall": 1 / 3}
    assert at(rows, errors, 6)["rows"] == 5 and at(rows, errors, 6)["recall"] == 2 / 3
    shuffled = random_p_r(rows, errors, seed=0)
    assert shuffled["at_2N"]["precision"] == pytest.approx(3 / 5)  # all rows: order does not matter
    assert 0 < shuffled["at_N"]["precision"] < 1


@pytest.mark.slow
def test_tiny_mode_runs_the_whole_benchmark(tmp_path):
    out = tmp_path / "audit.json"
    proc = subprocess.run([sys.executable, "-m", "benchmarks.bench_audit", "--tiny", "--corpus", "injected",
                           "--workdir", str(tmp_path / "work"), "--output", str(out)],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())["injected"]
    assert result["run"]["status"] == "done" and len(result["run"]["held_out_f1"]) == 2
    assert result["injected_per_kind"] == {REMOVED: 31, RETYPED: 31, MOVED: 31}
    errors = (tmp_path / "work" / "injected" / "errors.jsonl").read_text().splitlines()
    assert len(errors) == result["injected"] == 93
    for name in ("ours", "random"):
        for k in ("at_N", "at_2N"):
            assert 0 <= result[name][k]["precision"] <= 1 and 0 <= result[name][k]["recall"] <= 1
    assert set(result["per_kind"]) == {REMOVED, RETYPED, MOVED}
    if result["cleanlab"] is not None:
        assert result["cleanlab"]["at_N"]["k"] == 93
    assert "P / R at N" in proc.stdout
