"""The one folder this package caches what it builds in: int8 encoder graphs, offline encoders.

`$SPACY_BERT_NER_CACHE`, default `~/.cache/spacy_bert_ner`; a read-only or shared machine points it
elsewhere (or at a folder baked into an image)."""
import os
from pathlib import Path

CACHE_VARIABLE = "SPACY_BERT_NER_CACHE"


def cache_root() -> Path:
    return Path(os.environ.get(CACHE_VARIABLE) or Path.home() / ".cache" / "spacy_bert_ner").expanduser()
