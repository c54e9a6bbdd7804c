"""Batch prediction: documents in, one JSON line per document out.

INPUT is read by its shape:

- a folder: each `.txt` file directly inside it is one document; output lines carry `file`;
- a `.jsonl` / `.ndjson` file: one JSON object per line with a `text` field; all other
  fields are passed through (an input `entities` field is replaced, and counted);
- any other file: plain UTF-8 text, one document per line (blank lines included, so output
  line N belongs to input line N unless a line was skipped).

Each output line is the input record plus `entities`: `[{start, end, label, text}]`, where
`start`/`end` index the document text in Unicode code points (Python `str` offsets), so
`text[start:end] == entity["text"]`. A malformed line (bad UTF-8, bad JSON, no `text`) is
reported with its line number and skipped; the rest is processed. The output is written to a
hidden temporary file beside OUTPUT and renamed when everything succeeded, so an interrupted
run never leaves a partial file under the final name. Documents are batched with others of
similar length (less padding for the encoder); the output keeps the input order.
"""
import json
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Optional, Tuple

from .batching import SORT_BATCHES, by_length, in_input_order
from .errors import CorpusError, UserError

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

JSONL_SUFFIXES = {".jsonl", ".ndjson"}
MAX_REPORTED = 100  # skipped records printed one by one; all are counted
# Components that leave large outputs on each doc; doc_cleaner frees them after the pipeline.
DOC_OUTPUTS = {"doc.tensor", "doc._.trf_data"}

Record = Tuple[str, Dict[str, Any]]  # document text, output fields passed through


@dataclass
class PredictSummary:
    docs: int = 0
    entities: int = 0
    skipped: List[str] = field(default_factory=list)  # "path:line: reason", one per record
    replaced_entities: int = 0  # JSONL records whose own `entities` field was overwritten


def _lines(path: Path, skip: Callable[[str], None]) -> Iterator[Tuple[int, str]]:
    """Numbered lines without their line ending; undecodable lines are skipped."""
    with path.open("rb") as f:
        for number, raw in enumerate(f, 1):
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                yield number, raw.rstrip(b"\r\n").decode("utf8")
            except UnicodeDecodeError as err:
                skip(str(CorpusError(path, number, f"not valid UTF-8 ({err.reason} at byte "
                                                   f"{err.start}); convert the file to UTF-8")))


def _read_text_lines(path: Path, skip: Callable[[str], None]) -> Iterator[Record]:
    for _, line in _lines(path, skip):
        yield line, {"text": line}


def _read_jsonl(path: Path, skip: Callable[[str], None]) -> Iterator[Record]:
    for number, line in _lines(path, skip):
        if not line.strip():
            continue  # a blank line holds no record
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            skip(str(CorpusError(path, number, f"not valid JSON ({err.msg}, column {err.colno})")))
            continue
        if not isinstance(record, dict):
            problem = f"expected a JSON object with a 'text' field, got {type(record).__name__}"
        elif "text" not in record:
            problem = f"no 'text' field (fields: {', '.join(record) or 'none'})"
        elif not isinstance(record["text"], str):
            problem = f"'text' must be a string, got {type(record['text']).__name__}"
        else:
            yield record["text"], record
            continue
        skip(str(CorpusError(path, number, problem)))


def _read_folder(path: Path, skip: Callable[[str], None]) -> Iterator[Record]:
    for file in sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() == ".txt"):
        try:
            text = file.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError as err:
            skip(str(CorpusError(file, None, f"not valid UTF-8 ({err.reason} at byte {err.start}); "
                                             "convert the file to UTF-8")))
            continue
        yield text, {"file": file.name, "text": text}


def read_records(path: Path, skip: Callable[[str], None]) -> Iterator[Record]:
    """Documents from a folder of .txt files, a JSONL file or a plain text file."""
    if path.is_dir():
        return _read_folder(path, skip)
    if path.suffix.lower() in JSONL_SUFFIXES:
        return _read_jsonl(path, skip)
    return _read_text_lines(path, skip)


