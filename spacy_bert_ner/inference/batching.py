"""Inference batches of documents of similar length, results back in input order.

A batch is padded to its longest document, so batching documents of similar length cuts the
encoder's work on padding (benchmarks/bench_predict.py measures it). Used by `predict` and by
evaluation, so both run the way production code should.
"""
from typing import Any, Dict, Iterable, Iterator, List, Sized, Tuple, TypeVar

SORT_BATCHES = 16  # documents are sorted by length within windows of this many batches

Item = TypeVar("Item", bound=Sized)  # a text or a Doc
Context = TypeVar("Context")
Placed = Tuple[int, int, Any]  # place in its window, window size, the caller's context


def by_length(pairs: Iterable[Tuple[Item, Context]], window: int) -> Iterator[Tuple[Item, Placed]]:
    """(item, context) pairs sorted by len(item) within windows of `window`, each tagged with its
    place, for `nlp.pipe(..., as_tuples=True)`; `in_input_order` undoes the sorting."""
    chunk: List[Tuple[Item, Context]] = []
    for pair in pairs:
        chunk.append(pair)
        if len(chunk) == window:
            yield from _sorted_chunk(chunk)
            chunk = []
    yield from _sorted_chunk(chunk)


def _sorted_chunk(chunk: List[Tuple[Item, Context]]) -> Iterator[Tuple[Item, Placed]]:
    for place in sorted(range(len(chunk)), key=lambda i: len(chunk[i][0])):
        item, context = chunk[place]
        yield item, (place, len(chunk), context)


def in_input_order(results: Iterable[Tuple[Any, Placed]]) -> Iterator[Tuple[Any, Any]]:
    """(doc, context) pairs in the order `by_length` received them; holds one window at most."""
    held: Dict[int, Tuple[Any, Any]] = {}
    for doc, (place, size, context) in results:
        held[place] = (doc, context)
        if len(held) == size:
            yield from (held[i] for i in range(size))
            held = {}
