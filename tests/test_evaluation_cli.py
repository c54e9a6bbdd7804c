"""`spacy-bert-ner evaluate` end to end on a rule-based pipeline (no transformer needed)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
from spacy.tokens import Doc, DocBin
from typer.testing import CliRunner

from spacy_bert_ner.cli import app
from spacy_bert_ner.errors import CorpusError, UserError

SENTENCES = [
    (["Anna", "bor", "i", "Aarhus", "."], ["B-PER", "O", "O", "B-LOC", "O"]),
    (["Novo", "Nordisk", "ligger", "i", "Bagsværd", "."], ["B-ORG", "I-ORG", "O", "O", "B-LOC", "O"]),
    (["Intet", "her", "."], ["O", "O", "O"]),
    (["Peter", "Hansen", "besøgte", "Aarhus", "."], ["B-PER", "I-PER", "O", "B-LOC", "O"]),
    (["Anna", "arbejder", "for", "Novo", "."], ["B-PER", "O", "O", "B-ORG", "O"]),
]
PATTERNS = [
    {"label": "PER", "pattern": "Anna"},
    {"label": "PER", "pattern": "Peter"},            # too narrow for "Peter Hansen"
    {"label": "LOC", "pattern": "Aarhus"},
    {"label": "ORG", "pattern": "Novo"},             # too narrow for "Novo Nordisk"
    {"label": "LOC", "pattern": "her"},              # spurious
]


def make_model(path: Path, patterns) -> Path:
    nlp = spacy.blank("da")
    nlp.add_pipe("entity_ruler").add_patterns(patterns)
    nlp.to_disk(path)
    return path


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("evaluate")
    nlp = spacy.blank("da")
    db = DocBin()
    for _ in range(4):
        for words, tags in SENTENCES:
            db.add(Doc(nlp.vocab, words=words, spaces=[True] * len(words), ents=tags))
    # One document of two sentences: scored and bootstrapped per sentence.
    words = SENTENCES[0][0] + SENTENCES[3][0]
    doc = Doc(nlp.vocab, words=words, spaces=[True] * len(words), ents=SENTENCES[0][1] + SENTENCES[3][1],
              sent_starts=[True] + [False] * 4 + [True] + [False] * 4)
    db.add(doc)
    data = root / "test.spacy"
    db.to_disk(data)
    log = root / "train.jsonl"
    log.write_text("\n".join(json.dumps(line) for line in [
        {"epoch": 0, "step": 0, "losses": {"ner": 30.0}, "scores": {"ents_f": 0.0}, "score": 0.0},
        {"epoch": 1, "step": 200, "losses": {"ner": 12.5}, "scores": {"ents_f": 55.0}, "score": 0.55},
        {"epoch": 2, "step": 400, "losses": {"ner": 4.0}, "scores": {"ents_f": 71.0}, "score": 0.71},
    ]) + "\n")
    good = make_model(root / "good", PATTERNS)
    weak = make_model(root / "weak", [p for p in PATTERNS if p["label"] != "PER"])
    return root, data, log, good, weak


def run(*args):
    result = CliRunner().invoke(app, ["evaluate", *map(str, args)])
    return result


def test_evaluate_writes_all_outputs(setup):
    root, data, log, good, _ = setup
    out = root / "out"
    result = run(good, data, "--output", out, "--training-log", log, "--bootstrap", 200, "--seed", 3)
    assert result.exit_code == 0, result.output
    assert "ALL (micro)" in result.output
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf8"))
    # Per block of 5 sentences: gold 2+2+0+2+2, predicted 2+1+1+2+2, correct 2+0+0+1+2;
    # four blocks plus one document holding sentences 1 and 4.
    assert metrics["n_sentences"] == 22 and metrics["n_docs"] == 21
    assert metrics["ents_counts"]["gold"] == 36 and metrics["ents_counts"]["pred"] == 36
    assert metrics["ents_counts"]["tp"] == 4 * 5 + 3
    assert metrics["ents_p"] == pytest.approx(23 / 36) and metrics["ents_r"] == pytest.approx(23 / 36)
    assert set(metrics["ents_per_type"]) == {"PER", "LOC", "ORG"}
    assert set(metrics["ents_per_type"]["PER"]) == {"p", "r", "f"}
    for key in ("ents_macro_f", "ents_token_acc", "semeval", "confusion", "error_counts", "error_examples"):
        assert key in metrics
    assert metrics["error_counts"]["too_narrow"] == 4 * 2 + 1 and metrics["error_counts"]["spurious"] == 4
    assert metrics["error_counts"]["missed"] == 4
    lo, hi = metrics["bootstrap"]["ents_f"]
    assert 0 <= lo <= metrics["ents_f"] <= hi <= 1
    errors = [json.loads(line) for line in (out / "errors.jsonl").read_text(encoding="utf8").splitlines()]
    assert len(errors) == sum(metrics["error_counts"].values())
    narrow = next(e for e in errors if e["kind"] == "too_narrow" and e["gold"]["label"] == "ORG")
    assert narrow["text"] == "Novo Nordisk ligger i Bagsværd ."
    assert narrow["pred"]["text"] == "Novo" and narrow["gold"]["text"] == "Novo Nordisk"
    report = (out / "report.md").read_text(encoding="utf8")
    assert "too_narrow" in report and "![Training curve](training_curve.png)" in report
    for png in ("per_type_f1.png", "confusion.png", "training_curve.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Same seed, same intervals; a directory of .spacy files (as convert writes) reads the same.
    again = root / "again"
    assert run(good, data.parent, "--output", again, "--bootstrap", 200, "--seed", 3).exit_code == 0
    assert json.loads((again / "metrics.json").read_text())["bootstrap"] == metrics["bootstrap"]


def test_compare_is_paired_on_the_same_sentences(setup):
    root, data, _, good, weak = setup
    base = root / "weak_out"
    assert run(weak, data, "--output", base, "--bootstrap", 200).exit_code == 0
    out = root / "cmp_out"
    result = run(good, data, "--output", out, "--bootstrap", 200, "--compare", base / "metrics.json")
    assert result.exit_code == 0, result.output
    assert "Excludes 0" in result.output
    comparison = json.loads((out / "comparison.json").read_text())
    # Bootstrap units are cut at gold sentence boundaries only: the same for both models, so the
    # paired bootstrap never falls back, on raw text and on gold tokens alike.
    for tokenization in ("raw_text", "gold_tokens"):
        assert comparison[tokenization]["paired"] is True
        per = comparison[tokenization]["per_type"]
        # The weak model finds no PER at all; the good one finds "Anna" every time.
        assert per["PER"]["diff"] > 0 and per["PER"]["excludes_zero"] is True
        assert per["LOC"]["diff"] == 0 and per["LOC"]["excludes_zero"] is False
    assert "## Comparison" in (out / "report.md").read_text()
    assert "not possible" not in result.output


def test_missing_model_is_a_user_error(setup):
    root, data, *_ = setup
    result = run(root / "no_such_model", data, "--output", root / "x")
    assert isinstance(result.exception, UserError)
    assert "neither a pipeline directory nor an installed package" in str(result.exception)


def test_bad_training_log_names_file_and_line(setup):
    root, data, _, good, _ = setup
    bad = root / "bad.jsonl"
    bad.write_text('{"step": 1, "ents_f": 0.5}\nnot json\n')
    result = run(good, data, "--output", root / "y", "--training-log", bad)
    assert isinstance(result.exception, CorpusError)
    assert str(result.exception).startswith(f"{bad}:2:")


def test_cli_prints_error_without_traceback(setup, tmp_path):
    root, data, *_ = setup
    proc = subprocess.run([sys.executable, "-m", "spacy_bert_ner", "evaluate", "no_such_model_xyz", str(data),
                           "--output", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.startswith("Error: Model not found: no_such_model_xyz is neither")
    assert "Traceback" not in proc.stderr


def test_column_file_is_read_like_convert(setup, tmp_path):
    """DATA in a format `convert` reads gives the same scores as its .spacy conversion."""
    root, data, _, good, _ = setup
    conll = tmp_path / "test.iob2"
    conll.write_text("\n\n".join("\n".join(f"{w}\t{t}" for w, t in zip(words, tags))
                                 for words, tags in SENTENCES) + "\n", encoding="utf8")
    result = run(good, conll, "--output", tmp_path / "out", "--bootstrap", 50)
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["n_sentences"] == 5
    assert metrics["ents_counts"]["tp"] == 5 and metrics["ents_counts"]["gold"] == 8
    assert metrics["reader"]["sentences"] == 5 and metrics["reader"]["dropped"] == 0


@pytest.mark.parametrize("line,ents_f,losses", [
    ({"epoch": 1, "step": 200, "losses": {"ner": 2.0}, "scores": {"ents_f": 55.0}, "score": 0.5}, 0.55, {"ner": 2.0}),
    ({"epoch": 1, "step": 200, "losses": {"ner": 2.0}, "other_scores": {"ents_f": 0.55}, "score": 0.5}, 0.55, {"ner": 2.0}),
    ({"step": 200, "ents_f": 0.55, "loss": 2.0}, 0.55, {"loss": 2.0}),
])
def test_training_log_formats(tmp_path, line, ents_f, losses):
    from spacy_bert_ner.evaluation.training_log import read_training_log

    log = tmp_path / "log.jsonl"
    log.write_text(json.dumps(line) + "\n\n")
    (point,) = read_training_log(log)
    assert point["step"] == 200 and point["ents_f"] == pytest.approx(ents_f) and point["losses"] == losses


def test_units_are_cut_at_gold_sentence_boundaries_that_no_gold_entity_crosses():
    """The units depend on gold only; a predicted entity across a cut counts in the unit it starts in."""
    from spacy_bert_ner.evaluation.runner import to_sentences

    vocab = spacy.blank("da").vocab
    words = ["A", "b", ".", "C", "d", ".", "E", "f", ".", "G"]
    starts = [True, False, False, True, False, False, True, False, False, True]
    gold = Doc(vocab, words=words, sent_starts=starts, ents=["B-PER"] + ["O"] * 5 + ["B-LOC", "O", "B-ORG", "I-ORG"])
    pred = [(0, 1, "PER"), (2, 7, "ORG"), (12, 13, "LOC")]  # characters: "A", "b . C", "E"
    units, uncut, crossing = to_sentences(gold, pred, "gold_tokens")
    assert (uncut, crossing) == (1, 1)
    assert [u.tokens for u in units] == [words[:3], words[3:6], words[6:]]
    assert units[0].gold == [(0, 1, "PER")] and units[0].pred == [(0, 1, "PER"), (1, 4, "ORG")]
    assert units[2].gold == [(0, 1, "LOC"), (2, 4, "ORG")] and units[2].pred == [(0, 1, "LOC")]
    raw, _, _ = to_sentences(gold, pred, "raw_text")
    assert [u.text for u in raw] == ["A b .", "C d .", "E f . G"]
    assert raw[2].gold == [(0, 1, "LOC"), (4, 7, "ORG")] and raw[2].token_chars == [(0, 1), (2, 3), (4, 5), (6, 7)]


RAW_TEXT_CASES = [
    # words, spaces, gold tags; the Danish tokenizer splits the raw text otherwise
    (["Firmaet", "er", "U.S.", "-", "based", "."], [True, True, False, False, False, False],
     ["O", "O", "B-LOC", "O", "O", "O"]),
    (["Hun", "bor", "i", "Kbh", ".", "nu", "."], [True, True, True, False, True, False, False],
     ["O", "O", "O", "B-LOC", "O", "O", "O"]),
    (["Mødet", "i", "(", "EU", ")", "var", "kort", "."], [True, True, False, False, True, True, False, False],
     ["O", "O", "O", "B-ORG", "O", "O", "O", "O"]),
    (["Anna", "bor", "i", "Aarhus", "."], [True, True, True, False, False], ["B-PER", "O", "O", "B-LOC", "O"]),
]


def test_raw_text_score_counts_tokenization_errors_that_the_gold_token_score_hides(tmp_path):
    """A model that tags gold tokens right: on gold tokens it is perfect; on raw text the tokenizer keeps
    "U.S.-based" and "Kbh." whole, so those two entities cannot be found (hand count: 3 of 5 right)."""
    nlp = spacy.blank("da")
    docs = [Doc(nlp.vocab, words=w, spaces=sp, ents=t) for w, sp, t in RAW_TEXT_CASES]
    DocBin(docs=docs).to_disk(tmp_path / "test.spacy")
    assert [t.text for t in nlp("Firmaet er U.S.-based.")][2:] == ["U.S.-based", "."]
    assert "Kbh." in [t.text for t in nlp("Hun bor i Kbh. nu.")]
    model = make_model(tmp_path / "model", [{"label": "LOC", "pattern": p} for p in ("U.S.", "Kbh", "Aarhus")]
                       + [{"label": "ORG", "pattern": "EU"}, {"label": "PER", "pattern": "Anna"}])
    result = run(model, tmp_path / "test.spacy", "--output", tmp_path / "out", "--bootstrap", 20)
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    gold = metrics["gold_tokens"]
    assert metrics["tokenization"] == "raw_text"
    assert (gold["ents_counts"]["tp"], gold["ents_counts"]["gold"], gold["ents_f"]) == (5, 5, 1.0)
    assert (metrics["ents_counts"]["tp"], metrics["ents_counts"]["fn"], metrics["ents_counts"]["fp"]) == (3, 2, 0)
    assert metrics["ents_f"] == pytest.approx(2 * 3 / (2 * 3 + 2))
    assert metrics["misaligned_gold_entities"]["count"] == 2
    assert metrics["ents_token_acc"] < gold["ents_token_acc"] == 1.0
    report = (tmp_path / "out" / "report.md").read_text()
    assert "gold tokens" in report and "raw text" in report and "no prediction on raw text can match them" in report


def test_a_corpus_without_raw_text_gets_the_gold_token_score_only(tmp_path):
    nlp = spacy.blank("da")
    (tmp_path / "test.iob2").write_text("Anna\tB-PER\nbor\tO\ni\tO\nAarhus\tB-LOC\n\n", encoding="utf8")
    model = make_model(tmp_path / "model", [{"label": "PER", "pattern": "Anna"}])
    result = run(model, tmp_path / "test.iob2", "--output", tmp_path / "out", "--bootstrap", 20)
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["tokenization"] == "gold_tokens" and "gold_tokens" not in metrics
    assert "spacing" in metrics["raw_text_unavailable"] and "Only the gold-token score exists" in result.output
    del nlp


def test_compare_with_the_run_in_the_output_directory_itself(setup):
    """The earlier run is read before anything is overwritten: same model, zero difference."""
    root, data, _, good, _ = setup
    out = root / "self_cmp"
    assert run(good, data, "--output", out, "--bootstrap", 100).exit_code == 0
    result = run(good, data, "--output", out, "--bootstrap", 100, "--compare", out / "metrics.json")
    assert result.exit_code == 0, result.output
    comparison = json.loads((out / "comparison.json").read_text())
    for tokenization in ("raw_text", "gold_tokens"):
        block = comparison[tokenization]
        assert block["paired"] and all(r["interval"] == [0.0, 0.0] for r in block["per_type"].values())


def test_bad_compare_file_fails_before_the_model_runs(setup, tmp_path):
    root, data, *_ = setup
    result = run(root / "no_such_model", data, "--output", tmp_path / "z", "--compare", tmp_path / "missing.json")
    assert isinstance(result.exception, UserError) and "--compare" in str(result.exception)


def test_compare_without_sentence_counts_falls_back_to_intervals(setup, tmp_path):
    root, data, _, good, weak = setup
    base = tmp_path / "weak"
    assert run(weak, data, "--output", base, "--bootstrap", 100).exit_code == 0
    (base / "sentence_counts.json").unlink()
    result = run(good, data, "--output", tmp_path / "good", "--bootstrap", 100, "--compare", base)
    assert result.exit_code == 0, result.output
    comparison = json.loads((tmp_path / "good" / "comparison.json").read_text())["raw_text"]
    assert comparison["paired"] is False and "approximation" in comparison["method"]
    assert "paired bootstrap was not possible" in result.output  # said, not silent
    per = comparison["per_type"]["PER"]
    lo, hi = per["interval"]
    assert lo < per["diff"] < hi and per["diff"] == pytest.approx(per["this"] - per["other"])


@pytest.mark.slow
def test_a_document_longer_than_max_length_is_evaluated_in_pieces(tmp_path):
    """A gold document of over 1,000,000 characters (spaCy's max_length) is scored whole, on raw
    text and on gold tokens: no E088, every entity found at its offsets."""
    nlp = spacy.blank("da")
    words, tags, starts = [], [], []
    repeats = 44000
    for _ in range(repeats):
        words += ["Anna", "bor", "i", "Aarhus", "nu", "."]
        tags += ["B-PER", "O", "O", "B-LOC", "O", "O"]
        starts += [True] + [False] * 5
    doc = Doc(nlp.vocab, words=words, spaces=[True] * len(words), ents=tags, sent_starts=starts)
    assert len(doc.text) > 1_000_000
    DocBin(docs=[doc]).to_disk(tmp_path / "test.spacy")
    model = make_model(tmp_path / "model", [{"label": "PER", "pattern": "Anna"}, {"label": "LOC", "pattern": "Aarhus"}])
    result = run(model, tmp_path / "test.spacy", "--output", tmp_path / "out", "--bootstrap", 5)
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    for scores in (metrics, metrics["gold_tokens"]):
        assert scores["ents_counts"]["tp"] == scores["ents_counts"]["gold"] == 2 * repeats and scores["ents_f"] == 1.0
