"""predict's output: one JSON line per document, and the summary of a run.

Each output line is the input record plus `entities`: `[{start, end, label, text, score}]`, where
`start`/`end` index the document text in Unicode code points (Python `str` offsets), so
`text[start:end] == entity["text"]`, and `score` is the entity's confidence in 0..1 (null where
the pipeline scores no entities; `--min-score` leaves out those below it, counted). Every engine
turns a document into its line with `written`, so the output is the same whichever ran it.

`--format label-studio|prodigy|doccano` writes what those tools import instead
(`readers.annotation_tools`): the run writes its part file as always, so long texts, `--resume`
and Ray are the same for every format, and `write_tool_file` turns the finished part file into
OUTPUT, one record per document in the same order: a JSON list of Label Studio tasks (its import
takes a list), or a JSONL file of Prodigy tasks or doccano lines. The record's other input fields
go along: Label Studio's `data`, Prodigy's task (its own `meta` merged with the score), doccano's
columns.
"""
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, NamedTuple, Optional

from spacy.language import Language

from ..readers.annotation_tools import doccano_record, label_studio_task, prodigy_task, spans_of_entities
from .long_texts import Entity

FORMATS = ("jsonl", "label-studio", "prodigy", "doccano")

MAX_REPORTED = 100  # skipped records printed one by one; all are counted


@dataclass
class PredictSummary:
    docs: int = 0  # written to OUTPUT, `resumed` of them from the part file
    entities: int = 0
    skipped: List[str] = field(default_factory=list)  # "path:line: reason", one per malformed record
    too_long: List[str] = field(default_factory=list)  # "path:line: reason", above max_chars
    split: int = 0  # documents run as pieces, above split_chars
    resumed: int = 0  # documents read back from the part file of an interrupted run
    replaced_entities: int = 0  # JSONL records whose own `entities` field was overwritten
    below_min_score: int = 0  # entities left out by --min-score


def record_json(fields: Dict[str, Any], entities: List[Entity]) -> Dict[str, Any]:
    """The output record: the input's fields (with its `text`) and the entities found in it, each
    with its `score` (0..1, or null from a component that gives none)."""
    text = fields["text"]
    return {**fields, "entities": [{"start": start, "end": end, "label": label, "text": text[start:end],
                                    "score": score} for start, end, label, score in entities]}


class Written(NamedTuple):
    """One document's output line and what it counts for in the summary."""

    line: str  # the output record as JSON, with its newline
    entities: int
    below_min_score: int  # entities left out by --min-score
    split: bool  # run as pieces, being longer than split_chars
    replaced_entities: bool  # the input record had an `entities` field of its own


def above_min_score(entities: List[Entity], min_score: Optional[float]) -> List[Entity]:
    """The entities --min-score keeps: those scored at least `min_score`, and unscored ones."""
    return entities if min_score is None else [e for e in entities if e[3] is None or e[3] >= min_score]


def written(fields: Dict[str, Any], entities: List[Entity], min_score: Optional[float],
            split_chars: int) -> Written:
    """The output line of one document, after --min-score; the same code for every engine."""
    kept = above_min_score(entities, min_score)
    return Written(json.dumps(record_json(fields, kept), ensure_ascii=False) + "\n", len(kept),
                   len(entities) - len(kept), len(fields["text"]) > split_chars, "entities" in fields)


def print_summary(summary: PredictSummary, output_path: Path, part: Path, split_chars: int,
                   max_chars: Optional[int]) -> None:
    from wasabi import msg

    resumed = f" ({summary.resumed} of them read back from {part})" if summary.resumed else ""
    msg.good(f"Wrote {summary.docs} documents with {summary.entities} entities to {output_path}{resumed}")
    if summary.split:
        msg.info(f"Ran {summary.split} documents longer than {split_chars:,} characters as overlapping "
                 "pieces; their entities are merged at offsets of the whole text")
    too_long = f"documents longer than --max-chars {max_chars:,}" if max_chars else ""
    for skipped, what in ((summary.too_long, too_long), (summary.skipped, "malformed records")):
        if skipped:
            hidden = len(skipped) - MAX_REPORTED
            msg.warn(f"Skipped {len(skipped)} {what}" + (f" ({hidden} not shown above)" if hidden > 0 else ""))
    if summary.below_min_score:
        msg.info(f"Left out {summary.below_min_score} entities scored below --min-score")
    if summary.replaced_entities:
        msg.warn(f"{summary.replaced_entities} input records had an 'entities' field; "
                 "it was replaced by the predictions")


def model_version(nlp: Language) -> str:
    """The pipeline as Label Studio names a prediction's model: its package name and version."""
    return f"{nlp.lang}_{nlp.meta.get('name', 'pipeline')}-{nlp.meta.get('version', '0.0.0')}"


def tool_record(done: Dict[str, Any], format: str, nlp: Language) -> Dict[str, Any]:
    """One finished output record (predict's own JSONL line) as the tool `format` imports it."""
    fields = {key: value for key, value in done.items() if key not in ("text", "entities")}
    text, spans = done["text"], spans_of_entities(done["entities"])
    if format == "label-studio":
        return label_studio_task(text, spans, model_version(nlp), fields)
    if format == "prodigy":
        meta = fields.pop("meta", None)
        # the tokenizer, not make_doc: a text above nlp.max_length runs as pieces and is tokenized whole here
        task = prodigy_task(text, spans, meta if isinstance(meta, dict) else None, doc=nlp.tokenizer(text))
        return {**fields, **task}
    return doccano_record(text, spans, fields)


def write_tool_file(part: Path, output_path: Path, format: str, nlp: Language) -> None:
    """OUTPUT in the tool's format from the finished part file, written beside it and renamed into
    place, so OUTPUT appears whole or not at all."""
    tmp = output_path.with_name(f".{output_path.name}.tmp")
    try:
        with part.open(encoding="utf8") as lines, tmp.open("w", encoding="utf8", newline="\n") as out:
            if format == "label-studio":
                out.write("[")
            for i, line in enumerate(lines):
                record = json.dumps(tool_record(json.loads(line), format, nlp), ensure_ascii=False)
                out.write((("," if i else "") + "\n" + record) if format == "label-studio" else record + "\n")
            if format == "label-studio":
                out.write("\n]\n")
        tmp.replace(output_path)
    except BaseException:  # a stop here keeps the part file for --resume; no half OUTPUT is left
        tmp.unlink(missing_ok=True)
        raise
