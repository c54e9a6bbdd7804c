"""Batch prediction: documents in, one JSON line per document out.

INPUT is read by its shape:

- a folder: each `.txt` file directly inside it is one document; output lines carry `file`;
- a `.jsonl` / `.ndjson` file: one JSON object per line with a `text` field; all other
  fields are passed through (an input `entities` field is replaced, and counted);
- any other file: plain UTF-8 text, one document per line (blank lines included, so output
  line N belongs to input line N unless a line was skipped).

Each output line is the input record plus `entities`: `[{start, end, label, text, score}]`, where
`start`/`end` index the document text in Unicode code points (Python `str` offsets), so
`text[start:end] == entity["text"]`, and `score` is the entity's confidence in 0..1 (null where
the pipeline scores no entities; `--min-score` leaves out those below it). A malformed line (bad UTF-8, bad JSON, no `text`) is
reported with its line number and skipped; the rest is processed. Documents are batched with
others of similar length (less padding for the encoder); the output keeps the input order.

Long documents: one longer than `split_chars` (default and at most the pipeline's
`max_length`, 1,000,000 characters) is run as overlapping pieces and its entities are merged
back at offsets of the whole text (see `long_texts`); with `max_chars`, documents longer than
that are skipped instead. Both are counted and reported.

Interruptions and resuming: the output is written to `.OUTPUT.part` beside OUTPUT, with
`.OUTPUT.part.json` recording what it was started from (the input's size and a hash of its
first MB, the model and the two limits), and renamed to OUTPUT only when every document is
done. On SIGINT (Ctrl-C) or SIGTERM the run stops, says how many documents were done, keeps
the part file for `resume` (removes it when it holds none) and raises `Interrupted`, which
the CLI turns into exit status 130 / 143. `resume` checks that input and settings are the
same, reads back the documents the part file holds (a last line cut short by a kill is
dropped and done again), skips them in the input without running the model, and appends the
rest; malformed and too-long records are counted again as the input is read again. Any other
failure removes the part file, unless it holds an earlier run's documents.

With `ray` (`--engine ray`) the documents run on Ray Data actors (ray_predict.py) and come back
here in input order, to the same part file and OUTPUT; such a run is not resumable, so a stop
removes its part file.
"""
import hashlib
import json
import os
import signal
import sys
import threading
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, NamedTuple, Optional, Tuple, Union

from spacy.language import Language

from .errors import CorpusError, UserError
from .components.confidence import DEFAULT_SPANS_KEY, SCORING_FACTORIES, scoring_pipe
from .jsonfiles import write_json
from .loading import load_pipeline
from .long_texts import Entity, pipe_entities

JSONL_SUFFIXES = {".jsonl", ".ndjson"}
MAX_REPORTED = 100  # skipped records printed one by one; all are counted
HEAD_BYTES = 1 << 20  # the input's first MB is hashed to recognise it on --resume

Record = Tuple[str, Dict[str, Any], str]  # document text, output fields passed through, "path:line"


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


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped `predict`; the CLI exits with 128 + signum (130, 143)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextmanager
def _interrupt_on_signals() -> Iterator[None]:
    """SIGINT and SIGTERM raise Interrupted in this process while the block runs; the first one
    restores the usual handlers, so a second signal acts as it always does. A worker forked by
    `nlp.pipe(n_process=...)` ignores them: the main process ends it on the way out."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    pid = os.getpid()

    def handler(signum: int, frame: Any) -> None:
        if os.getpid() != pid:
            return
        for number, previous_handler in previous.items():
            signal.signal(number, previous_handler)
        raise Interrupted(signum)

    previous = {number: signal.signal(number, handler) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, previous_handler in previous.items():
            signal.signal(number, previous_handler)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _parse_float(value: str) -> float:
    number = float(value)
    if number in (float("inf"), float("-inf")):
        raise ValueError(f"{value} is too large for a JSON number")
    return number


def _lines(name: Union[str, Path], raw_lines: Iterable[bytes], skip: Callable[[str], None]
           ) -> Iterator[Tuple[int, str]]:
    """Numbered lines of a file's bytes without their line ending; undecodable lines are skipped."""
    for number, raw in enumerate(raw_lines, 1):
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            yield number, raw.rstrip(b"\r\n").decode("utf8")
        except UnicodeDecodeError as err:
            skip(str(CorpusError(name, number, f"not valid UTF-8 ({err.reason} at byte "
                                               f"{err.start}); convert the file to UTF-8")))


