"""Fixtures of the benchmarks' own tests: the shipped demo corpus and a tiny local transformer.

The benchmarks stand apart from the product's suite (tests/), so they build what they need here,
with the same script the suite uses.
"""
import importlib.util
import os
import tempfile
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"  # never the Hugging Face Hub: a missing model fails at once
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("SPACY_BERT_NER_CACHE", tempfile.mkdtemp(prefix="spacy_bert_ner_cache_"))

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "assets" / "demo"


@pytest.fixture(scope="session")
def tiny_transformer(tmp_path_factory) -> Path:
    spec = importlib.util.spec_from_file_location("build_tiny_transformer", ROOT / "scripts" / "build_tiny_transformer.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script.build(tmp_path_factory.mktemp("tiny-bert"), [DEMO / "train.iob2"], vocab_size=1500)


@pytest.fixture(scope="session")
def demo_train(tmp_path_factory) -> Path:
    """The demo's train split as a DocBin, written by `convert`."""
    from spacy_bert_ner.readers.convert import convert

    out = tmp_path_factory.mktemp("demo-train")
    convert([DEMO / "train.iob2"], out, "da")
    return out / "train.spacy"
