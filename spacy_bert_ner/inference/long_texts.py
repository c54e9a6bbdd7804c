"""Texts of any length through a pipeline: long ones as overlapping pieces, entities merged back.

spaCy refuses a text longer than `nlp.max_length` (error E088; 1,000,000 characters by default),
and a Doc's memory grows with its length. `pipe_entities` runs texts (or Docs) through a pipeline
and gives each one's entities as (start_char, end_char, label) in the original text, so
`text[start:end]` is the entity's text: a text of at most `limit` characters (default
`nlp.max_length`) is run whole, a longer one as pieces. `predict` and evaluation both use it.

The rule for a text longer than `limit`:

- A piece ends after the last line break or sentence end (a newline, ". ", "! ", "? ", "。",
  "！", "？") in the second half of its `limit` characters; failing that after the last
  whitespace there; failing that after exactly `limit` characters.
- The next piece starts `overlap` to 2 x `overlap` characters before that end (`overlap` is
  OVERLAP, at most a quarter of `limit`), after a line break or sentence end, else after
  whitespace, else exactly `overlap` characters back. An entity shorter than the overlap
  that a cut runs through is thus whole in the next piece, with context before it.
- The pieces' entities are merged: where entities overlap (one entity seen by two pieces, or one
  cut short at a piece's edge), the one further from the edge of its piece is kept (ties: the
  longer, then the earlier); the start and end of the whole text are no edges. The result has no
  duplicates and no overlaps and is sorted by start.
- A Doc (say gold tokenization, for evaluation) is cut by the same rule with each cut moved back
  to the start of the token it falls in; each piece is a new Doc of those words and spaces, so
  the offsets fall on the Doc's token boundaries (`doc.char_span(start, end, label)`).
"""
import multiprocessing
import re
import warnings
from bisect import bisect_right
from typing import Any, Generator, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

from spacy.language import Language
from spacy.tokens import Doc

from .batching import SORT_BATCHES, by_length, in_input_order
from ..components.confidence import entity_scores

OVERLAP = 300  # characters shared by consecutive pieces (at least; at most twice that)
# The look-behind starts a match only at the first of a run of full stops: linear time on "....".
BOUNDARY = re.compile(r"\n\s*|(?<![.!?])[.!?]+\s+|[。！？]+\s*")
WHITESPACE = re.compile(r"\s+")

Entity = Tuple[int, int, str]  # start_char, end_char, label, in the original text
Range = Tuple[int, int]  # start_char, end_char of a piece


def _last_cut(text: str, lo: int, hi: int) -> Optional[int]:
    """The last position in (lo, hi] after a boundary, else after whitespace, else None."""
    for pattern in (BOUNDARY, WHITESPACE):
        cut = None
        for match in pattern.finditer(text, lo, hi):
            cut = match.end()
        if cut is not None:
            return cut
    return None


def split_ranges(text: str, limit: int, overlap: int = OVERLAP) -> List[Range]:
    """The pieces of `text` by the module's rule: [start, end) ranges of at most `limit`
    characters that cover it, consecutive ones overlapping; one range if it fits."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1 character, not {limit}")
    overlap = min(overlap, limit // 4)
    ranges: List[Range] = []
    start = 0
    while len(text) - start > limit:
        end = _last_cut(text, start + limit // 2, start + limit) or start + limit
        ranges.append((start, end))
        start = _last_cut(text, max(start, end - 2 * overlap), end - overlap) or end - overlap
    ranges.append((start, len(text)))
    return ranges


def merge_entities(found: Sequence[Tuple[Range, Iterable[Entity]]], length: int) -> List[Entity]:
    """One non-overlapping list from each piece's (range, entities) by the module's rule;
    `length` is the whole text's. An entity may carry more fields (a score) after its label."""
    candidates = []
    for (start, end), entities in found:
        for ent in entities:
            s, e = ent[0], ent[1]
            gap = min(s - start if start > 0 else length, end - e if end < length else length)
            candidates.append((-gap, s - e, s, e, ent[2], len(candidates), ent))
    taken = bytearray(length)  # the characters of the kept entities: a check costs the entity's length
    kept: List[Entity] = []
    for *_, s, e, _label, _order, ent in sorted(candidates):
        if taken.find(1, s, e) < 0:
            taken[s:e] = b"\x01" * (e - s)
            kept.append(ent)
    return sorted(kept, key=lambda ent: ent[0])


