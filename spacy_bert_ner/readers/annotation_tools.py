"""Records that annotation tools import: Label Studio tasks, Prodigy tasks, doccano lines.

`predict --format` and `audit` write entities for review in a tool with these, and `convert` reads
the tool's export back (`readers.tool_exports`). Each writer takes the text and its spans as
`(start_char, end_char, label, score)` tuples: offsets index the Python string (Unicode code
points, so `text[start:end]` is the span's text) and `score` is a confidence in 0..1 or None.

Offsets: Label Studio's Text tag counts code points since its editor stopped counting JavaScript
UTF-16 units (label-studio-frontend#308, whose tests check `start`/`end` by code points), and
counts "\\r\\n" as two characters, as Python does; Prodigy and doccano read Python offsets. So the
offsets go out as they are, and the text must be the text as given, "\\r\\n" kept.

Task scores: a task's score is the lowest of its spans' scores (None when no span is scored): a
task is as doubtful as its most doubtful entity, and Label Studio's data manager sorts by it to
put those first.
"""
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple
from xml.sax.saxutils import quoteattr

from spacy.tokens import Doc

SpanTuple = Tuple[int, int, str, Optional[float]]

# The names that tie Label Studio results to the labeling config `label_studio_config` writes.
LS_FROM_NAME = "label"
LS_TO_NAME = "text"


def task_score(spans: Iterable[SpanTuple]) -> Optional[float]:
    """The lowest span score, or None when no span has one."""
    scores = [span[3] for span in spans if span[3] is not None]
    return min(scores) if scores else None


def _round(score: Optional[float]) -> Optional[float]:
    return None if score is None else round(float(score), 4)


def label_studio_config(labels: Sequence[str], text_field: str = "text") -> str:
    """The labeling config (XML) of a Label Studio NER project whose tasks `label_studio_task` writes:
    a `Labels` tag named "label" on a `Text` tag named "text" that shows `data[text_field]`.
    `granularity` is left at symbol (the default), so a reviewer can fix any boundary."""
    lines = ["<View>", f'  <Labels name="{LS_FROM_NAME}" toName="{LS_TO_NAME}">']
    lines += [f"    <Label value={quoteattr(label)}/>" for label in labels]
    lines += ["  </Labels>", f'  <Text name="{LS_TO_NAME}" value={quoteattr("$" + text_field)}/>', "</View>"]
    return "\n".join(lines) + "\n"


def label_studio_task(text: str, spans: Sequence[SpanTuple], model_version: str,
                      data: Optional[Dict[str, Any]] = None, text_field: str = "text") -> Dict[str, Any]:
    """A Label Studio import task with the spans as one prediction (pre-annotation):

        {"data": {"text": text, **data},
         "predictions": [{"model_version": model_version, "score": <lowest span score>,
                          "result": [{"id": "e0", "from_name": "label", "to_name": "text",
                                      "type": "labels", "score": 0.97,
                                      "value": {"start": 0, "end": 5, "text": "Alice", "labels": ["PER"]}},
                                     ...]}]}

    `data` carries the record's other fields (an id, a source) into the task; `text_field` names the
    data field the config's Text tag shows (`label_studio_config(labels, text_field)`). A span
    without a score has no "score" key; a prediction with no scored span has none either. Result ids
    are the span's position, unique within the task as Label Studio needs."""
    prediction: Dict[str, Any] = {"model_version": model_version}
    score = task_score(spans)
    if score is not None:
        prediction["score"] = _round(score)
    results = []
    for i, (start, end, label, span_score) in enumerate(spans):
        result: Dict[str, Any] = {
            "id": f"e{i}", "from_name": LS_FROM_NAME, "to_name": LS_TO_NAME, "type": "labels",
            "value": {"start": start, "end": end, "text": text[start:end], "labels": [label]},
        }
        if span_score is not None:
            result["score"] = _round(span_score)
        results.append(result)
    prediction["result"] = results
    return {"data": {**(data or {}), text_field: text}, "predictions": [prediction]}


def prodigy_task(text: str, spans: Sequence[SpanTuple], meta: Optional[Dict[str, Any]] = None,
                 doc: Optional[Doc] = None) -> Dict[str, Any]:
    """A Prodigy task (`prodigy ner.manual DATASET MODEL FILE.jsonl` shows the spans for correction):

        {"text": text,
         "spans": [{"start": 0, "end": 5, "text": "Alice", "label": "PER", "score": 0.97,
                    "token_start": 0, "token_end": 0}, ...],
         "tokens": [{"text": "Alice", "start": 0, "end": 5, "id": 0, "ws": true}, ...],
         "meta": {"score": <lowest span score>, **meta}}

    `tokens` and the spans' `token_start`/`token_end` (inclusive, as Prodigy counts) come only with
    `doc`, the text tokenized; without them Prodigy tokenizes the text itself. Prodigy shows `meta`
    in the corner of the card, so the task's score is seen while reviewing; a span's own score is in
    its "score" key. A span that does not fall on `doc`'s tokens gets no token indices."""
    out_spans = []
    for start, end, label, score in spans:
        span: Dict[str, Any] = {"start": start, "end": end, "text": text[start:end], "label": label}
        if score is not None:
            span["score"] = _round(score)
        if doc is not None:
            tokens = doc.char_span(start, end)
            if tokens is not None:
                span["token_start"], span["token_end"] = tokens.start, tokens.end - 1
        out_spans.append(span)
    task: Dict[str, Any] = {"text": text, "spans": out_spans}
    if doc is not None:
        task["tokens"] = [{"text": t.text, "start": t.idx, "end": t.idx + len(t.text), "id": t.i,
                           "ws": bool(t.whitespace_)} for t in doc]
    score = task_score(spans)
    task["meta"] = {**({"score": _round(score)} if score is not None else {}), **(meta or {})}
    return task


def doccano_record(text: str, spans: Sequence[SpanTuple], data: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """A line of doccano's sequence-labeling JSONL import: `{"text": text, "label": [[0, 5, "PER"], ...],
    **data}`. doccano stores no scores, so they are left out (`data` may carry them as metadata
    columns, which doccano keeps with the example)."""
    return {**(data or {}), "text": text, "label": [[start, end, label] for start, end, label, _ in spans]}


def spans_of_entities(entities: List[Dict[str, Any]]) -> List[SpanTuple]:
    """predict's `entities` ([{start, end, label, score}]) as span tuples."""
    return [(e["start"], e["end"], e["label"], e.get("score")) for e in entities]
