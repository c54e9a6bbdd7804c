"""The service's Prometheus metrics, and their text for `GET /metrics`.

Each app has its own registry (several apps in one process, as in tests, do not collide). With
`--workers N` uvicorn runs N processes, each counting its own requests; `serve` then sets
`PROMETHEUS_MULTIPROC_DIR` before they start, prometheus-client keeps every process's values in
files there, and `/metrics` (whichever worker answers it) adds them up.
"""
import os

PATHS = ("/v1/entities", "/health", "/ready", "/metrics", "/", "/docs", "/openapi.json")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


def multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class ServiceMetrics:
    def __init__(self):
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        registry = self.registry
        self.requests = Counter("ner_requests", "HTTP requests answered, by path and status code",
                                ["path", "status"], registry=registry)
        self.latency = Histogram("ner_request_duration_seconds", "Time from request to answer, by path",
                                 ["path"], buckets=LATENCY_BUCKETS, registry=registry)
        self.texts = Counter("ner_texts", "Texts whose entities were answered", registry=registry)
        self.chars = Counter("ner_chars", "Characters of the texts whose entities were answered", registry=registry)
        self.batch_texts = Histogram("ner_batch_texts", "Texts in each batch the pipeline ran",
                                     buckets=BATCH_BUCKETS, registry=registry)
        self.queue_depth = Gauge("ner_queue_depth", "Requests waiting for the model",
                                 multiprocess_mode="livesum", registry=registry)
        self.errors = Counter("ner_errors", "Requests that failed, by kind: pipeline (500), queue_full (503), "
                              "not_ready (503), internal (500)", ["kind"], registry=registry)

    @staticmethod
    def path_label(path: str) -> str:
        """A known path as itself, any other as "other": unknown paths must not grow the label set."""
        return path if path in PATHS else "other"

    def exposition(self) -> bytes:
        from prometheus_client import CollectorRegistry, generate_latest
        from prometheus_client.multiprocess import MultiProcessCollector

        if not multiprocess():
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return generate_latest(registry)
