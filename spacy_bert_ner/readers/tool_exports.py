"""Annotation tools' exports -> Docs: Prodigy `db-out` JSONL, Label Studio JSON, doccano JSONL.

Detected by content (`detect_tool`), or named with `convert --format prodigy|label-studio|doccano`.
Each record becomes a Doc through `jsonl.record_doc`, so offsets outside the text, spans off token
boundaries (`--alignment`) and overlapping spans are handled and reported, with the record's line,
as for any JSONL file. What a tool's export says about a record decides whether it is gold; every
record left out is counted in the report's `skipped_records`, with its line among the problems.

Prodigy (one task a line; `spans` with character offsets, `token_start`/`token_end` inclusive,
`tokens` with `ws`):
- `answer` "accept" is kept; "reject" and "ignore" are left out and counted. A line without an
  `answer` (a task file, not an export) is taken as accepted and reported.
- Binary answers (`ner.teach`: the annotator accepted or rejected one suggested span) are not
  complete gold. A record is binary when its `_view_id` is "ner", or, without `_view_id`, when it
  has one span and its `_input_hash` recurs with another `_task_hash`. The binary answers on one
  text (one `_input_hash`) make one Doc: the accepted spans are its entities and every other token
  is missing (`Doc.set_ents(default="missing")`), so training learns nothing about them; such Docs
  are counted as `partial_documents`. A rejected span says only "not this label here", which
  `doc.ents` cannot express: it is kept in `doc.spans["incorrect_spans"]` (counted), which
  spaCy's `ner` learns from when `[components.ner] incorrect_spans_key = "incorrect_spans"`; the
  token-classification head ignores it. Binary answers on a text that also has an accepted manual
  annotation are left out (counted): the manual one is complete.
- A text annotated in full several times (one `_input_hash`) keeps the latest (`_timestamp`, else
  the later line); the others are counted.
- `token_start`/`token_end` that disagree with the character offsets are reported; the character
  offsets are used.

Label Studio (the JSON export: a list of tasks, each `data` and `annotations[].result[]`):
- the text is `data[text_field]` (`--text-field`, default "text");
- annotations with `was_cancelled` are left out (counted); of several others, the one marked
  `ground_truth` is taken, else the latest by `updated_at`, `created_at`, `id`, and the rest are
  counted; a task with no annotation left (predictions alone are not gold) is left out (counted);
- results of type "labels" give one span per label in `value.labels`; results of other types
  (choices, relations, text areas) are counted and ignored;
- offsets count code points, as Label Studio's editor does since it stopped counting JavaScript
  UTF-16 units, and a "\\r\\n" is two characters, kept in the text. Where `value.text` differs from
  the text at the offsets but matches them read as UTF-16 units (an export of an older Label
  Studio, with a character above U+FFFF before the span), the offsets are converted and counted; a
  `value.text` that matches neither is reported and the offsets are used.

doccano (JSONL: `{"text", "label": [[start, end, label], ...]}`; older exports name the list
`labels`, exports of projects with relations give `entities: [{start_offset, end_offset, label}]`).
doccano writes no span text to check its offsets against, so they are read as code points.
"""
import json
from collections import defaultdict
from typing import Any, Dict, Iterator, List, Optional, Tuple

from spacy.language import Language
from spacy.tokens import Doc

from ..errors import CorpusError
from .file_report import TOOL_FORMATS, FileReport
from .jsonl import INCORRECT_SPANS_KEY, json_lines, record_doc, record_spans

PRODIGY_KEYS = ("answer", "_input_hash", "_task_hash", "_view_id")
DOCCANO_SPAN_KEYS = ("label", "labels", "entities")
Span3 = Tuple[int, int, str]


