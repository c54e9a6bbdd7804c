"""The one reader of `.spacy` files (spaCy's DocBin) for every command and benchmark.

A path that is missing or not a DocBin stops as a `CorpusError` naming the file and what to do;
DocBin's own error (ValueError E1014, msgpack's ExtraData, a KeyError for a foreign msgpack
file) stays attached as the cause, so `--verbose` shows it.
"""
from pathlib import Path
from typing import List, Union

from spacy.tokens import Doc, DocBin
from spacy.vocab import Vocab

from ..errors import CorpusError

UNREADABLE = (ValueError, KeyError, TypeError)


def read_docbin(path: Union[str, Path], vocab: Vocab) -> List[Doc]:
    """Every Doc in the DocBin at `path`, made with `vocab`."""
    if not Path(path).is_file():
        raise CorpusError(path, None, "not found; give a .spacy file written by `spacy-bert-ner convert` or spaCy")
    try:
        return list(DocBin().from_disk(path).get_docs(vocab))
    except UNREADABLE as err:
        raise CorpusError(path, None, f"not a readable spaCy DocBin ({type(err).__name__}: {err}). "
                          "Recreate it with `spacy-bert-ner convert`.") from err
