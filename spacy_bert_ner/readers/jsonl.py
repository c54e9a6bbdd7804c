"""JSONL with character-offset spans, as annotation tools export it.

One JSON object a line, one Doc per object:
`{"text": ..., "spans"|"entities"|"label": [...]}` where each span is
`{"start", "end", "label"}` (also `start_offset`/`end_offset`) or `[start, end, label]`.
Tokens come from the record's own `"tokens"` list (Prodigy: `{"text", "ws"}`) when it has
one, else from the language's tokenizer.

Alignment: a span whose offsets do not fall on token boundaries stops the conversion
under `strict` (the default); `contract` shrinks it to the tokens inside it and `expand`
grows it to the tokens it touches, both counted as repaired, and a span that contracts
to nothing is dropped and counted.

Overlaps: every span is kept in `doc.spans[spans_key]`. `doc.ents` gets the
non-overlapping subset chosen by `spacy.util.filter_spans`: longest span first, then the
earliest; each span left out of `doc.ents` is counted as set aside.
"""
import json
from typing import Iterable, Iterator, List, Optional, Sequence, Tuple

from spacy.language import Language
from spacy.pipeline import Sentencizer
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from ..errors import CorpusError
from .build import count_misaligned
from .file_report import FileReport

ALIGNMENTS = ("strict", "contract", "expand")
SPAN_KEYS = ("spans", "entities", "label")
DEFAULT_SPANS_KEY = "sc"  # spaCy's span categorizer default: gold overlaps train it as they are
# Spans known to be wrong (rejected answers); spaCy's `ner` learns from them when its
# `incorrect_spans_key` is set to this key.
INCORRECT_SPANS_KEY = "incorrect_spans"


def looks_like_jsonl(lines: List[str]) -> bool:
    for line in lines:
        if line.strip():
            try:
                return isinstance(json.loads(line), dict)
            except (ValueError, RecursionError):  # RecursionError: "[[[[..." nested too deeply
                return False
    return False


def record_spans(path: str, n: int, record: dict, keys: Sequence[str] = SPAN_KEYS) -> Iterator[Tuple[int, int, str]]:
    """The record's spans from the first of `keys` it has, as (start, end, label)."""
    for key in keys:
        if isinstance(record.get(key), list):
            items = record[key]
            break
    else:
        items = []
    for item in items:
        if isinstance(item, dict):
            start = item.get("start", item.get("start_offset"))
            end = item.get("end", item.get("end_offset"))
            label = item.get("label")
        elif isinstance(item, (list, tuple)) and len(item) == 3:
            start, end, label = item
        else:
            raise CorpusError(path, n, f"cannot read span {item!r}: write {{\"start\", \"end\", \"label\"}} or [start, end, label]")
        if not (isinstance(start, int) and isinstance(end, int) and isinstance(label, str) and label):
            raise CorpusError(path, n, f"span {item!r} needs integer start and end and a label")
        yield start, end, label


def _make_doc(path: str, n: int, record: dict, nlp: Language) -> Doc:
    text = record.get("text")
    if not isinstance(text, str):
        raise CorpusError(path, n, 'each line needs a "text" string')
    tokens = record.get("tokens")
    if not tokens:
        return nlp.make_doc(text)
    try:
        words = [t["text"] for t in tokens]
        spaces = [bool(t["ws"]) if "ws" in t else t["end"] < len(text) and text[t["end"]].isspace() for t in tokens]
    except (KeyError, TypeError):
        raise CorpusError(path, n, '"tokens" must be a list of {"text", "ws"} or {"text", "start", "end"}') from None
    doc = Doc(nlp.vocab, words=words, spaces=spaces)
    if doc.text != text:
        raise CorpusError(path, n, '"tokens" do not spell out "text"; fix the record or drop its "tokens" to retokenize')
    return doc


def mark_sentences(path: str, n: int, record: dict, doc: Doc, report: FileReport) -> None:
    """Sentence starts from the record's `sentences` (character offsets) or, without them, spaCy's
    rule-based sentencizer, so training can cut long records at sentences. A boundary inside an
    entity is removed (and counted): an entity belongs to one sentence."""
    if not len(doc):
        return
    sentences = record.get("sentences")
    if sentences is None:
        Sentencizer()(doc)
    else:
        if not isinstance(sentences, list):
            raise CorpusError(path, n, '"sentences" must be a list of [start, end] character offsets')
        starts = set()
        for item in sentences:
            start, end = (item.get("start"), item.get("end")) if isinstance(item, dict) else (
                item if isinstance(item, (list, tuple)) and len(item) == 2 else (None, None))
            if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(doc.text)):
                raise CorpusError(path, n, f"cannot read sentence {item!r}: write [start, end] or "
                                           f"{{\"start\", \"end\"}} character offsets inside the text")
            span = doc.char_span(start, end, alignment_mode="expand")
            if doc.char_span(start, end) is None:
                report.problem(n, "sentence realigned", f"[{start}, {end}) does not fall on token boundaries; "
                                                        f"it starts at token {span.text[:20]!r}")
            starts.add(span.start)
        for token in doc:
            token.is_sent_start = token.i == 0 or token.i in starts
    for ent in doc.ents:
        for token in ent[1:]:
            if token.is_sent_start:
                token.is_sent_start = False
                report.problem(n, "sentence boundary inside an entity removed",
                               f"{ent.text!r} {ent.label_} is kept in one sentence")