def detect_tool(text: str, lines: List[str]) -> Optional[str]:
    """The tool whose export `text` is, from its first record; None for any other file."""
    if text.lstrip().startswith("["):
        first = next(_json_array(text, "", probe=True), None)
        return "label-studio" if first is not None and isinstance(first[1], dict) and "data" in first[1] else None
    for line in lines[:50]:
        if line.strip():
            try:
                record = json.loads(line)
            except (ValueError, RecursionError):
                return None
            if not isinstance(record, dict):
                return None
            if any(key in record for key in PRODIGY_KEYS):
                return "prodigy"
            if "data" in record and ("annotations" in record or "predictions" in record):
                return "label-studio"
            if "spans" not in record and _doccano_spans(record):
                return "doccano"
            return None
    return None


def _doccano_spans(record: dict) -> bool:
    for key in ("label", "labels"):
        items = record.get(key)
        if isinstance(items, list) and items and all(isinstance(i, list) and len(i) == 3 for i in items):
            return True
    items = record.get("entities")
    return isinstance(items, list) and bool(items) and all(isinstance(i, dict) and "start_offset" in i for i in items)


def read_tool(
    tool: str,
    path: str,
    text: str,
    lines: List[str],
    nlp: Language,
    report: FileReport,
    alignment: str = "strict",
    label_map: Optional[dict] = None,
    spans_key: str = "sc",
    text_field: str = "text",
) -> List[Doc]:
    """The Docs of one export of `tool` (one of TOOL_FORMATS); see the module docstring."""
    if tool not in TOOL_FORMATS:
        raise CorpusError(path, None, f"unknown annotation tool {tool!r}; use one of {', '.join(TOOL_FORMATS)}")
    args = (nlp, report, alignment, label_map, spans_key)
    if tool == "prodigy":
        docs = _read_prodigy(path, lines, *args)
    elif tool == "label-studio":
        docs = _read_label_studio(path, text, text_field, *args)
    else:
        docs = [record_doc(path, n, record, record_spans(path, n, record, DOCCANO_SPAN_KEYS), *args)
                for n, record in json_lines(path, lines)]
    report.documents = len(docs)
    return docs


def _skip(report: FileReport, n: int, reason: str, detail: str) -> None:
    report.skipped[reason] += 1
    report.problem(n, f"left out: {reason}", detail)


# Prodigy ----------------------------------------------------------------------------------------


def _prodigy_key(record: dict) -> Any:
    return record.get("_input_hash", record.get("text"))


def _is_binary(record: dict, task_hashes: Dict[Any, set]) -> bool:
    view = record.get("_view_id")
    if view is not None:
        return view == "ner"
    spans = record.get("spans")
    return isinstance(spans, list) and len(spans) == 1 and len(task_hashes[_prodigy_key(record)]) > 1


def _check_token_indices(path: str, n: int, record: dict, report: FileReport) -> None:
    """Prodigy's token_end is inclusive: the span runs from tokens[token_start].start to
    tokens[token_end].end. Indices that say otherwise are reported; the offsets are used."""
    tokens = record.get("tokens")
    if not isinstance(tokens, list):
        return
    for span in record.get("spans") or []:
        if not isinstance(span, dict) or "token_start" not in span or "token_end" not in span:
            continue
        try:
            first, last = tokens[span["token_start"]], tokens[span["token_end"]]
            agree = first["start"] == span["start"] and last["end"] == span["end"]
        except (IndexError, KeyError, TypeError):
            agree = False
        if not agree:
            report.problem(n, "token indices disagree with character offsets",
                           f"span [{span.get('start')}, {span.get('end')}) has token_start {span['token_start']}, "
                           f"token_end {span['token_end']} (inclusive); the character offsets are used")


