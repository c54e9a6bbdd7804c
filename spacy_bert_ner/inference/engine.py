"""The local engine: a loaded pipeline runs records in this process (and `--n-process` workers).

Documents are batched with others of similar length and long ones are run as pieces
(`long_texts.pipe_entities`); each comes back, in input order, as its output line. The Ray engine's
actors run this same function on their share of the records.
"""
from contextlib import closing
from typing import Iterator, Optional

from spacy.language import Language

from ..components.confidence import DEFAULT_SPANS_KEY, scoring_pipe
from .inputs import Record
from .long_texts import pipe_entities
from .output import Written, written


def scores_key(nlp: Language) -> str:
    """Where the pipeline puts its entity scores (components/confidence.py)."""
    name = scoring_pipe(nlp)
    return nlp.get_pipe(name).spans_key if name else DEFAULT_SPANS_KEY


def local_written(nlp: Language, records: Iterator[Record], split_chars: int, batch_size: Optional[int],
                   n_process: int, min_score: Optional[float]) -> Iterator[Written]:
    results = pipe_entities(nlp, ((text, fields) for text, fields, _ in records), split_chars,
                            batch_size=batch_size, n_process=n_process, scores_key=scores_key(nlp))
    with closing(results):  # a stop ends nlp.pipe's workers
        for entities, fields in results:
            yield written(fields, entities, min_score, split_chars)
