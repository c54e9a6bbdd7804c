"""Clean up entity spans: trim punctuation, merge split entities, drop fragments.

Token classifiers make a few systematic boundary mistakes: a quote or comma pulled into an
entity, one name split into two same-label entities (`B-PER B-PER`), one-letter fragments.
Each rule is off by default; when on, they run in this order on `doc.ents`:

1. `trim`: drop leading and trailing punctuation and whitespace tokens. A bracket or quote is
   kept when its partner is inside the span ("Hvidovre (Kommune)"); a pair wrapping the
   whole span is removed ("(FN)" -> "FN"). A span left empty is removed.
2. `merge_adjacent`: merge neighbouring spans of the same label separated by nothing or
   only whitespace. This also joins genuinely separate entities written side by side.
3. `min_chars`: remove spans whose text is shorter than `min_chars[label]` characters.

What changed is counted per doc in `doc.user_data[<component name>]`:
`{"trimmed": spans shortened, "merged": spans absorbed into a neighbour,
"dropped": spans removed, whether emptied by trimming or too short}`.
"""
from typing import Any, Dict, Iterable, List, Tuple

import srsly
from spacy import util
from spacy.language import Language
from spacy.tokens import Doc, Span

PAIRS = {"(": ")", "[": "]", "{": "}", '"': '"', "'": "'", "«": "»", "»": "«", "“": "”",
         "„": "“", "‘": "’", "‹": "›", "「": "」", "『": "』", "（": "）"}
CLOSERS = {close: open_ for open_, close in PAIRS.items()}


def _trimmable(token) -> bool:
    return token.is_punct or token.is_space


def trim_span(span: Span) -> Tuple[int, int]:
    """Token boundaries of `span` without edge punctuation and whitespace."""
    doc, start, end = span.doc, span.start, span.end
    while start < end:
        first, last = doc[start], doc[end - 1]
        inner = [t.text for t in doc[start + 1:end - 1]]
        if end - start > 1 and PAIRS.get(first.text) == last.text and _trimmable(first):
            start, end = start + 1, end - 1
        elif _trimmable(first) and PAIRS.get(first.text) not in inner + [last.text]:
            start += 1
        elif _trimmable(last) and CLOSERS.get(last.text) not in [first.text] + inner:
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

    def to_bytes(self, *, exclude: Iterable[str] = tuple()) -> bytes:
        return util.to_bytes({"cfg": lambda: srsly.json_dumps(self.cfg)}, exclude)

    def from_bytes(self, data: bytes, *, exclude: Iterable[str] = tuple()) -> "SpanCleaner":
        util.from_bytes(data, {"cfg": lambda b: self.cfg.update(srsly.json_loads(b))}, exclude)
        return self

    def to_disk(self, path, *, exclude: Iterable[str] = tuple()) -> None:
        util.to_disk(util.ensure_path(path), {"cfg": lambda p: srsly.write_json(p, self.cfg)}, exclude)

    def from_disk(self, path, *, exclude: Iterable[str] = tuple()) -> "SpanCleaner":
        util.from_disk(util.ensure_path(path), {"cfg": lambda p: self.cfg.update(srsly.read_json(p))}, exclude)
        return self


@Language.factory(
    "bert_ner_cleanup",
    assigns=["doc.ents", "token.ent_iob", "token.ent_type"],
    default_config={"trim": False, "merge_adjacent": False, "min_chars": {}},
)
def make_span_cleaner(nlp: Language, name: str, trim: bool, merge_adjacent: bool,
                      min_chars: Dict[str, int]) -> SpanCleaner:
    """Clean `doc.ents`; see the module docstring for the rules and their order."""
    return SpanCleaner(name, trim=trim, merge_adjacent=merge_adjacent, min_chars=min_chars)
