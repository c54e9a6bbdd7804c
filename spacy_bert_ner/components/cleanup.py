"""Clean up entity spans: trim punctuation, merge split entities, drop fragments.

Token classifiers make a few systematic boundary mistakes: a quote or comma pulled into an
entity, one name split into two same-label entities (`B-PER B-PER`), one-letter fragments.
Each rule is off by default; when on, they run in this order on `doc.ents`:

1. `trim`: drop leading and trailing punctuation and whitespace tokens. A bracket or quote is
   kept when its partner is inside the span ("Hvidovre (Kommune)"); a pair is removed only when
   it encloses the whole span ("(FN)" -> "FN", while "(FN) og (EU)" stays). A span left empty
   is removed.
2. `merge_adjacent`: merge neighbouring spans of the same label separated by nothing or
   only whitespace. This also joins genuinely separate entities written side by side.
3. `min_chars`: remove spans whose text is shorter than `min_chars[label]` characters.

What changed is counted per doc in `doc.user_data[<component name>]`:
`{"trimmed": spans shortened, "merged": spans absorbed into a neighbour,
"dropped": spans removed, whether emptied by trimming or too short}`.
"""
from typing import Any, Dict, Iterable, List, Tuple

from spacy.language import Language
from spacy.tokens import Doc, Span

PAIRS = {"(": ")", "[": "]", "{": "}", '"': '"', "'": "'", "«": "»", "»": "«", "“": "”",
         "„": "“", "‘": "’", "‹": "›", "「": "」", "『": "』", "（": "）"}


def _trimmable(token) -> bool:
    return token.is_punct or token.is_space


def matched_pairs(texts: List[str]) -> Dict[int, int]:
    """Brackets and quotes matched left to right with nesting, both ends mapped to each other:
    a mark closes the innermost open one it completes, else opens one if it can."""
    stack: List[int] = []
    matched: Dict[int, int] = {}
    for i, text in enumerate(texts):
        if stack and PAIRS.get(texts[stack[-1]]) == text:
            j = stack.pop()
            matched[i], matched[j] = j, i
        elif text in PAIRS:
            stack.append(i)
    return matched


def trim_span(span: Span) -> Tuple[int, int]:
    """Token boundaries of `span` without edge punctuation and whitespace.

    An outer bracket or quote pair goes only when it encloses the whole span ("(FN)" -> "FN", not
    "(FN) og (EU)" -> "FN) og (EU"); an edge bracket whose partner is inside the span stays
    ("Hvidovre (Kommune)").
    """
    doc, start, end = span.doc, span.start, span.end
    while start < end:
        matched = matched_pairs([t.text for t in doc[start:end]])
        last = end - start - 1
        if last > 0 and _trimmable(doc[start]) and matched.get(0) == last:
            start, end = start + 1, end - 1
        elif _trimmable(doc[start]) and 0 not in matched:
            start += 1
        elif _trimmable(doc[end - 1]) and last not in matched:
            end -= 1
        else:
            break
    return start, end


def trim_spans(spans: Iterable[Span]) -> Tuple[List[Span], int, int]:
    """Trimmed spans, how many were shortened and how many were left empty and removed."""
    out, trimmed, emptied = [], 0, 0
    for span in spans:
        start, end = trim_span(span)
        if start == end:
            emptied += 1
        elif (start, end) != (span.start, span.end):
            out.append(Span(span.doc, start, end, span.label, kb_id=span.kb_id))
            trimmed += 1
        else:
            out.append(span)
    return out, trimmed, emptied


def merge_neighbours(spans: Iterable[Span]) -> Tuple[List[Span], int]:
    """Merge same-label neighbours with only whitespace tokens (or nothing) between them."""
    out: List[Span] = []
    merged = 0
    for span in sorted(spans, key=lambda s: s.start):
        prev = out[-1] if out else None
        if (prev is not None and prev.label == span.label and prev.end <= span.start
                and all(t.is_space for t in span.doc[prev.end:span.start])):
            out[-1] = Span(span.doc, prev.start, span.end, prev.label, kb_id=prev.kb_id)
            merged += 1
        else:
            out.append(span)
    return out, merged


def drop_short(spans: Iterable[Span], min_chars: Dict[str, int]) -> Tuple[List[Span], int]:
    """Remove spans shorter than the minimum number of characters set for their label."""
    spans = list(spans)
    kept = [s for s in spans if len(s.text) >= min_chars.get(s.label_, 0)]
    return kept, len(spans) - len(kept)


class SpanCleaner:
    """Apply the enabled clean-up rules to `doc.ents` and count their changes."""

    def __init__(self, name: str, *, trim: bool, merge_adjacent: bool, min_chars: Dict[str, int]):
        # Settings come from the config, so they can be changed at load time
        # (`spacy.load(name, config=...)`); the component has no data to save.
        self.name = name
        self.cfg: Dict[str, Any] = {
            "trim": trim, "merge_adjacent": merge_adjacent, "min_chars": dict(min_chars),
        }

    def __call__(self, doc: Doc) -> Doc:
        spans = list(doc.ents)
        stats = {"trimmed": 0, "merged": 0, "dropped": 0}
        if self.cfg["trim"]:
            spans, stats["trimmed"], stats["dropped"] = trim_spans(spans)
        if self.cfg["merge_adjacent"]:
            spans, stats["merged"] = merge_neighbours(spans)
        if self.cfg["min_chars"]:
            spans, dropped = drop_short(spans, self.cfg["min_chars"])
            stats["dropped"] += dropped
        if any(stats.values()):
            doc.ents = spans
        doc.user_data[self.name] = stats
        return doc


@Language.factory(
    "bert_ner_cleanup",
    assigns=["doc.ents", "token.ent_iob", "token.ent_type"],
    default_config={"trim": False, "merge_adjacent": False, "min_chars": {}},
)
def make_span_cleaner(nlp: Language, name: str, trim: bool, merge_adjacent: bool,
                      min_chars: Dict[str, int]) -> SpanCleaner:
    """Clean `doc.ents`; see the module docstring for the rules and their order."""
    return SpanCleaner(name, trim=trim, merge_adjacent=merge_adjacent, min_chars=min_chars)
