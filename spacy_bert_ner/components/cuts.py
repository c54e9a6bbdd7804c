"""Where a document may be cut: never inside an entity, best at a sentence boundary.

Training cuts examples to fit the transformer's window and the batcher (`training/chunks.py`);
the beam that scores entities searches a document a window at a time (`confidence.py`). Both
rank each token boundary the same way, best first:
1. a sentence boundary (where the doc has them);
2. after a sentence-final mark or a line break;
3. any other token boundary;
and neither cuts inside an entity (gold in training, predicted at run time), so the pieces hold
every entity whole. `piece_bounds` packs the best cuts greedily up to a size: one pass over the
boundaries, so the cost of cutting grows with the document's length, not its square.
"""
from typing import List, Optional

from spacy.tokens import Doc

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
