"""Cut a training example into pieces that fit the transformer's window and the batcher.

Where a document is cut, best first:
1. at a sentence boundary, packing whole sentences up to the limit;
2. inside a sentence longer than the limit (or a document without sentence boundaries, as a
   JSONL export of whole articles), after a sentence-final mark or a line break;
3. at any other token boundary.

Never inside a gold entity, and only where both the corpus's tokens and the pipeline's tokens
have a boundary, so the pieces tokenize as the whole document did. Lengths count the pipeline's
tokens (`example.predicted`), which is what the transformer windows and the batcher measure: in
Chinese a gold word is several tokens. A stretch with no allowed cut point within the limit (an
entity or a token longer than the limit) stays whole, so it is still trained on.
"""
from bisect import bisect_left
from typing import Iterator, List, Optional

from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example

SENTENCE_ENDS = frozenset(".!?;…。！？；")
# Cut-point preference: higher is better; None (not in the table) means no cut there.
ANY, AFTER_MARK, SENTENCE = 0, 1, 2


def inside_entities(doc: Doc) -> bytearray:
    """For each token boundary b (before token b), 1 if a gold entity spans it (covers tokens b-1
    and b), else 0: where a document may not be cut, in training or in evaluation."""
    inside = bytearray(len(doc) + 1)
    for ent in doc.ents:
        inside[ent.start + 1:ent.end] = b"\x01" * (ent.end - ent.start - 1)
    return inside


def cut_points(reference: Doc, predicted_starts: Optional[List[int]]) -> List[Optional[int]]:
    """For each token boundary b (before token b, 0 < b < len), its preference, or None if no cut."""
    n = len(reference)
    tiers: List[Optional[int]] = [None] * (n + 1)
    inside = inside_entities(reference)
    starts = set(predicted_starts) if predicted_starts is not None else None
    has_sents = reference.has_annotation("SENT_START")
    for b in range(1, n):
        token, before = reference[b], reference[b - 1]
        if inside[b] or (starts is not None and token.idx not in starts):
            continue
        if has_sents and token.is_sent_start:
            tiers[b] = SENTENCE
        elif before.text[-1:] in SENTENCE_ENDS or "\n" in before.text or "\n" in before.whitespace_:
            tiers[b] = AFTER_MARK
        else:
            tiers[b] = ANY
    return tiers


def piece_bounds(tiers: List[Optional[int]], costs: List[int], max_tokens: int,
                 max_sentences: Optional[int] = None) -> List[int]:
    """The end of each piece, greedily: from each start, the furthest cut of the best kind that
    keeps the piece within the limits.

    costs[b] is the number of pipeline tokens before boundary b (costs[-1]: the total).
    """
    n = len(costs) - 1
    ends = []
    start = 0
    while start < n:
        best = {}
        sentences = 1
        b, full = start + 1, False
        while b < n:
            if costs[b] - costs[start] > max_tokens:
                full = True
                break
            tier = tiers[b]
            if tier == SENTENCE:
                sentences += 1
                if max_sentences is not None and sentences > max_sentences:
                    best[tier] = b
                    full = True
                    break
            if tier is not None:
                best[tier] = b
            b += 1
        if not full and costs[n] - costs[start] <= max_tokens:
            end = n
        elif best:
            end = best[max(best)]
        else:  # no cut point within the limit: the piece runs to the next one, kept whole
            end = next((i for i in range(b, n) if tiers[i] is not None), n)
        ends.append(end)
        start = end
    return ends


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
        if aligned:
            pred_piece = predicted[costs[start]:costs[end]].as_doc()
        elif reference.has_unknown_spaces:
            pred_piece = Doc(nlp.vocab, words=[t.text for t in piece], spaces=[bool(t.whitespace_) for t in piece])
        else:
            pred_piece = nlp.make_doc(piece.text)
        yield Example(pred_piece, piece)
        start = end
