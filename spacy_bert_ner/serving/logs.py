"""The service's logs: one line per request, as text or as JSON (`--log-format json`).

uvicorn's own access log is off; `access_line` writes the request's line instead (method, path,
status, duration, number of texts and characters, the error id of a 500), and the texts
themselves only with `--log-texts`. With JSON, uvicorn's own messages (start, stop) are JSON
lines too, so a log collector reads one format.
"""
import json
import logging
import time
from typing import Any, Dict

LOGGER = "spacy_bert_ner.serve"


class JsonFormatter(logging.Formatter):
    """A record as one JSON object: time, level, logger, message, and the fields in `extra={"fields": ...}`."""

    def format(self, record: logging.LogRecord) -> str:
        line: Dict[str, Any] = {"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
                                + f".{int(record.msecs):03d}Z", "level": record.levelname,
                                "logger": record.name, "message": record.getMessage()}
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["traceback"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def log_config(log_format: str) -> Dict[str, Any]:
    """logging's dictConfig for uvicorn and the service."""
    formatter = ({"()": f"{__name__}.JsonFormatter"} if log_format == "json" else
                 {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"})
    handler = {"class": "logging.StreamHandler", "formatter": "default", "stream": "ext://sys.stderr"}
    loggers = {name: {"handlers": ["default"], "level": "INFO", "propagate": False}
               for name in ("uvicorn", "uvicorn.error", LOGGER)}
    loggers["uvicorn.error"].pop("handlers")
    loggers["uvicorn.error"]["propagate"] = True
    return {"version": 1, "disable_existing_loggers": False, "formatters": {"default": formatter},
            "handlers": {"default": handler}, "loggers": loggers}


def access_line(fields: Dict[str, Any]) -> None:
    """Log one request; the text format puts the fields after the path."""
    logger = logging.getLogger(LOGGER)
    summary = " ".join(f"{key}={value}" for key, value in fields.items() if key not in ("method", "path"))
    logger.info(f"{fields['method']} {fields['path']} {summary}", extra={"fields": fields})