def _text_records(name: Union[str, Path], raw_lines: Iterable[bytes], skip: Callable[[str], None]
                  ) -> Iterator[Record]:
    for number, line in _lines(name, raw_lines, skip):
        yield line, {"text": line}, f"{name}:{number}"


def _json_problem(line: str) -> Tuple[Any, Optional[str]]:
    """The line's value, or why it cannot be written back as JSON in UTF-8."""
    try:
        value = json.loads(line, parse_constant=_reject_constant, parse_float=_parse_float)
    except json.JSONDecodeError as err:
        return None, f"not valid JSON ({err.msg}, column {err.colno})"
    except ValueError as err:  # NaN, 1e999, an integer of more than 4,300 digits
        return None, f"not valid JSON ({err})"
    except RecursionError:
        return None, "not valid JSON (nested too deeply)"
    if "\\ud" in line.lower():  # a \\uD800-\\uDFFF escape: an unpaired one cannot be written as UTF-8
        try:
            json.dumps(value, ensure_ascii=False).encode("utf8")
        except UnicodeEncodeError:
            return None, "an unpaired surrogate escape (\\ud800-\\udfff) is not a character"
    return value, None


def _jsonl_records(name: Union[str, Path], raw_lines: Iterable[bytes], skip: Callable[[str], None]
                   ) -> Iterator[Record]:
    for number, line in _lines(name, raw_lines, skip):
        if not line.strip():
            continue  # a blank line holds no record
        record, problem = _json_problem(line)
        if problem:
            pass
        elif not isinstance(record, dict):
            problem = f"expected a JSON object with a 'text' field, got {type(record).__name__}"
        elif "text" not in record:
            problem = f"no 'text' field (fields: {', '.join(record) or 'none'})"
        elif not isinstance(record["text"], str):
            problem = f"'text' must be a string, got {type(record['text']).__name__}"
        else:
            yield record["text"], record, f"{name}:{number}"
            continue
        skip(str(CorpusError(name, number, problem)))


def file_records(name: Union[str, Path], raw_lines: Iterable[bytes], skip: Callable[[str], None]
                 ) -> Iterator[Record]:
    """The documents of one input file from its lines as bytes (an open binary file, or the lines
    of its contents): JSONL by the name's suffix, else one document a line."""
    jsonl = Path(str(name)).suffix.lower() in JSONL_SUFFIXES
    return (_jsonl_records if jsonl else _text_records)(name, raw_lines, skip)


