"""The benchmark harness's bookkeeping: which checkpoint counts at a mark, resuming, the report."""
import numpy
import pytest

from benchmarks import harness, harness_report as report
from benchmarks.time_marks import MarkClock


def test_checkpoint_counts_only_for_marks_after_its_evaluation():
    clock = MarkClock([60, 120, 180])
    clock.begin(1000.0)
    assert clock.tick(1030.0) is False
    clock.new_best("step1", 0.2, 1030.0, step=1, words=100)
    # The evaluation that produced step2 ended at 65 s: mark 60 keeps step1.
    clock.tick(1065.0)
    assert clock.new_best("step2", 0.3, 1065.0, step=2, words=200) == []  # step1 is still needed by mark 60
    assert clock.tick(1125.0) is False
    assert clock.new_best("step3", 0.4, 1126.0, step=3, words=300) == []  # step2 is mark 120's
    clock.new_best("step4", 0.5, 1127.0, step=4, words=400)
    marks = clock.to_dict()["marks"]
    assert [marks[m]["snapshot"] for m in ("60", "120")] == ["step1", "step2"]
    assert clock.tick(1181.0) is True
    assert clock.at_mark[180.0][0]["snapshot"] == "step4"
    assert clock.snapshots() == ["step1", "step2", "step4"]


def test_unneeded_snapshot_is_released_and_unreached_marks_get_the_final_best():
    clock = MarkClock([60, 600])
    clock.begin(0.0)
    clock.new_best("a", 0.1, 5.0, step=1, words=10)
    assert clock.new_best("b", 0.2, 10.0, step=2, words=20) == ["a"]
    clock.tick(70.0)
    clock.finish(300.0)  # converged (patience) before the 600 s mark
    marks = clock.to_dict()["marks"]
    assert (marks["60"]["snapshot"], marks["60"]["reached"]) == ("b", True)
    assert (marks["600"]["snapshot"], marks["600"]["reached"]) == ("b", False)


def test_mark_before_any_checkpoint_has_none():
    clock = MarkClock([1])
    clock.begin(0.0)
    assert clock.tick(2.0) is True
    clock.finish(2.0)
    assert clock.to_dict()["marks"]["1"] == {"snapshot": None, "reached": True}


def test_memory_is_sampled_with_time_and_step():
    clock = MarkClock([60])
    clock.begin(0.0)
    clock.sample_memory(12.5, step=3)
    held = b"\x01" * (64 << 20)  # written, so resident: the peak cannot fall below it
    clock.sample_memory(30.0, step=6)
    del held
    first, second = clock.to_dict()["memory"]
    assert (first["seconds"], first["step"], second["step"]) == (12.5, 3, 6)
    assert 0 < first["rss_mb"] <= first["peak_mb"] <= second["peak_mb"]
    assert second["peak_mb"] >= first["rss_mb"] + 60


def run(system, encoder="e5", f1s=(0.1, 0.2), reached=(True, True), marks=("10", "20"), **extra):
    entries = {m: {"snapshot": f"s{m}", "reached": r, "inference_words_per_s": 1000.0, "model_mb": 50.0,
                   "test": {"ents_p": f, "ents_r": f, "ents_f": f, "ents_per_type": {"PER": {"p": f, "r": f, "f": f}}}}
               for m, f, r in zip(marks, f1s, reached)}
    return {"corpus": "da", "encoder": encoder, "system": system, "status": "done", "marks": entries,
            "train_words_per_s": 100.0, "peak_rss_mb": 1000.0, "trained_s": 1200, "words": 1e5, **extra}


def test_resume_skips_done_runs_and_merge_keeps_earlier_marks_of_the_same_setup():
    results = {"runs": {}, "invocations": []}
    key = report.run_key("da", "e5", "ours")
    spec = {"config_sha256": "a", "seed": 0, "marks_min": [10]}
    assert not report.is_done(results, key, [10], spec)
    report.merge_run(results, key, run("ours", f1s=(0.1,), marks=("10",), spec=spec))
    assert report.is_done(results, key, [10], spec) and not report.is_done(results, key, [10, 20], spec)
    later = {**spec, "marks_min": [20]}  # other marks, same setup
    report.merge_run(results, key, run("ours", f1s=(0.3,), marks=("20",), spec=later))
    assert list(results["runs"][key]["marks"]) == ["10", "20"] and report.is_done(results, key, [10, 20], spec)
    edited = {**spec, "config_sha256": "b"}  # the config changed: the record is stale
    assert not report.is_done(results, key, [10], edited)
    report.merge_run(results, key, run("ours", f1s=(0.5,), marks=("20",), spec=edited))
    assert list(results["runs"][key]["marks"]) == ["20"]
    results["runs"][key]["status"] = "failed"
    assert not report.is_done(results, key, [20], edited)