def _read_prodigy(path: str, lines: List[str], nlp: Language, report: FileReport, alignment: str,
                  label_map: Optional[dict], spans_key: str) -> List[Doc]:
    records = list(json_lines(path, lines))
    task_hashes: Dict[Any, set] = defaultdict(set)
    for _, record in records:
        task_hashes[_prodigy_key(record)].add(record.get("_task_hash"))
    manual: Dict[Any, Tuple[int, dict]] = {}  # text -> the latest accepted full annotation
    binary: Dict[Any, List[Tuple[int, dict]]] = defaultdict(list)
    order: Dict[Any, int] = {}  # text -> the line it first appears on
    for n, record in records:
        if not isinstance(record.get("text"), str):
            raise CorpusError(path, n, 'each Prodigy task needs a "text" string')
        key = _prodigy_key(record)
        answer = record.get("answer")
        _check_token_indices(path, n, record, report)
        if _is_binary(record, task_hashes):
            order.setdefault(key, n)
            binary[key].append((n, record))
            continue
        if answer in ("reject", "ignore"):
            _skip(report, n, "rejected" if answer == "reject" else "ignored", f"answer {answer!r}")
            continue
        if answer is None:
            report.problem(n, "no answer: taken as accepted", "a Prodigy task file rather than a db-out export?")
        elif answer != "accept":
            raise CorpusError(path, n, f"unknown Prodigy answer {answer!r}; expected accept, reject or ignore")
        order.setdefault(key, n)
        if key in manual:
            earlier_n, earlier = manual[key]
            if record.get("_timestamp", 0) >= earlier.get("_timestamp", 0):
                manual[key], earlier_n = (n, record), earlier_n
            else:
                earlier_n = n
            _skip(report, earlier_n, "earlier annotation of the same text",
                  "the text was annotated again; the latest annotation is kept")
            continue
        manual[key] = (n, record)
    docs = []
    for key in sorted(order, key=order.get):
        if key in manual:
            n, record = manual[key]
            docs.append(record_doc(path, n, record, record_spans(path, n, record, ("spans",)), nlp, report,
                                   alignment, label_map, spans_key))
            for m, _ in binary.get(key, []):
                _skip(report, m, "binary answer on a text annotated in full", "the full annotation is used")
            continue
        answers = binary[key]
        accepted: List[Span3] = []
        rejected: List[Span3] = []
        for m, record in answers:
            answer = record.get("answer")
            spans = list(record_spans(path, m, record, ("spans",)))
            if answer == "accept":
                accepted.extend(spans)
            elif answer == "reject":
                rejected.extend(spans)
                for _, _, label in spans:
                    report.incorrect[label] += 1
            else:
                _skip(report, m, "ignored", f"binary answer {answer!r}")
        n, first = answers[0]
        doc = record_doc(path, n, first, _unique(accepted), nlp, report, alignment, label_map, spans_key,
                         partial=True, incorrect=_unique(rejected))
        report.partial += 1
        report.problem(n, "binary answers: other tokens missing",
                       f"{len(answers)} answers on this text: {len(accepted)} accepted spans are its entities, "
                       f"every other token is missing; {len(rejected)} rejected spans are in "
                       f"doc.spans[{INCORRECT_SPANS_KEY!r}]")
        docs.append(doc)
    return docs


def _unique(spans: List[Span3]) -> List[Span3]:
    """Spans in order of first appearance, each once (one span answered twice is one entity)."""
    return list(dict.fromkeys(spans))


# Label Studio -----------------------------------------------------------------------------------


def _json_array(text: str, path: str, probe: bool = False) -> Iterator[Tuple[int, Any]]:
    """The items of a JSON array with the line each starts on. `probe`: stop quietly at bad JSON."""
    decoder = json.JSONDecoder()
    pos = text.index("[") + 1
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text) or text[pos] == "]":
            return
        line = text.count("\n", 0, pos) + 1
        try:
            item, pos = decoder.raw_decode(text, pos)
        except (ValueError, RecursionError) as err:
            if probe:
                return
            raise CorpusError(path, line, f"not valid JSON ({err}); a Label Studio export is a JSON list of tasks") from None
        yield line, item


def _utf16_to_index(text: str) -> Dict[int, int]:
    """Offsets in UTF-16 units -> offsets in code points, at every code point boundary."""
    index, units = {}, 0
    for i, char in enumerate(text):
        index[units] = i
        units += 2 if ord(char) > 0xFFFF else 1
    index[units] = len(text)
    return index


