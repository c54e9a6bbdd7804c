"""Running the app on this machine: uvicorn, with `--workers N` processes.

uvicorn stops on SIGTERM or Ctrl-C as a service should: it stops accepting connections, lets the
requests in flight finish (for at most `grace_period` seconds), then runs the app's shutdown,
which lets the model thread finish what is queued. It then raises the signal again so that the
process dies of it; `run` installs handlers that ignore that second delivery, so a stop that
went as planned exits 0. With several workers uvicorn's supervisor forwards the signal to each.
"""
import os
import shutil
import signal
import tempfile

from .logs import log_config
from .settings import ServeSettings

APP_FACTORY = "spacy_bert_ner.serving.app:app_from_environment"


def run(settings: ServeSettings) -> None:
    """Serve until SIGTERM or Ctrl-C (returns then, after the graceful stop)."""
    import uvicorn

    settings.to_environment()
    metrics_dir = None
    if settings.workers > 1:  # each worker writes its metrics there; /metrics adds them up
        metrics_dir = tempfile.mkdtemp(prefix="spacy_bert_ner_metrics_")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    previous = {number: signal.signal(number, lambda *_: None) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        uvicorn.run(APP_FACTORY, factory=True, host=settings.host, port=settings.port, workers=settings.workers,
                    log_config=log_config(settings.log_format), access_log=False,
                    timeout_graceful_shutdown=settings.grace_period)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
