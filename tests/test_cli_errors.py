"""Bad input stops the CLI with one message that says where and what to do, never a traceback."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args, cwd=None):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "spacy_bert_ner", *map(str, args)], capture_output=True,
                          text=True, env=env, cwd=cwd)


def assert_clean_error(result, *fragments):
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


def test_the_cause_of_an_error_is_shown_when_asked_for(tmp_path, monkeypatch, capsys):
    """One line for users, naming the cause; SPACY_BERT_NER_VERBOSE=1 prints the whole chain."""
    from spacy_bert_ner.cli import main

    corpus = tmp_path / "a.iob2"
    corpus.write_text("Kim\tB-PER\n\n", encoding="utf8")
    monkeypatch.setattr(sys, "argv", ["spacy-bert-ner", "convert", str(corpus), "--output", str(tmp_path / "out"),
                                      "--encoding", "no-such-codec"])
    message = "Error: unknown encoding 'no-such-codec' for --encoding; use e.g. utf-8 or latin-1"
    monkeypatch.delenv("SPACY_BERT_NER_VERBOSE", raising=False)
    with pytest.raises(SystemExit, match="1"):
        main()
    assert capsys.readouterr().err == (f"{message}\n(caused by LookupError; SPACY_BERT_NER_VERBOSE=1 shows the "
                                       "traceback)\n")
    monkeypatch.setenv("SPACY_BERT_NER_VERBOSE", "1")
    with pytest.raises(SystemExit, match="1"):
        main()
    err = capsys.readouterr().err
    assert "Traceback" in err and "LookupError: unknown encoding: no-such-codec" in err
    assert err.endswith(f"{message}\n")


def test_missing_corpus_file_is_named(tmp_path):
    missing = tmp_path / "nope.iob2"
    assert_clean_error(run_cli("convert", missing, "--output", tmp_path / "out"), "Error:", str(missing))


def test_empty_corpus_file_is_named(tmp_path):
    empty = tmp_path / "empty.iob2"
    empty.write_text("")
    assert_clean_error(run_cli("convert", empty, "--output", tmp_path / "out"), str(empty), "empty")


def test_malformed_line_is_located(tmp_path):
    bad = tmp_path / "bad.iob2"
    bad.write_text("Kim\tB-PER\nbor\tO\ni\tO\nAarhus\tQ-LOC\n\n", encoding="utf8")
    result = run_cli("convert", bad, "--output", tmp_path / "out")
    assert_clean_error(result, f"{bad}:4")


def test_unloadable_encoder_names_the_setting(tmp_path, demo_corpus):
    result = run_cli(
        "train", ROOT / "configs" / "ner_trf.cfg", "--output", tmp_path / "model",
        "--paths.train", demo_corpus / "train.spacy", "--paths.dev", demo_corpus / "dev.spacy",
        "--components.transformer.model.name", "no-such-org/no-such-bert",
    )
    assert_clean_error(result, "no-such-org/no-such-bert", "components.transformer.model.name", "HF_HUB_OFFLINE")


def test_missing_model_for_evaluate_is_named(tmp_path, demo_corpus):
    result = run_cli("evaluate", tmp_path / "no-model", demo_corpus / "test.spacy", "--output", tmp_path / "m")
    assert_clean_error(result, "no-model")


@pytest.mark.parametrize("what", ["model", "name"])
def test_package_rejects_bad_input(tmp_path, what):
    model = tmp_path / "not-a-model"
    model.mkdir()
    name = "tiny_ner" if what == "model" else "not-valid-name"
    if what == "name":
        (model / "config.cfg").write_text("[nlp]\nlang = \"da\"\n")
    result = run_cli("package", model, "--output", tmp_path / "pk", "--name", name)
    assert_clean_error(result, "Error:")