def test_results_file_roundtrip(tmp_path):
    path = tmp_path / "results.json"
    results = report.load_results(path)
    report.add_invocation(results, "python -m benchmarks.harness --quick")
    report.add_invocation(results, "python -m benchmarks.harness --quick")
    report.merge_run(results, "da/e5/ours", run("ours"))
    report.save_results(path, results)
    assert report.load_results(path) == results and results["invocations"] == ["python -m benchmarks.harness --quick"]


def test_report_tables_ratios_unreached_marks_and_cnn_in_every_encoder_group():
    results = {"runs": {
        "da/e5/ours": {**run("ours", f1s=(0.3, 0.5), train_words_per_s=300.0), "machine": "EPYC"},
        "da/e5/hf_recipe": {**run("hf_recipe", f1s=(0.1, 0.2)), "machine": "EPYC"},
        "da/minilm/hf_recipe": run("hf_recipe", encoder="minilm"),
        "da/none/spacy_cnn": run("spacy_cnn", encoder="none", f1s=(0.6, 0.66), reached=(True, False)),
        "da/e5/ours_tokcls": {"corpus": "da", "encoder": "e5", "system": "ours_tokcls", "status": "failed",
                              "error": "out of memory", "marks": {}},
    }, "invocations": ["python -m benchmarks.harness --corpus da"]}
    assert set(report.groups(results)) == {"da/e5", "da/minilm"}
    assert "spacy_cnn" in report.groups(results)["da/minilm"]
    text = report.render(results, {"date": "today", "machine": "cpu", "versions": {"spacy": "3.8"}},
                         {"da/e5": "plot.png"}, notes="Why: because.")
    assert "| ours | 0.300 | 0.500 |" in text
    assert "| spacy_cnn | 0.600 | 0.660* |" in text
    assert "| ours_tokcls | failed | failed |" in text
    assert "300 (3.00x)" in text  # training words/s relative to the recipe
    assert "ours F1 ≥ hf_recipe at every mark: yes (2 of 2 marks)" in text
    assert "ours above spacy_cnn at the last mark: no (0.500 vs 0.660)" in text
    assert "![Test F1 against training time, da/e5](plot.png)" in text
    assert "## Notes" in text and "python -m benchmarks.harness --corpus da" in text
    # the runs' machine, not the one the report happens to be written on
    assert "- runs measured on: not recorded (3 runs); EPYC (2 runs)" in text and "written: today on cpu" in text
    # one row per system at its last mark, F1 per type beside P / R / F1; the targets on one line
    assert "| system | P / R / F1 | PER | training words/s |" in text
    assert "| ours | 0.500 / 0.500 / 0.500 | 0.500 | 300 (3.00x) |" in text
    assert "Targets: ours F1 ≥ hf_recipe at every mark: yes (2 of 2 marks) · ours inference faster" in text


def test_a_group_with_one_mark_has_no_redundant_f1_table_unless_a_cell_says_more():
    one_mark = {"ours": run("ours", f1s=(0.5,), marks=("10",)), "hf_recipe": run("hf_recipe", f1s=(0.2,), marks=("10",))}
    text = "\n".join(report.render_group("pt/e5", one_mark, None))
    assert "### pt/e5 (one mark: 10 min)" in text and "| 10 min |" not in text
    assert "| ours | 0.500 / 0.500 / 0.500 | 0.500 |" in text  # its F1 at the mark is still there
    ended = {**one_mark, "hf_recipe": run("hf_recipe", f1s=(0.2,), marks=("10",), reached=(False,))}
    assert "| hf_recipe | 0.200* |" in "\n".join(report.render_group("pt/e5", ended, None))
    seeds = report.groups({"runs": {report.run_key("da", "e5", "ours", seed): run("ours", f1s=(f,), marks=("10",),
                                                                               spec={"seed": seed})
                                    for seed, f in enumerate((0.5, 0.7))}})["da/e5"]
    assert "| ours | 0.600 ± 0.141 (n=2) |" in "\n".join(report.render_group("da/e5", seeds, None))