def _doc_pieces(nlp: Language, doc: Doc, ranges: Sequence[Range]) -> List[Tuple[Doc, int]]:
    """The ranges moved back to token starts, as new Docs with their start character."""
    token_starts = [token.idx for token in doc]

    def token_at(char: int) -> int:
        return bisect_right(token_starts, char) - 1

    pieces, previous = [], -1
    for start, end in ranges:
        first = max(token_at(start), previous + 1)
        if first >= len(doc):
            break
        last = len(doc) if end >= len(doc.text) else max(token_at(end), first + 1)
        span = doc[first:last]
        words = [token.text for token in span]
        spaces = [bool(token.whitespace_) for token in span]
        pieces.append((Doc(nlp.vocab, words=words, spaces=spaces), span.start_char))
        previous = first
    return pieces


def _pieces(nlp: Language, items: Iterable[Tuple[Union[str, Doc], Any]], limit: int
            ) -> Iterator[Tuple[Union[str, Doc], Tuple[int, int, int, int, Any]]]:
    """(piece, (number, count, start_char, length of the text, context)) for `nlp.pipe`;
    the caller's context rides on the last piece only."""
    for item, context in items:
        text = item.text if isinstance(item, Doc) else item
        if len(text) <= limit:
            yield item, (0, 1, 0, len(text), context)
            continue
        ranges = split_ranges(text, limit)
        if isinstance(item, Doc):
            pieces = _doc_pieces(nlp, item, ranges)
        else:
            pieces = [(text[start:end], start) for start, end in ranges]
        for number, (piece, start) in enumerate(pieces):
            last = number == len(pieces) - 1
            yield piece, (number, len(pieces), start, len(text), context if last else None)


def pipe_entities(nlp: Language, items: Iterable[Tuple[Union[str, Doc], Any]],
                  limit: Optional[int] = None, *, batch_size: Optional[int] = None,
                  n_process: int = 1, scores_key: Optional[str] = None) -> Iterator[Tuple[List[Entity], Any]]:
    """(entities, context) for each (text or Doc, context) of `items`, in their order.

    scores_key: where the pipeline puts its entities' scores (components/confidence.py); when
    given, each entity is (start_char, end_char, label, score), the score None if it has none.

    limit: the longest text run whole, at most (and by default) `nlp.max_length`; longer
    ones are run as pieces. Batches hold pieces of similar length (see `batching`); n_process
    as in `nlp.pipe`. A Doc run whole is annotated in place, as `nlp.pipe` does; the pieces of a
    long one are new Docs. Close the generator when stopping early, so that workers end.
    """
    limit = nlp.max_length if limit is None else limit
    if not 1 <= limit <= nlp.max_length:
        raise ValueError(f"limit must be between 1 and nlp.max_length ({nlp.max_length}), not {limit}")
    batch_size = batch_size or nlp.batch_size
    pieces = by_length(_pieces(nlp, items, limit), batch_size * SORT_BATCHES)
    return _merged(nlp.pipe(pieces, as_tuples=True, batch_size=batch_size, n_process=n_process), scores_key)


def _merged(docs: Generator[Tuple[Doc, Any], None, None], scores_key: Optional[str] = None
            ) -> Iterator[Tuple[List[Entity], Any]]:
    """Each text's entities from its pieces' Docs, which come from `nlp.pipe` (`docs`)."""
    found: List[Tuple[Range, List[Entity]]] = []
    workers_before = set(multiprocessing.active_children())
    try:
        for doc, (number, count, start, length, context) in in_input_order(docs):
            entities = [(ent.start_char + start, ent.end_char + start, ent.label_) for ent in doc.ents]
            if scores_key is not None:
                entities = [(*ent, score) for ent, score in zip(entities, entity_scores(doc, scores_key))]
            if count == 1:
                yield entities, context
                continue
            found.append(((start, start + len(doc.text)), entities))
            if number == count - 1:
                yield merge_entities(found, length), context
                found = []
    except BaseException:
        # Stopped early. A worker of nlp.pipe(n_process=...) may be blocked sending results
        # nobody reads (a forked worker holds a copy of the pipe's reading end, so it never gets
        # EPIPE) and spaCy would wait for it forever: end the workers, whose work is lost anyway,
        # then let spaCy close its queues (without its warning about workers that did not finish).
        for worker in set(multiprocessing.active_children()) - workers_before:
            worker.kill()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"\[W127\]")
            docs.close()
        raise


def entity_spans(nlp: Language, text: Union[str, Doc], limit: Optional[int] = None) -> List[Entity]:
    """The entities of one text or Doc of any length, as (start_char, end_char, label)."""
    results = pipe_entities(nlp, [(text, None)], limit)
    entities, _ = next(results)
    results.close()
    return entities
