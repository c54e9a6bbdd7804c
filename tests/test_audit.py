"""`audit`: the ranking of disagreements (pure) and the command on a small corpus (slow)."""
import json
import subprocess
import sys

import numpy
import pytest

from conftest import CONFIG, DEMO, ROOT
from spacy_bert_ner.evaluation.label_issues import (
    MISSING,
    SPURIOUS,
    WRONG_BOUNDARY,
    WRONG_TYPE,
    Issue,
    count,
    find_issues,
    kind_weights,
    rank,
    token_marginals,
)


def test_a_confident_prediction_without_annotation_is_missing():
    issues = find_issues([(5, 6, "LOC")], [(0, 2, "PER", 0.9), (5, 6, "LOC", 0.8)], {})
    assert issues == [Issue(MISSING, 0.9, None, (0, 2, "PER", 0.9))]


def test_an_annotation_the_model_gives_no_mass_is_spurious():
    # the only mass near tokens 2..4 is 0.1 on the span itself and 0.2 on an overlapping one
    probs = {(2, 4, "LOC"): 0.1, (3, 5, "ORG"): 0.2, (7, 8, "PER"): 0.6}
    (issue,) = find_issues([(2, 4, "LOC")], [], probs)
    assert issue.kind == SPURIOUS and issue.predicted is None and issue.annotated == (2, 4, "LOC")
    assert issue.score == pytest.approx(0.7)
    # mass above 1 (overlapping spans of different parses) is no evidence below zero
    assert find_issues([(2, 4, "LOC")], [], {(2, 4, "PER"): 0.8, (2, 3, "PER"): 0.5})[0].score == 0.0


def test_same_span_other_label_is_wrong_type_scored_against_the_annotation():
    (issue,) = find_issues([(0, 2, "ORG")], [(0, 2, "PER", 0.8)], {(0, 2, "ORG"): 0.15, (0, 2, "PER"): 0.8})
    assert issue.kind == WRONG_TYPE and issue.label == "ORG"
    assert issue.score == pytest.approx(0.8 * 0.85)


def test_other_edges_are_wrong_boundary_one_row_per_annotated_entity():
    (issue,) = find_issues([(0, 2, "PER")], [(0, 3, "PER", 0.6)], {(0, 2, "PER"): 0.3})
    assert issue.kind == WRONG_BOUNDARY and issue.score == pytest.approx(0.42)
    assert (issue.start, issue.end) == (0, 3)
    # one prediction over two annotated entities: two boundary rows, and it is not "missing"
    merged = find_issues([(0, 1, "LOC"), (2, 3, "LOC")], [(0, 3, "LOC", 0.7)], {})
    assert [i.kind for i in merged] == [WRONG_BOUNDARY, WRONG_BOUNDARY]
    assert [i.annotated for i in merged] == [(0, 1, "LOC"), (2, 3, "LOC")]


def test_agreement_is_never_a_row():
    assert find_issues([(0, 2, "PER"), (4, 5, "LOC")], [(0, 2, "PER", 0.01), (4, 5, "LOC", 0.99)], {}) == []


def test_rank_puts_the_most_likely_errors_first_and_keeps_ties_in_order():
    gold = [(0, 1, "PER"), (3, 4, "LOC"), (6, 8, "ORG")]
    predicted = [(3, 4, "ORG", 0.9), (6, 7, "ORG", 0.5), (10, 11, "PER", 0.95)]
    probs = {(0, 1, "PER"): 0.05, (3, 4, "LOC"): 0.05, (6, 8, "ORG"): 0.3}
    issues = find_issues(gold, predicted, probs)
    assert [i.kind for i in issues] == [SPURIOUS, WRONG_TYPE, WRONG_BOUNDARY, MISSING]  # text order
    ranked = [issue for _, issue, _ in rank((i, {}) for i in issues)]
    assert [i.kind for i in ranked] == [SPURIOUS, MISSING, WRONG_TYPE, WRONG_BOUNDARY]
    assert [round(i.score, 3) for i in ranked] == [0.95, 0.95, 0.855, 0.35]
    tie = rank([(Issue(MISSING, 0.5, None, (0, 1, "X", 0.5)), {"n": 1}),
                (Issue(MISSING, 0.5, None, (2, 3, "X", 0.5)), {"n": 2})])
    assert [where["n"] for _, _, where in tie] == [1, 2]
    assert count(ranked)[WRONG_TYPE] == {"LOC": 1} and count(ranked)[MISSING] == {"PER": 1}


def test_a_kind_the_model_produces_often_weighs_less():
    # 10 annotated and 8 predicted entities: 4 spurious rows (rate 0.4), 1 wrong type (0.1), 2 missing (0.25)
    issues = ([Issue(SPURIOUS, 0.9, (i, i + 1, "PER"), None) for i in range(4)]
              + [Issue(WRONG_TYPE, 0.8, (10, 11, "LOC"), (10, 11, "ORG", 0.8))]
              + [Issue(MISSING, 0.7, None, (20 + i, 21 + i, "PER", 0.7)) for i in range(2)])
    weights = kind_weights(issues, n_annotated=10, n_predicted=8)
    assert weights == pytest.approx({SPURIOUS: 0.25, WRONG_TYPE: 1.0, MISSING: 0.4, WRONG_BOUNDARY: 1.0})
    ranked = rank([(issue, None) for issue in issues], weights)
    assert [issue.kind for _, issue, _ in ranked] == [WRONG_TYPE, MISSING, MISSING] + [SPURIOUS] * 4
    assert ranked[0][0] == pytest.approx(0.8) and ranked[-1][0] == pytest.approx(0.225)
    assert kind_weights([], 10, 8) == {kind: 1.0 for kind in (MISSING, SPURIOUS, WRONG_TYPE, WRONG_BOUNDARY)}


