"""Shared fixtures: the shipped demo corpus, a tiny local transformer, the real corpora when present."""
import importlib.util
import os
import tempfile
from pathlib import Path

import pytest

# Tests never reach the Hugging Face Hub: a missing model must fail at once.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
# int8 encoders are cached here (components/int8.py), not in the user's ~/.cache
os.environ["SPACY_BERT_NER_CACHE"] = tempfile.mkdtemp(prefix="spacy_bert_ner_cache_")

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "assets" / "demo"
SHARED_DATA = ROOT.parent / "shared" / "data"
CONFIG = ROOT / "configs" / "ner_trf.cfg"


def _load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def demo_dir() -> Path:
    return DEMO


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.skip(f"real corpora not present at {SHARED_DATA} (only in the project's workplace)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_transformer(tmp_path_factory) -> Path:
    """A random 2-layer BERT whose WordPiece vocabulary is trained on the demo corpus."""
    build = _load_script("build_tiny_transformer").build
    return build(tmp_path_factory.mktemp("tiny-bert"), [DEMO / "train.iob2"], vocab_size=1500)


@pytest.fixture(scope="session")
def demo_corpus(tmp_path_factory) -> Path:
    """The demo splits converted to DocBin files: DIR/{train,dev,test}.spacy."""
    import spacy
    from spacy.tokens import DocBin

    from spacy_bert_ner.readers import read_corpus

    out = tmp_path_factory.mktemp("demo-corpus")
    nlp = spacy.blank("da")
    for split in ("train", "dev", "test"):
        docs, _ = read_corpus(DEMO / f"{split}.iob2", nlp.vocab)
        DocBin(docs=docs, store_user_data=True).to_disk(out / f"{split}.spacy")
    return out


def tiny_overrides(corpus: Path, encoder: Path, steps: int = 150) -> dict:
    """Config overrides for a short CPU training of the tiny encoder on the demo corpus."""
    return {
        "paths.train": str(corpus / "train.spacy"),
        "paths.dev": str(corpus / "dev.spacy"),
        "components.transformer.model.name": str(encoder),
        "training.max_steps": steps,
        "training.eval_frequency": 50,
        "training.optimizer.learn_rate.initial_rate": 1e-3,
        "training.optimizer.learn_rate.warmup_steps": 20,
        # A random-init encoder learns at the heads' rate, embeddings included, and needs many
        # epochs: large batches give them (as in the demo workflow).
        "training.batcher.size": 2000,
        "initialize.after_init.encoder_lr_scale": 1.0,
        "initialize.after_init.freeze_word_embeddings": False,
        # The Danish tokenizer keeps "Varde Å." whole at a sentence end: 2 of the demo's 618 entities.
        "checks.max_misaligned": 0.01,
    }


@pytest.fixture(scope="session")
def trained(tmp_path_factory, demo_corpus, tiny_transformer) -> Path:
    """model-best of a 150-step training; the encoder lives in its own folder so a test can move it."""
    import shutil

    from spacy_bert_ner.training.train import train

    encoder = tmp_path_factory.mktemp("encoder") / "tiny"
    shutil.copytree(tiny_transformer, encoder)
    out = tmp_path_factory.mktemp("trained")
    train(CONFIG, out, -1, tiny_overrides(demo_corpus, encoder))
    return out / "model-best"