def json_lines(path: str, lines: List[str]) -> Iterator[Tuple[int, dict]]:
    """Each non-blank line's JSON object with its line number; anything else stops with the line."""
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (ValueError, RecursionError) as err:
            raise CorpusError(path, n, f"not valid JSON ({err}); each line must be one JSON object") from None
        if "\\ud" in line.lower():  # an unpaired surrogate escape is no character: spaCy's strings are UTF-8
            try:
                json.dumps(record, ensure_ascii=False).encode("utf8")
            except UnicodeEncodeError:
                raise CorpusError(path, n, "an unpaired surrogate escape (\\ud800-\\udfff) is not a character; "
                                           "fix the line") from None
        if not isinstance(record, dict):
            raise CorpusError(path, n, "each line must be a JSON object with a \"text\"")
        yield n, record


def read_jsonl(
    path: str,
    lines: List[str],
    nlp: Language,
    report: FileReport,
    alignment: str = "strict",
    label_map: Optional[dict] = None,
    spans_key: str = DEFAULT_SPANS_KEY,
) -> List[Doc]:
    if alignment not in ALIGNMENTS:
        raise CorpusError(path, None, f"unknown alignment {alignment!r}; use one of {', '.join(ALIGNMENTS)}")
    docs = [record_doc(path, n, record, record_spans(path, n, record), nlp, report, alignment, label_map, spans_key)
            for n, record in json_lines(path, lines)]
    report.documents = len(docs)
    return docs


def record_doc(
    path: str,
    n: int,
    record: dict,
    spans: Iterable[Tuple[int, int, str]],
    nlp: Language,
    report: FileReport,
    alignment: str = "strict",
    label_map: Optional[dict] = None,
    spans_key: str = DEFAULT_SPANS_KEY,
    partial: bool = False,
    incorrect: Iterable[Tuple[int, int, str]] = (),
) -> Doc:
    """One record (`text`, optional `tokens` and `sentences`) and its character spans as a Doc,
    counted in `report` with line `n`. Every reader of character-offset records builds its Docs here,
    so spans outside the text, off token boundaries or overlapping are handled alike.

    partial: the record annotates only its spans (a Prodigy binary answer): every other token is
    missing, not O (`Doc.set_ents(default="missing")`), so training learns nothing about it.
    incorrect: spans known to be wrong (rejected binary answers), kept in
    `doc.spans[INCORRECT_SPANS_KEY]`, which spaCy's `ner` reads when its `incorrect_spans_key` names it.
    """
    label_map = label_map or {}
    doc = _make_doc(path, n, record, nlp)
    own_tokens = bool(record.get("tokens"))
    text = doc.text
    kept: List[Span] = []
    for start, end, label in spans:
        span = _char_span(path, n, doc, start, end, label, report, alignment, label_map)
        if span is not None:
            kept.append(span)
    rejected = [span for start, end, label in incorrect
                if (span := _char_span(path, n, doc, start, end, label, report, alignment, label_map)) is not None]
    ents = filter_spans(kept)
    if len(ents) < len(kept):
        chosen = {(s.start, s.end, s.label) for s in ents}
        for span in kept:
            if (span.start, span.end, span.label) in chosen:
                chosen.discard((span.start, span.end, span.label))
            else:
                report.set_aside[span.label_] += 1
                report.problem(n, "overlapping span set aside", f"{span.text!r} {span.label_} kept only in doc.spans[{spans_key!r}]")
    doc.spans[spans_key] = kept
    if rejected:
        doc.spans[INCORRECT_SPANS_KEY] = rejected
    doc.set_ents(ents, default="missing" if partial else "outside")
    mark_sentences(path, n, record, doc, report)
    if own_tokens:  # the record's tokens, not the language's: training on raw text may differ
        count_misaligned(doc, nlp.make_doc(text), report, lambda ent: n)
    for ent in ents:
        report.entities[ent.label_] += 1
    report.sentences += sum(1 for token in doc if token.is_sent_start)
    report.tokens += len(doc)
    return doc


def _char_span(path: str, n: int, doc: Doc, start: int, end: int, label: str, report: FileReport,
               alignment: str, label_map: dict) -> Optional[Span]:
    """The span of tokens at [start, end) with its label mapped, realigned under `alignment`
    (counted); None when the label maps to O or no whole token is left (counted)."""
    text = doc.text
    if not 0 <= start < end <= len(text):
        raise CorpusError(path, n, f"span [{start}, {end}) {label} is outside the text of {len(text)} characters")
    new = report.map_label(label, label_map)
    if new is None:
        return None
    span = doc.char_span(start, end, label=new)
    if span is None:
        if alignment == "strict":
            raise CorpusError(
                path, n,
                f"span [{start}, {end}) {text[start:end]!r} {label} does not fall on token boundaries; "
                f"fix the offsets, or pass --alignment contract or expand",
            )
        span = doc.char_span(start, end, label=new, alignment_mode=alignment)
        if span is None or not len(span):
            report.dropped[new] += 1
            report.problem(n, "span dropped", f"[{start}, {end}) {text[start:end]!r} covers no whole token")
            return None
        report.repaired[new] += 1
        report.problem(n, "span realigned", f"[{start}, {end}) {text[start:end]!r} -> {span.text!r} ({alignment})")
    return span
