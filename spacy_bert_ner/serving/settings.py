"""The service's settings: what `serve` was given, handed to each worker process as JSON.

uvicorn starts its workers (`--workers N`) from an import string, so the settings travel in the
environment (`SETTINGS_ENV`) rather than as arguments; Ray Serve pickles them with the deployment.
"""
import json
import os
from dataclasses import asdict, dataclass
from typing import Optional

from ..errors import UserError

SETTINGS_ENV = "SPACY_BERT_NER_SERVE_SETTINGS"
LOG_FORMATS = ("text", "json")


@dataclass(frozen=True)
class ServeSettings:
    model: str
    host: str = "127.0.0.1"
    port: int = 8000
    gpu_id: int = -1
    cpu_inference: Optional[str] = None  # None: the pipeline's own setting, as in predict
    split_chars: Optional[int] = None  # None: nlp.max_length, as in predict
    code: Optional[str] = None  # a Python file imported before loading (custom factories)
    max_batch_texts: int = 64  # texts of all waiting requests run as one nlp.pipe batch
    batch_wait_ms: float = 5.0  # how long the oldest waiting request may wait for others
    max_body_bytes: int = 2_000_000
    max_texts: int = 256  # per request
    max_queue: int = 64  # requests waiting for the model; more are answered 503
    workers: int = 1
    grace_period: float = 30.0  # seconds in-flight requests get after SIGTERM
    log_format: str = "text"
    log_texts: bool = False

    def check(self) -> "ServeSettings":
        """Stop with a message naming the option that is out of range."""
        for option, value, least in (("--max-batch-texts", self.max_batch_texts, 1),
                                     ("--max-body-bytes", self.max_body_bytes, 1),
                                     ("--max-texts", self.max_texts, 1), ("--max-queue", self.max_queue, 1),
                                     ("--workers", self.workers, 1), ("--batch-wait-ms", self.batch_wait_ms, 0),
                                     ("--grace-period", self.grace_period, 0)):
            if value < least:
                raise UserError(f"{option} must be at least {least}, not {value}.")
        if self.log_format not in LOG_FORMATS:
            raise UserError(f"--log-format takes {' or '.join(LOG_FORMATS)}, not {self.log_format!r}.")
        if self.split_chars is not None and self.split_chars < 1:
            raise UserError(f"--split-chars must be at least 1, not {self.split_chars}.")
        return self

    def to_environment(self) -> None:
        os.environ[SETTINGS_ENV] = json.dumps(asdict(self))

    @classmethod
    def from_environment(cls) -> "ServeSettings":
        if SETTINGS_ENV not in os.environ:
            raise UserError(f"{SETTINGS_ENV} is not set: start the service with `spacy-bert-ner serve MODEL`.")
        return cls(**json.loads(os.environ[SETTINGS_ENV]))
