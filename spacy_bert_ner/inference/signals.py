"""SIGINT and SIGTERM as an exception, so that `predict` can stop cleanly and say what it did."""
import os
import signal
import threading
from contextlib import contextmanager
from typing import Any, Iterator


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped `predict`; the CLI exits with 128 + signum (130, 143)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextmanager
def interrupt_on_signals() -> Iterator[None]:
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