def folder_record(file: Union[str, Path], data: bytes, skip: Callable[[str], None]) -> Iterator[Record]:
    """The one document of a .txt file in an input folder, from its bytes."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        skip(str(CorpusError(file, None, f"not valid UTF-8 ({err.reason} at byte {err.start}); "
                                         "convert the file to UTF-8")))
        return
    yield text, {"file": Path(str(file)).name, "text": text}, str(file)


def _txt_files(path: Path) -> List[Path]:
    return sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() == ".txt")


def read_records(path: Path, skip: Callable[[str], None]) -> Iterator[Record]:
    """Documents from a folder of .txt files, a JSONL file or a plain text file."""
    if path.is_dir():
        return (record for file in _txt_files(path) for record in folder_record(file, file.read_bytes(), skip))
    return _file_lines(path, skip)


def _file_lines(path: Path, skip: Callable[[str], None]) -> Iterator[Record]:
    with path.open("rb") as f:
        yield from file_records(path, f, skip)


def input_fingerprint(path: Path) -> Dict[str, Any]:
    """Size and SHA-256 of the first MB of a file; of a folder, its .txt files' total size and
    a hash of their names and sizes. Cheap on any input, and enough to tell another one."""
    if path.is_dir():
        listing = [(file.name, file.stat().st_size) for file in _txt_files(path)]
        head = json.dumps(listing).encode("utf8")
        return {"size": sum(size for _, size in listing), "head_sha256": hashlib.sha256(head).hexdigest()}
    with path.open("rb") as f:
        head = f.read(HEAD_BYTES)
    return {"size": path.stat().st_size, "head_sha256": hashlib.sha256(head).hexdigest()}


def record_json(fields: Dict[str, Any], entities: List[Entity]) -> Dict[str, Any]:
    """The output record: the input's fields (with its `text`) and the entities found in it, each
    with its `score` (0..1, or null from a component that gives none)."""
    text = fields["text"]
    return {**fields, "entities": [{"start": start, "end": end, "label": label, "text": text[start:end],
                                    "score": score} for start, end, label, score in entities]}


def scores_key(nlp: Language) -> str:
    """Where the pipeline puts its entity scores (components/confidence.py)."""
    name = scoring_pipe(nlp)
    return nlp.get_pipe(name).spans_key if name else DEFAULT_SPANS_KEY


def part_paths(output_path: Path) -> Tuple[Path, Path]:
    """The part file an unfinished run writes and its sidecar, beside OUTPUT; the same names
    for every run, so that `--resume` finds them."""
    part = output_path.with_name(f".{output_path.name}.part")
    return part, part.with_name(part.name + ".json")


def is_uri(path: str) -> bool:
    """s3://..., gs://..., hdfs://...: an input only Ray Data reads (ray_predict.py)."""
    return "://" in path


def _check_paths(input_path: Union[str, Path], output_path: Path) -> None:
    """INPUT exists (a URI is checked by Ray Data as it lists it) and OUTPUT can be a file."""
    local = isinstance(input_path, Path)
    if local and not input_path.exists():
        raise UserError(f"Input not found: {input_path}")
    if str(input_path).lower().endswith(".json") and not (local and input_path.is_dir()):
        raise UserError(f"{input_path}: predict reads JSONL (one JSON object per line), plain "
                        "text or a folder of .txt files. If the file has one object per line, "
                        "rename it to .jsonl.")
    if output_path.is_dir():
        raise UserError(f"Output {output_path} is a folder; give a file name such as "
                        f"{output_path / 'predictions.jsonl'}")


def _check_resumable(part: Path, sidecar: Path, started: Dict[str, Any]) -> None:
    """The part file may be continued: same input, model and limits as when it was started."""
    try:
        recorded = json.loads(sidecar.read_text(encoding="utf8"))
    except (OSError, ValueError):
        raise UserError(f"Cannot resume {part}: {sidecar}, which records what it was started from, "
                        f"is missing or unreadable. Delete {part} to start over.") from None
    for key, what in (("input", "input (size, first MB)"), ("model", "model"),
                      ("split_chars", "--split-chars"), ("max_chars", "--max-chars"),
                      ("min_score", "--min-score"), ("cpu_inference", "--cpu-inference")):
        if recorded.get(key) != started[key]:
            raise UserError(f"Cannot resume {part}: it was started with another {what} "
                            f"({recorded.get(key)}, now {started[key]}). Rerun with the same input "
                            f"and settings, or delete {part} to start over.")


