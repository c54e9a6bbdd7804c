"""Errors the user can fix. The CLI prints them as one message, never a traceback."""
from pathlib import Path
from typing import Optional, Union


class UserError(Exception):
    """A problem with the user's input or settings, with what to do about it."""


class CorpusError(UserError):
    """Bad corpus input, located by file and line."""

    def __init__(self, path: Union[str, Path], line: Optional[int], message: str):
        self.path, self.line, self.message = str(path), line, message
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")
