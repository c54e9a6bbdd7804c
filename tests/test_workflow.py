"""The spine end to end: train, reload, package into a wheel that loads on its own (the demo workflow
runs in test_readme_examples.py, as the README's first line)."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
from spacy.tokens import DocBin

from spacy_bert_ner.errors import UserError
from spacy_bert_ner.inference.packaging import package
from spacy_bert_ner.training.train import train

from conftest import CONFIG, tiny_overrides

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def gold_labels(path: Path, nlp) -> set:
    return {ent.label_ for doc in DocBin().from_disk(path).get_docs(nlp.vocab) for ent in doc.ents}


def predicted(nlp, texts):
    return [[(e.start_char, e.end_char, e.label_) for e in doc.ents] for doc in nlp.pipe(texts)]


def test_training_saves_a_model_that_reloads_and_predicts_known_labels(trained, demo_corpus):
    nlp = spacy.load(trained)
    assert nlp.pipe_names == ["transformer", "ner", "bert_ner_confidence", "bert_ner_overlap"]
    labels = gold_labels(demo_corpus / "train.spacy", nlp)
    docs = list(DocBin().from_disk(demo_corpus / "train.spacy").get_docs(nlp.vocab))
    texts = [doc.text for doc in docs[:60]]
    ents = [ent for doc_ents in predicted(nlp, texts) for ent in doc_ents]
    assert ents, "a model trained 150 steps on the demo corpus should find entities in its own training text"
    assert {label for _, _, label in ents} <= labels
    assert set(nlp.get_pipe("ner").labels) == labels
    meta = json.loads((trained / "meta.json").read_text())
    assert meta["performance"]["ents_f"] > 0


def test_training_stops_early_on_a_missing_corpus_or_encoder(tmp_path, demo_corpus, tiny_transformer):
    overrides = tiny_overrides(demo_corpus, tiny_transformer, steps=1)
    with pytest.raises(UserError, match="paths.dev"):
        train(CONFIG, tmp_path, -1, {**overrides, "paths.dev": str(tmp_path / "missing.spacy")})
    with pytest.raises(UserError, match="components.transformer.model.name"):
        train(CONFIG, tmp_path, -1, {**overrides, "components.transformer.model.name": str(tmp_path / "nope")})
    with pytest.raises(UserError, match="HF_HUB_OFFLINE"):
        train(CONFIG, tmp_path, -1, {**overrides, "components.transformer.model.name": "no-such-org/no-such-bert"})
    assert not (tmp_path / "model-last").exists()


def test_wheel_installs_and_loads_without_the_encoder_directory(tmp_path, trained, demo_corpus):
    config = spacy.util.load_config(trained / "config.cfg")
    encoder_dir = Path(config["components"]["transformer"]["model"]["name"])
    assert encoder_dir.exists()
    wheel = package(trained, tmp_path / "packages", "tiny_ner", "0.0.1", corpus="demo", corpus_license="MIT")
    assert wheel.name == "da_tiny_ner-0.0.1-py3-none-any.whl"
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site),
                    str(wheel)], check=True)
    texts = [doc.text for doc in DocBin().from_disk(demo_corpus / "test.spacy").get_docs(spacy.blank("da").vocab)]
    expected = predicted(spacy.load(trained), texts[:20])
    shutil.move(str(encoder_dir), str(tmp_path / "moved-away"))
    try:
        script = (
            "import json, sys, spacy\n"
            f"sys.path.insert(0, {str(site)!r})\n"
            "nlp = spacy.load('da_tiny_ner')\n"
            "texts = json.loads(sys.stdin.read())\n"
            "print(json.dumps([[[e.start_char, e.end_char, e.label_] for e in d.ents] for d in nlp.pipe(texts)]))\n"
            "print(json.dumps(nlp.meta['sources']))\n"
        )
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        result = subprocess.run([sys.executable, "-c", script], input=json.dumps(texts[:20]), env=env,
                                capture_output=True, text=True, cwd=tmp_path)
    finally:
        shutil.move(str(tmp_path / "moved-away"), str(encoder_dir))
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    assert [[tuple(e) for e in doc] for doc in json.loads(lines[-2])] == expected
    assert json.loads(lines[-1]) == [{"name": "demo", "license": "MIT"}]

