"""The one JSON writer: every results, metrics, report and settings file the package writes.

`json` rather than srsly, which rounds floats to 10 digits; readable UTF-8; a newline at the end.
`atomic` writes through a temporary file, so a run stopped mid-write (a sweep, a fold, a harness
record) never leaves half a file for the next run to resume from.
"""
import json
from pathlib import Path
from typing import Any, Dict, Iterable, Optional


def write_json(path: Path, data: Any, *, indent: Optional[int] = 2, atomic: bool = False) -> None:
    text = json.dumps(data, ensure_ascii=False, indent=indent) + "\n"
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if not atomic:
        target.write_text(text, encoding="utf8")
        return
    tmp = target.with_suffix(target.suffix + ".tmp")
    tmp.write_text(text, encoding="utf8")
    tmp.replace(target)


def write_jsonl(path: Path, records: Iterable[Dict[str, Any]]) -> None:
    with Path(path).open("w", encoding="utf8") as f:
        f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