def test_report_only_rewrites_the_report_and_leaves_the_results_file_alone(tmp_path):
    results, notes, out = tmp_path / "results.json", tmp_path / "notes.md", tmp_path / "report.md"
    report.save_results(results, {"runs": {"da/e5/ours": run("ours")}, "invocations": ["python -m benchmarks.harness x"]})
    before = results.read_bytes()
    notes.write_text("### A topic\n\nWhat it shows.\n", encoding="utf8")
    harness.main(["--report-only", "--out", str(results), "--report", str(out), "--notes", str(notes)])
    text = out.read_text(encoding="utf8")
    assert results.read_bytes() == before
    assert "### da/e5" in text and "### A topic" in text and "    python -m benchmarks.harness x" in text
    assert (tmp_path / "results_da_e5.png").is_file()
    with pytest.raises(SystemExit):
        harness.main(["--report-only", "--out", str(tmp_path / "none.json"), "--report", str(out)])


def test_benchmarks_md_from_the_results_is_a_results_page_of_at_most_400_lines():
    """What `--report-only` writes from the project's results and notes: short, and no dated notebook."""
    import re

    results = report.load_results(harness.RESULTS / "harness.json")
    notes = harness.NOTES.read_text(encoding="utf8")
    plots = {name: f"benchmarks/results/harness_{name.replace('/', '_')}.png" for name in report.groups(results)}
    text = report.render(results, {"date": "today", "machine": "cpu", "versions": {"spacy": "3.8"}}, plots, notes)
    assert len(text.splitlines()) <= 400
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b|\bsession\b|\bissue \d", notes, re.IGNORECASE)


def test_a_run_that_ended_before_a_later_mark_counts_with_its_final_best():
    """The recipe finished its epochs at 28 minutes: at 80 it still has that model, and ours is compared with it."""
    runs = {"ours": run("ours", f1s=(0.5, 0.78), marks=("40", "80"), reached=(True, False)),
            "hf_recipe": run("hf_recipe", f1s=(0.79,), marks=("40",), reached=(False,))}
    assert report.entry_at(runs["hf_recipe"], "80")["test"]["ents_f"] == 0.79
    assert report.mark_cell(runs["hf_recipe"], "80") == "0.790*"
    assert report.targets(runs)[0] == ("- ours F1 ≥ hf_recipe at every mark: no (0 of 2 marks; "
                                       "40 min: 0.500 vs 0.790; 80 min: 0.780 vs 0.790)")
    still_training = {**runs, "hf_recipe": run("hf_recipe", f1s=(0.4,), marks=("40",))}
    assert report.mark_cell(still_training["hf_recipe"], "80") == "–"
    assert report.targets(still_training)[0] == "- ours F1 ≥ hf_recipe at every mark: yes (1 of 1 marks)"