def test_token_marginals_are_distributions_from_span_mass():
    probs = token_marginals(4, {(0, 2, "PER"): 0.7, (1, 2, "LOC"): 0.2, (3, 4, "LOC"): 0.9, (3, 4, "PER"): 0.6},
                            ["LOC", "PER"])
    assert probs.shape == (4, 3)
    numpy.testing.assert_allclose(probs.sum(axis=1), 1.0)
    numpy.testing.assert_allclose(probs[0], [0.3, 0.0, 0.7])
    numpy.testing.assert_allclose(probs[1], [0.1, 0.2, 0.7])
    numpy.testing.assert_allclose(probs[2], [1.0, 0.0, 0.0])
    numpy.testing.assert_allclose(probs[3], [0.0, 0.6, 0.4])  # 1.5 of mass scaled to 1


INJECTED = "regnede"  # an ordinary verb of the demo's first sentence, annotated PER below


@pytest.mark.slow
def test_audit_two_folds_writes_ranked_rows_and_review_files(tmp_path, tiny_transformer):
    corpus = tmp_path / "train.iob2"
    text = (DEMO / "train.iob2").read_text(encoding="utf8")
    assert f"2\t{INJECTED}\tO\n" in text
    corpus.write_text(text.replace(f"2\t{INJECTED}\tO\n", f"2\t{INJECTED}\tB-PER\n", 1), encoding="utf8")
    out = tmp_path / "audit"
    args = [sys.executable, "-m", "spacy_bert_ner", "audit", str(CONFIG), str(corpus), "-o", str(out),
            "--folds", "2", "--max-steps", "30", "--top", "5",
            "--components.transformer.model.name", str(tiny_transformer), "--training.batcher.size", "2000",
            "--training.optimizer.learn_rate.warmup_steps", "5",
            "--initialize.after_init.encoder_lr_scale", "1.0",
            "--initialize.after_init.freeze_word_embeddings", "false", "--checks.max_misaligned", "0.01"]
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]

    rows = [json.loads(line) for line in (out / "issues.jsonl").read_text(encoding="utf8").splitlines()]
    assert rows and [r["rank"] for r in rows] == list(range(1, len(rows) + 1))
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    assert {r["kind"] for r in rows} <= {MISSING, SPURIOUS, WRONG_TYPE, WRONG_BOUNDARY} and {r["fold"] for r in rows} == {0, 1}
    # the injected annotation is a disagreement in the first sentence of the first document
    injected = [r for r in rows if r["annotated"] and r["annotated"]["text"] == INJECTED
                and r["annotated"]["label"] == "PER" and r["document"] == 0]
    assert injected and injected[0]["sentence"] == 0 and injected[0]["kind"] != MISSING
    assert injected[0]["sentence_text"].startswith("Det regnede")
    row = rows[0]  # offsets are the document's characters
    assert row["start"] >= row["sentence_start"] and row["end"] <= row["sentence_start"] + len(row["sentence_text"]) + 1

    report = (out / "report.md").read_text(encoding="utf8")
    assert "| kind |" in report and "## Top 5 rows" in report and "⟦" in report
    summary = json.loads((out / "audit.json").read_text(encoding="utf8"))
    assert summary["issues"] == len(rows) and sum(summary["per_kind"].values()) == len(rows)

    # one review task per sentence with rows, holding the sentence's annotation as it is
    tasks = json.loads((out / "label_studio.json").read_text(encoding="utf8"))
    prodigy = [json.loads(line) for line in (out / "prodigy.jsonl").read_text(encoding="utf8").splitlines()]
    assert len(tasks) == len(prodigy) == len({(r["document"], r["sentence"]) for r in rows})
    first = next(t for t in tasks if t["data"]["document"] == 0 and t["data"]["sentence"] == 0)
    result = first["predictions"][0]["result"]
    assert [(r["value"]["text"], r["value"]["labels"]) for r in result] == [(INJECTED, ["PER"])]
    assert any(i["annotated"] == f"{INJECTED} (PER)" for i in first["data"]["issues"])
    assert prodigy[tasks.index(first)]["spans"][0]["token_start"] == 1
    assert '<Label value="PER"/>' in (out / "label_studio_config.xml").read_text(encoding="utf8")

    # a rerun skips the trained folds and ranks the same rows
    again = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    assert again.returncode == 0 and again.stdout.count("finished before, skipped") == 2
    assert (out / "issues.jsonl").read_text(encoding="utf8").splitlines() == [json.dumps(r, ensure_ascii=False) for r in rows]
