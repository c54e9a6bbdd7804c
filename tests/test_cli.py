"""The command line as spaCy's plugin: `python -m spacy bert-ner` is `spacy-bert-ner`."""
import os
import subprocess
import sys


def run(*args):
    env = {**os.environ, "COLUMNS": "120", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, env=env)


def test_spacy_lists_the_plugin_and_it_shows_the_same_commands_and_options():
    assert "bert-ner" in run("spacy", "--help").stdout
    for command in ([], ["predict"], ["sweep"]):
        ours, plugin = run("spacy_bert_ner", *command, "--help"), run("spacy", "bert-ner", *command, "--help")
        assert ours.returncode == plugin.returncode == 0, ours.stderr + plugin.stderr
        assert plugin.stdout.replace("python -m spacy bert-ner", "python -m spacy_bert_ner") == ours.stdout
    listing = run("spacy", "bert-ner", "--help").stdout
    assert all(name in listing for name in ("convert", "train", "evaluate", "package", "predict", "prepare-encoder"))


def test_the_plugin_stops_on_bad_input_with_the_same_one_line_error(tmp_path):
    missing = tmp_path / "nope.iob2"
    ours = run("spacy_bert_ner", "convert", str(missing), "--output", str(tmp_path / "a"))
    plugin = run("spacy", "bert-ner", "convert", str(missing), "--output", str(tmp_path / "a"))
    assert ours.returncode == plugin.returncode == 1
    assert plugin.stderr == ours.stderr and str(missing) in ours.stderr and "Traceback" not in ours.stderr