def load_pipeline(model: str, gpu_id: int = -1) -> "Language":
    """Load a pipeline folder or package; add `doc_cleaner` if components leave outputs on docs."""
    import spacy

    if gpu_id >= 0:
        try:
            spacy.require_gpu(gpu_id)
        except Exception as err:
            raise UserError(f"Cannot use GPU {gpu_id} ({err}). Pass --gpu-id -1 to run on CPU.")
    path = Path(model)
    if path.exists():
        if not (path / "config.cfg").is_file():
            raise UserError(f"{model} is not a spaCy pipeline folder (it has no config.cfg). "
                            "Pass a trained pipeline such as training/model-best.")
    elif not spacy.util.is_package(model):
        raise UserError(f"Model not found: {model} is neither a folder nor an installed "
                        "pipeline package.")
    nlp = spacy.load(model)
    stores_outputs = any(DOC_OUTPUTS & set(nlp.get_pipe_meta(name).assigns) for name in nlp.pipe_names)
    if stores_outputs and "doc_cleaner" not in nlp.pipe_names:
        nlp.add_pipe("doc_cleaner")  # default attrs: doc.tensor and doc._.trf_data
    return nlp


def doc_to_json(doc: "Doc", fields: Dict[str, Any]) -> Dict[str, Any]:
    return {**fields, "entities": [
        {"start": ent.start_char, "end": ent.end_char, "label": ent.label_, "text": ent.text}
        for ent in doc.ents
    ]}


def _check_paths(input_path: Path, output_path: Path) -> None:
    if not input_path.exists():
        raise UserError(f"Input not found: {input_path}")
    if input_path.is_file() and input_path.suffix.lower() == ".json":
        raise UserError(f"{input_path}: predict reads JSONL (one JSON object per line), plain "
                        "text or a folder of .txt files. If the file has one object per line, "
                        "rename it to .jsonl.")
    if output_path.is_dir():
        raise UserError(f"Output {output_path} is a folder; give a file name such as "
                        f"{output_path / 'predictions.jsonl'}")


def predict(model: str, input_path: Path, output_path: Path, *, batch_size: Optional[int] = None,
            n_process: int = 1, gpu_id: int = -1) -> PredictSummary:
    """Write one JSON line with entities per input document; see the module docstring."""
    from tqdm import tqdm
    from wasabi import msg

    input_path, output_path = Path(input_path), Path(output_path)
    _check_paths(input_path, output_path)
    if n_process > 1 and gpu_id >= 0:
        raise UserError("--n-process above 1 cannot share a GPU; use --n-process 1 with --gpu-id.")
    nlp = load_pipeline(model, gpu_id)
    if n_process > 1 and "torch" in sys.modules:
        import torch  # the workers inherit this: share the cores instead of oversubscribing

        torch.set_num_threads(max(1, torch.get_num_threads() // n_process))
    summary = PredictSummary()

    def skip(message: str) -> None:
        summary.skipped.append(message)
        if len(summary.skipped) <= MAX_REPORTED:
            tqdm.write(f"Skipped {message}", file=sys.stderr)

    output_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=output_path.parent, prefix=f".{output_path.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf8") as out:
            batch_size = batch_size or nlp.batch_size
            records = by_length(read_records(input_path, skip), batch_size * SORT_BATCHES)
            docs = in_input_order(nlp.pipe(records, as_tuples=True, batch_size=batch_size, n_process=n_process))
            for doc, fields in tqdm(docs, desc="Predicting", unit=" docs", disable=None):
                summary.replaced_entities += "entities" in fields
                record = doc_to_json(doc, fields)
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
                summary.docs += 1
                summary.entities += len(record["entities"])
            out.flush()
            os.fsync(out.fileno())
        if summary.docs == 0 and summary.skipped:
            raise UserError(f"No valid document in {input_path}: all {len(summary.skipped)} records "
                            f"were skipped, the first as {summary.skipped[0]}")
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o666 & ~umask)  # mkstemp creates 0600; give the output the usual permissions
        os.replace(tmp, output_path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    msg.good(f"Wrote {summary.docs} documents with {summary.entities} entities to {output_path}")
    if summary.skipped:
        hidden = len(summary.skipped) - MAX_REPORTED
        msg.warn(f"Skipped {len(summary.skipped)} malformed records"
                 + (f" ({hidden} not shown above)" if hidden > 0 else ""))
    if summary.replaced_entities:
        msg.warn(f"{summary.replaced_entities} input records had an 'entities' field; "
                 "it was replaced by the predictions")
    return summary
