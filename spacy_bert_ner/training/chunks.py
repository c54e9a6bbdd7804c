"""Cut a training example into pieces that fit the transformer's window and the batcher.

Where a document is cut, best first (`components/cuts.py`, which the entity scores share):
1. at a sentence boundary, packing whole sentences up to the limit;
2. inside a sentence longer than the limit (or a document without sentence boundaries, as a
   JSONL export of whole articles), after a sentence-final mark or a line break;
3. at any other token boundary.

Never inside a gold entity, and only where both the corpus's tokens and the pipeline's tokens
have a boundary, so the pieces tokenize as the whole document did. Lengths count the pipeline's
tokens (`example.predicted`), which is what the transformer windows and the batcher measure: in
Chinese a gold word is several tokens. A stretch with no allowed cut point within the limit (an
entity or a token longer than the limit) stays whole, so it is still trained on.

Each piece keeps the reference's span groups that lie inside it (`Span.as_doc` drops them): the
overlapping gold spans and the known-incorrect spans `ner` learns from (`incorrect_spans_key`).
"""
from bisect import bisect_left
from typing import Iterator, Optional

from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.training import Example

from ..components.cuts import cut_points, piece_bounds


def count_sentences(doc: Doc) -> int:
    return sum(1 for token in doc if token.is_sent_start) if doc.has_annotation("SENT_START") else 1


def chunk_example(nlp: Language, example: Example, max_tokens: int,
                  max_sentences: Optional[int] = None) -> Iterator[Example]:
    """The example as pieces of at most `max_tokens` pipeline tokens (see the module docstring)."""
    reference, predicted = example.reference, example.predicted
    n = len(reference)
    aligned = predicted.text == reference.text
    if aligned:
        starts = [token.idx for token in predicted]
        costs = [bisect_left(starts, reference[b].idx) for b in range(n)] + [len(predicted)]
    else:  # a reader that changed the text: count the corpus's tokens
        starts = None
        costs = list(range(n + 1))
    if costs[n] <= max_tokens and (max_sentences is None or count_sentences(reference) <= max_sentences):
        yield example
        return
    start = 0
    for end in piece_bounds(cut_points(reference, starts), costs, max_tokens, max_sentences):
        piece = reference[start:end].as_doc()
        for key, group in reference.spans.items():
            piece.spans[key] = [Span(piece, s.start - start, s.end - start, label=s.label, kb_id=s.kb_id)
                                for s in group if start <= s.start and s.end <= end]
        if aligned:
            pred_piece = predicted[costs[start]:costs[end]].as_doc()
        elif reference.has_unknown_spaces:
            pred_piece = Doc(nlp.vocab, words=[t.text for t in piece], spaces=[bool(t.whitespace_) for t in piece])
        else:
            pred_piece = nlp.make_doc(piece.text)
        yield Example(pred_piece, piece)
        start = end
