"""Interrupted runs and `--resume`: the part file beside OUTPUT and what it was started from.

The output is written to `.OUTPUT.part` beside OUTPUT, with `.OUTPUT.part.json` recording what it
was started from (the input's size and a hash of its first MB, the model, the limits), and renamed
to OUTPUT only when every document is done. `--resume` checks that input and settings are the
same, reads back the documents the part file holds (a last line cut short by a kill is dropped and
done again) and uses up as many input records, which are then skipped without running the model.
"""
import hashlib
import json
from pathlib import Path
from typing import Any, Dict, Iterator, Optional, Tuple, Union

from spacy.language import Language

from ..errors import CorpusError, UserError
from .inputs import Record, txt_files
from .output import PredictSummary

HEAD_BYTES = 1 << 20  # the input's first MB is hashed to recognise it on --resume


def input_fingerprint(path: Path) -> Dict[str, Any]:
    """Size and SHA-256 of the first MB of a file; of a folder, its .txt files' total size and
    a hash of their names and sizes. Cheap on any input, and enough to tell another one."""
    if path.is_dir():
        listing = [(file.name, file.stat().st_size) for file in txt_files(path)]
        head = json.dumps(listing).encode("utf8")
        return {"size": sum(size for _, size in listing), "head_sha256": hashlib.sha256(head).hexdigest()}
    with path.open("rb") as f:
        head = f.read(HEAD_BYTES)
    return {"size": path.stat().st_size, "head_sha256": hashlib.sha256(head).hexdigest()}


def part_paths(output_path: Path) -> Tuple[Path, Path]:
    """The part file an unfinished run writes and its sidecar, beside OUTPUT; the same names
    for every run, so that `--resume` finds them."""
    part = output_path.with_name(f".{output_path.name}.part")
    return part, part.with_name(part.name + ".json")


def check_resumable(part: Path, sidecar: Path, started: Dict[str, Any]) -> None:
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


def read_back(part: Path, input_path: Path, records: Iterator[Record], summary: PredictSummary,
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


def complete_lines(path: Path, offset: int) -> int:
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


def started_from(input_path: Path, model: Union[str, Language], split_chars: int, max_chars: Optional[int],
             min_score: Optional[float], cpu_inference: Optional[str]) -> Dict[str, Any]:
    """What a run was started from, kept beside its part file so that --resume can check it."""
    return {"input": input_fingerprint(input_path), "model": _model_name(model), "split_chars": split_chars,
            "max_chars": max_chars, "min_score": min_score, "cpu_inference": cpu_inference}


def _model_name(model: Union[str, Language]) -> str:
    if isinstance(model, Language):
        return f"{model.lang}_{model.meta.get('name')}-{model.meta.get('version')}"
    return str(Path(model).resolve()) if Path(model).exists() else model
