"""The two shipped configs stay one config with two heads."""
from pathlib import Path

from spacy.util import load_config

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
# What the token-classification config changes: the head, and the beam scorer only the
# transition-based head needs (bert_token_ner scores its own entities).
HEAD = ("components.ner.", "components.bert_ner_confidence.")


def flat(block, prefix=""):
    out = {}
    for key, value in block.items():
        if isinstance(value, dict):
            out.update(flat(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def test_tokcls_config_equals_ner_config_but_for_the_head():
    ner = flat(load_config(CONFIGS / "ner_trf.cfg", interpolate=False))
    tokcls = flat(load_config(CONFIGS / "tokcls_trf.cfg", interpolate=False))
    differ = {key for key in ner.keys() | tokcls.keys() if ner.get(key, KeyError) != tokcls.get(key, KeyError)}
    assert {key for key in differ if not key.startswith(HEAD)} == {"nlp.pipeline"}
    assert [pipe for pipe in ner["nlp.pipeline"] if pipe != "bert_ner_confidence"] == tokcls["nlp.pipeline"]
    assert tokcls["components.ner.factory"] == "bert_token_ner"