def _latest(annotations: List[dict]) -> dict:
    return max(annotations, key=lambda a: (str(a.get("updated_at") or ""), str(a.get("created_at") or ""),
                                           a.get("id") if isinstance(a.get("id"), (int, float)) else 0))


def _label_studio_spans(path: str, n: int, text: str, annotation: dict, report: FileReport) -> List[Span3]:
    spans: List[Span3] = []
    utf16: Optional[Dict[int, int]] = None
    for result in annotation.get("result") or []:
        kind = result.get("type") if isinstance(result, dict) else None
        if kind != "labels":
            report.problem(n, "result of another type ignored", f"type {kind!r} (only \"labels\" results are entities)")
            continue
        value = result.get("value") or {}
        start, end, labels = value.get("start"), value.get("end"), value.get("labels")
        if not (isinstance(start, int) and isinstance(end, int) and isinstance(labels, list)
                and all(isinstance(label, str) and label for label in labels)):
            raise CorpusError(path, n, f"cannot read result {result.get('id')!r}: a \"labels\" result needs "
                                       "integer value.start and value.end and a list value.labels")
        said = value.get("text")
        if isinstance(said, str) and text[start:end] != said:
            utf16 = utf16 or _utf16_to_index(text)
            if start in utf16 and end in utf16 and text[utf16[start]:utf16[end]] == said:
                report.problem(n, "offsets converted from UTF-16 units",
                               f"[{start}, {end}) -> [{utf16[start]}, {utf16[end]}) {said!r} (an older Label Studio)")
                start, end = utf16[start], utf16[end]
            else:
                report.problem(n, "span text differs from the text at its offsets",
                               f"[{start}, {end}) is {text[start:end]!r}, value.text {said!r}; the offsets are used")
        spans.extend((start, end, label) for label in labels)
    return spans


def _read_label_studio(path: str, text: str, text_field: str, nlp: Language, report: FileReport,
                       alignment: str, label_map: Optional[dict], spans_key: str) -> List[Doc]:
    if text.lstrip().startswith("["):
        tasks: Iterator[Tuple[int, Any]] = _json_array(text, path)
    else:  # one task a line
        tasks = json_lines(path, text.split("\n"))
    docs = []
    for n, task in tasks:
        data = task.get("data") if isinstance(task, dict) else None
        if not isinstance(data, dict):
            raise CorpusError(path, n, "a Label Studio task needs a \"data\" object")
        doc_text = data.get(text_field)
        if not isinstance(doc_text, str):
            raise CorpusError(path, n, f"task {task.get('id')!r} has no text in data[{text_field!r}] (its data has "
                                       f"{sorted(data)}); pass --text-field with the field the labeling config's "
                                       "Text tag shows")
        annotations = [a for a in (task.get("annotations") or task.get("completions") or []) if isinstance(a, dict)]
        for annotation in annotations:
            if annotation.get("was_cancelled"):
                _skip(report, n, "cancelled annotation", f"task {task.get('id')!r}, annotation {annotation.get('id')!r}")
        active = [a for a in annotations if not a.get("was_cancelled")]
        if not active:
            _skip(report, n, "task without annotation", f"task {task.get('id')!r}"
                  + (" has predictions only, which are not gold" if task.get("predictions") else ""))
            continue
        if len(active) > 1:
            truth = [a for a in active if a.get("ground_truth")]
            chosen = _latest(truth or active)
            how = "the ground truth" if truth else "the latest"
            for annotation in active:
                if annotation is not chosen:
                    _skip(report, n, "other annotation of the task",
                          f"task {task.get('id')!r}: annotation {chosen.get('id')!r} ({how}) is used, "
                          f"not {annotation.get('id')!r}")
        else:
            chosen = active[0]
        record = {"text": doc_text}
        docs.append(record_doc(path, n, record, _label_studio_spans(path, n, doc_text, chosen, report), nlp,
                               report, alignment, label_map, spans_key))
    return docs