def test_plot_draws_each_system_at_its_marks_and_a_band_over_seeds(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    figures = []
    monkeypatch.setattr(plt, "close", figures.append)  # keep each figure to look at what it shows
    runs = {"ours": run("ours", f1s=(0.4, 0.6)), "hf_recipe": run("hf_recipe", f1s=(0.2, 0.5))}
    assert report.plot_group("da/e5", runs, tmp_path / "f1.png").read_bytes()[:4] == b"\x89PNG"
    lines = {line.get_label(): line.get_xydata().tolist() for line in figures[0].axes[0].get_lines()}
    assert lines == {"hf_recipe": [[10.0, 0.2], [20.0, 0.5]], "ours": [[10.0, 0.4], [20.0, 0.6]]}
    assert len(figures[0].axes[0].collections) == 0  # one seed each: no band

    seeds = report.groups({"runs": seeded([(0.5, 0.7), (0.6, 0.8)])})["da/e5"]
    report.plot_group("da/e5", seeds, tmp_path / "band.png")
    axes = figures[1].axes[0]
    [mean] = axes.get_lines()
    assert mean.get_label() == "ours (mean of 2 seeds)" and numpy.allclose(mean.get_xydata(), [[10, 0.55], [20, 0.75]])
    [band] = axes.collections  # ± one standard deviation around the mean
    low, high = band.get_paths()[0].vertices[:, 1].min(), band.get_paths()[0].vertices[:, 1].max()
    assert low < 0.55 and high > 0.75


def seeded(f1s_per_seed, system="ours"):
    return {report.run_key("da", "e5", system, seed): run(system, f1s=f1s, spec={"seed": seed})
            for seed, f1s in enumerate(f1s_per_seed)}


def test_several_seeds_report_mean_and_spread_and_a_difference_within_it_is_no_win():
    results = {"runs": {**seeded([(0.50, 0.70), (0.60, 0.80), (0.70, 0.75)]),
                        "da/e5/hf_recipe": run("hf_recipe", f1s=(0.58, 0.60))}, "invocations": []}
    assert "da/e5/ours/seed2" in results["runs"]
    runs = report.groups(results)["da/e5"]
    assert [report.seed_of(r) for r in runs["ours"]["seeds"]] == [0, 1, 2]
    assert report.spread(runs["hf_recipe"], "10") is None  # one seed: no spread
    assert report.mark_cell(runs["ours"], "10") == "0.600 ± 0.100 (n=3)"
    assert report.mark_cell(runs["ours"], "20") == "0.750 ± 0.050 (n=3)"
    # 10 min: mean 0.600 vs 0.58, inside the spread: level; 20 min: 0.750 vs 0.60, a real lead
    assert report.targets(runs)[0] == ("- ours F1 ≥ hf_recipe at every mark: yes (2 of 2 marks); "
                                       "level within the seeds' spread at 10 min")
    behind = {**results["runs"], "da/e5/hf_recipe": run("hf_recipe", f1s=(0.58, 0.90))}
    assert report.targets(report.groups({"runs": behind})["da/e5"])[0] == (
        "- ours F1 ≥ hf_recipe at every mark: no (1 of 2 marks; 20 min: 0.750 vs 0.900); "
        "level within the seeds' spread at 10 min")
    text = report.render(results, {}, {})
    assert "| ours | 0.600 ± 0.100 (n=3) | 0.750 ± 0.050 (n=3) |" in text


def test_arguments_quick_defaults_budget_and_unknown_names():
    args = harness.parse_args(["--quick", "--encoder", "x"])
    assert args.marks == [0.5, 1.0] and args.out.name == "harness_quick.json" and args.report.name == "harness_quick.md"
    args = harness.parse_args(["--corpus", "pt,sr", "--budget-min", "40", "--encoder", "x"])
    assert args.marks == [40.0] and args.corpus == ["pt", "sr"] and args.report.name == "BENCHMARKS.md"
    assert harness.parse_args(["--systems", "spacy_cnn"]).encoder is None
    assert harness.parse_args(["--encoder", "x", "--seed", "3", "--seeds", "2"]).seeds == 2
    for bad in (["--systems", "nope", "--encoder", "x"], ["--systems", "ours"], ["--corpus", "xx", "--encoder", "x"],
                ["--encoder", "x", "--seeds", "0"]):
        with pytest.raises(SystemExit):
            harness.parse_args(bad)


def test_words_per_step_follows_a_presets_batch_size(demo_train):
    """Dev is evaluated every N training words in every system, so a preset's batch size must count."""
    from pathlib import Path

    config, train = Path("configs/ner_trf.cfg"), demo_train
    small = harness.spacy_words_per_step(config, train, "da", {"training.batcher.size": 500})
    large = harness.spacy_words_per_step(config, train, "da", {"training.batcher.size": 2000})
    assert small < 500 and large > 3 * small


def test_hf_recipe_labels_first_subwords_and_reads_them_back(tmp_path, tiny_transformer):
    import numpy
    import spacy
    from spacy.tokens import Doc, DocBin

    from benchmarks import hf_recipe

    words = ["Anne", "Kjærsgaard", "bor", "i", "Aarhusforstæderne", ".", "Hun", "smiler"]
    doc = Doc(spacy.blank("da").vocab, words=words, sent_starts=[i in (0, 6) for i in range(len(words))],
              ents=["B-PER", "I-PER", "O", "O", "B-LOC", "O", "O", "O"])
    DocBin(docs=[doc]).to_disk(tmp_path / "d.spacy")
    sentences = hf_recipe.read_sentences(tmp_path / "d.spacy", "da")
    assert sentences == [(words[:6], ["B-PER", "I-PER", "O", "O", "B-LOC", "O"]), (words[6:], ["O", "O"])]
    tags = sentences[0][1]
    labels = hf_recipe.label_list(sentences)
    label2id = {label: i for i, label in enumerate(labels)}
    features = hf_recipe.encode(hf_recipe.load_tokenizer(str(tiny_transformer)), sentences, label2id)
    first = features[0]
    assert len(first["input_ids"]) > 6 + 2  # special tokens and subwords of unseen words
    assert [labels[i] for i in first["labels"] if i != -100] == tags  # exactly one label per word
    # Logits that put the gold label on every labelled piece decode back to the gold tags.
    logits = [numpy.eye(len(labels))[[max(i, 0) for i in f["labels"]]] for f in features]
    assert hf_recipe.word_predictions(features, logits, dict(enumerate(labels)), sentences) == [t for _, t in sentences]