def _resume(part: Path, input_path: Path, records: Iterator[Record], summary: PredictSummary,
            split_chars: int) -> int:
    """Match the part file's documents to the first input records, which are thereby used up and
    counted; a last line without its newline (killed mid-write) is cut off, to be done again.
    Returns the part file's length after the cut."""
    end = 0
    with part.open("r+b") as f:
        for number, raw in enumerate(f, 1):
            if not raw.endswith(b"\n"):
                break
            try:
                done = json.loads(raw)
                text, entities = done["text"], done["entities"]
            except (ValueError, TypeError, KeyError) as err:
                raise CorpusError(part, number, f"not a record written by predict ({err!r}); delete "
                                                f"{part} to start over") from None
            record = next(records, None)
            if record is None or record[0] != text:
                where = f"{record[2]} holds another text" if record else f"{input_path} has fewer documents"
                raise CorpusError(part, number, f"does not belong to this input ({where}); delete "
                                                f"{part} to start over")
            summary.docs += 1
            summary.resumed += 1
            summary.entities += len(entities)
            summary.split += len(text) > split_chars
            summary.replaced_entities += "entities" in record[1]
            end += len(raw)
        f.truncate(end)
    return end


def _complete_lines(path: Path, offset: int) -> int:
    """Cut a last line without its newline; the number of lines from byte `offset` on."""
    lines = 0
    with path.open("r+b") as f:
        f.seek(offset)
        for raw in f:
            if not raw.endswith(b"\n"):
                break
            lines += 1
            offset += len(raw)
        f.truncate(offset)
    return lines


def _model_name(model: Union[str, Language]) -> str:
    if isinstance(model, Language):
        return f"{model.lang}_{model.meta.get('name')}-{model.meta.get('version')}"
    return str(Path(model).resolve()) if Path(model).exists() else model


@dataclass(frozen=True)
class RayEngine:
    """predict --engine ray: where and with what the documents are run (ray_predict.py)."""

    address: Optional[str] = None  # a Ray cluster; None starts a local Ray on this machine
    workers: int = 1  # actors, each with the model loaded once
    cpus_per_worker: int = 1  # also each actor's torch threads
    gpus_per_worker: float = 0.0


class Written(NamedTuple):
    """One document's output line and what it counts for in the summary."""

    line: str  # the output record as JSON, with its newline
    entities: int
    below_min_score: int  # entities left out by --min-score
    split: bool  # run as pieces, being longer than split_chars
    replaced_entities: bool  # the input record had an `entities` field of its own


def written(fields: Dict[str, Any], entities: List[Entity], min_score: Optional[float],
            split_chars: int) -> Written:
    """The output line of one document, after --min-score; the same code for every engine."""
    kept = entities if min_score is None else [e for e in entities if e[3] is None or e[3] >= min_score]
    return Written(json.dumps(record_json(fields, kept), ensure_ascii=False) + "\n", len(kept),
                   len(entities) - len(kept), len(fields["text"]) > split_chars, "entities" in fields)


def _local_written(nlp: Language, records: Iterator[Record], split_chars: int, batch_size: Optional[int],
                   n_process: int, min_score: Optional[float]) -> Iterator[Written]:
    results = pipe_entities(nlp, ((text, fields) for text, fields, _ in records), split_chars,
                            batch_size=batch_size, n_process=n_process, scores_key=scores_key(nlp))
    with closing(results):  # a stop ends nlp.pipe's workers
        for entities, fields in results:
            yield written(fields, entities, min_score, split_chars)


