"""predict's input, read by its shape, as records: (text, fields passed through, "path:line").

- a folder: each `.txt` file directly inside it is one document; its record carries `file`;
- a `.jsonl` / `.ndjson` file: one JSON object per line with a `text` field; all other fields
  are passed through;
- any other file: plain UTF-8 text, one document per line (blank lines included, so output
  line N belongs to input line N unless a line was skipped).

A malformed line (bad UTF-8, bad JSON, no `text`) goes to `skip` with its file and line number,
and reading goes on. The Ray engine reads each file with the same functions, so both engines
skip the same records with the same messages.
"""
import json
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple, Union

from ..errors import CorpusError

JSONL_SUFFIXES = {".jsonl", ".ndjson"}
Record = Tuple[str, Dict[str, Any], str]  # document text, output fields passed through, "path:line"


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


def txt_files(path: Path) -> List[Path]:
    return sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() == ".txt")


def read_records(path: Path, skip: Callable[[str], None]) -> Iterator[Record]:
    """Documents from a folder of .txt files, a JSONL file or a plain text file."""
    if path.is_dir():
        return (record for file in txt_files(path) for record in folder_record(file, file.read_bytes(), skip))
    return _file_lines(path, skip)


def _file_lines(path: Path, skip: Callable[[str], None]) -> Iterator[Record]:
    with path.open("rb") as f:
        yield from file_records(path, f, skip)


def is_uri(path: str) -> bool:
    """s3://..., gs://..., hdfs://...: an input only Ray Data reads (ray_engine.py)."""
    return "://" in path


def admitted(text: str, where: str, max_chars: Optional[int], too_long: Callable[[str], None]) -> bool:
    """Whether a document is predicted: one above max_chars is reported and skipped."""
    if max_chars is not None and len(text) > max_chars:
        too_long(f"{where}: {len(text):,} characters, above --max-chars {max_chars:,}")
        return False
    return True


def admit(records: Iterator[Record], max_chars: Optional[int], too_long: Callable[[str], None]
           ) -> Iterator[Record]:
    return (record for record in records if admitted(record[0], record[2], max_chars, too_long))