def predict(model: Union[str, Language], input_path: Union[str, Path], output_path: Path, *,
            batch_size: Optional[int] = None, n_process: int = 1, gpu_id: int = -1,
            split_chars: Optional[int] = None, max_chars: Optional[int] = None,
            resume: bool = False, min_score: Optional[float] = None,
            cpu_inference: Optional[str] = None, ray: Optional[RayEngine] = None) -> PredictSummary:
    """Write one JSON line with entities per input document; see the module docstring.

    model: a pipeline folder, package name, or a loaded pipeline (used as it is). split_chars:
    documents longer than this are run as pieces (default: `nlp.max_length`). max_chars:
    documents longer than this are skipped and counted. resume: continue the part file of an
    interrupted run into the same OUTPUT. min_score: leave out entities scored below it (counted).
    cpu_inference: the encoder's arithmetic on the CPU, "fp32", "bf16" or "int8" (None: the
    pipeline's own setting; components/encoder.py). ray: run the documents on Ray Data actors
    (ray_predict.py) instead of this process; INPUT may then be any URI Ray reads.
    """
    from tqdm import tqdm
    from wasabi import msg

    output_path = Path(output_path)
    if is_uri(str(input_path)) and ray is None:
        raise UserError(f"{input_path}: a URI is read by Ray Data; add --engine ray, or copy the "
                        "input to this machine.")
    input_path = str(input_path) if is_uri(str(input_path)) else Path(input_path)
    _check_paths(input_path, output_path)
    if n_process > 1 and gpu_id >= 0:
        raise UserError("--n-process above 1 cannot share a GPU; use --n-process 1 with --gpu-id.")
    if ray is not None and (n_process > 1 or gpu_id >= 0 or resume):
        option = "--n-process" if n_process > 1 else "--gpu-id" if gpu_id >= 0 else "--resume"
        raise UserError(f"{option} is for the local engine; with --engine ray use --workers, "
                        "--cpus-per-worker and --gpus-per-worker (an interrupted Ray run starts over).")
    if max_chars is not None and max_chars < 1:
        raise UserError(f"--max-chars must be at least 1, not {max_chars}.")
    if min_score is not None and not 0.0 <= min_score <= 1.0:
        raise UserError(f"--min-score is a score from 0 to 1, not {min_score}.")
    part, sidecar = part_paths(output_path)
    resuming = resume and part.exists()
    if part.exists() and not resume:
        raise UserError(f"{part} is the part file of an interrupted (or still running) run into "
                        f"{output_path}: pass --resume to continue it, or delete it to start over.")
    summary = PredictSummary()

    def report(kind: List[str], message: str) -> None:
        kind.append(message)
        if len(kind) <= MAX_REPORTED:
            tqdm.write(f"Skipped {message}", file=sys.stderr)

    def skip(message: str) -> None:
        report(summary.skipped, message)

    def too_long(message: str) -> None:
        report(summary.too_long, message)

    appended_from: Optional[int] = None  # byte offset from which this run appends to the part file
    with _interrupt_on_signals():
        try:
            # With Ray the actors load their own copies; this one gives the same checks and
            # messages (model, limits, scores) before a cluster is asked for anything.
            nlp = model if isinstance(model, Language) else load_pipeline(model, gpu_id, cpu_inference)
            split_chars = nlp.max_length if split_chars is None else split_chars
            if not 1 <= split_chars <= nlp.max_length:
                raise UserError(f"--split-chars must be between 1 and the pipeline's max_length "
                                f"({nlp.max_length:,}), not {split_chars:,}.")
            if min_score is not None and scoring_pipe(nlp) is None:
                raise UserError(f"--min-score needs entity scores, and {model} gives none: its pipeline "
                                f"{nlp.pipe_names} has no {' or '.join(SCORING_FACTORIES)}. Package the "
                                "model with the current configs, or leave out --min-score.")
            if n_process > 1 and "torch" in sys.modules:
                import torch  # the workers inherit this: share the cores instead of oversubscribing

                torch.set_num_threads(max(1, torch.get_num_threads() // n_process))
            if ray is None:
                records = _admit(read_records(input_path, skip), max_chars, too_long)
            if resuming:
                started = _started(input_path, model, split_chars, max_chars, min_score, cpu_inference)
                _check_resumable(part, sidecar, started)
                appended_from = _resume(part, input_path, records, summary, split_chars)
                msg.info(f"Resuming {part}: {summary.resumed} documents done, continuing after them")
            else:
                if resume:
                    msg.info(f"No part file {part} to resume; starting from the first document")
                started = (None if ray is not None else
                           _started(input_path, model, split_chars, max_chars, min_score, cpu_inference))
                output_path.parent.mkdir(parents=True, exist_ok=True)
                appended_from = 0
                part.write_bytes(b"")
                if started is not None:
                    write_json(sidecar, started, indent=None)
            if ray is None:
                lines = _local_written(nlp, records, split_chars, batch_size, n_process, min_score)
            else:
                from .ray_predict import ray_written

                lines = ray_written(model, input_path, ray, batch_size=batch_size or nlp.batch_size,
                                    split_chars=split_chars,
                                    max_chars=max_chars, min_score=min_score, cpu_inference=cpu_inference,
                                    skip=skip, too_long=too_long)
            with part.open("a", encoding="utf8", newline="\n", buffering=1) as out, closing(lines):
                progress = tqdm(lines, desc="Predicting", unit=" docs", disable=None, initial=summary.docs)
                for line in progress:
                    out.write(line.line)
                    summary.docs += 1
                    summary.entities += line.entities
                    summary.below_min_score += line.below_min_score
                    summary.split += line.split
                    summary.replaced_entities += line.replaced_entities
                out.flush()
                os.fsync(out.fileno())
            if summary.docs == 0 and (summary.skipped or summary.too_long):
                first = (summary.skipped or summary.too_long)[0]
                raise UserError(f"No document to predict in {input_path}: all "
                                f"{len(summary.skipped) + len(summary.too_long)} records were skipped, "
                                f"the first as {first}")
            os.replace(part, output_path)
            sidecar.unlink(missing_ok=True)
        except Interrupted as stop:
            if appended_from is None:
                msg.fail(f"Interrupted by {stop} before any document was done; {output_path} was not "
                         "written" + (f"; {part} is kept as it was, for --resume" if resuming else ""))
            else:
                done = summary.resumed + (_complete_lines(part, appended_from) if part.exists() else 0)
                if done and ray is None:
                    msg.fail(f"Interrupted by {stop} after {done} documents; {output_path} was not "
                             f"written. The {done} documents are kept in {part}: rerun the same "
                             "command with --resume to continue.")
                else:
                    part.unlink(missing_ok=True)
                    sidecar.unlink(missing_ok=True)
                    msg.fail(f"Interrupted by {stop} " + (f"after {done} documents; {output_path} was not "
                             f"written, and {part} was removed (a Ray run starts over)" if done else
                             f"before any document was done; {output_path} was not written"))
            raise
        except BaseException:
            if appended_from is not None and summary.resumed == 0:
                part.unlink(missing_ok=True)
                sidecar.unlink(missing_ok=True)
            raise
    _print_summary(summary, output_path, part, split_chars, max_chars)
    return summary


def _started(input_path: Path, model: Union[str, Language], split_chars: int, max_chars: Optional[int],
             min_score: Optional[float], cpu_inference: Optional[str]) -> Dict[str, Any]:
    """What a run was started from, kept beside its part file so that --resume can check it."""
    return {"input": input_fingerprint(input_path), "model": _model_name(model), "split_chars": split_chars,
            "max_chars": max_chars, "min_score": min_score, "cpu_inference": cpu_inference}


def admitted(text: str, where: str, max_chars: Optional[int], too_long: Callable[[str], None]) -> bool:
    """Whether a document is predicted: one above max_chars is reported and skipped."""
    if max_chars is not None and len(text) > max_chars:
        too_long(f"{where}: {len(text):,} characters, above --max-chars {max_chars:,}")
        return False
    return True


def _admit(records: Iterator[Record], max_chars: Optional[int], too_long: Callable[[str], None]
           ) -> Iterator[Record]:
    return (record for record in records if admitted(record[0], record[2], max_chars, too_long))


def _print_summary(summary: PredictSummary, output_path: Path, part: Path, split_chars: int,
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
