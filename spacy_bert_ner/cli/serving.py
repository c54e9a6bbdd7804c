"""The command that runs a trained pipeline as an HTTP service: `serve` (spacy_bert_ner/serving)."""
from typing import Optional

import typer

from ..errors import UserError
from . import options


def serve(
    model: str = typer.Argument(..., help="Pipeline directory or installed package name (a wheel's model, once installed)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0: every interface)."),
    port: int = typer.Option(8000, "--port", min=0, max=65535),
    workers: int = typer.Option(1, "--workers", min=1, help="Processes, each with its own copy of the model (--engine local)."),
    max_batch_texts: int = typer.Option(64, "--max-batch-texts", min=1, help="Texts of concurrent requests run together as one batch, at most."),
    batch_wait_ms: float = typer.Option(5.0, "--batch-wait-ms", min=0.0, help="How long a request waits for others to fill a batch, at most."),
    max_body_bytes: int = typer.Option(2_000_000, "--max-body-bytes", min=1, help="Larger request bodies are answered 413 before they are read."),
    max_texts: int = typer.Option(256, "--max-texts", min=1, help="Texts per request, at most (more: 422)."),
    max_queue: int = typer.Option(64, "--max-queue", min=1, help="Requests waiting for the model, at most (more: 503 with Retry-After)."),
    split_chars: Optional[int] = typer.Option(None, "--split-chars", min=100, help="Run longer texts as overlapping pieces, as predict does (default and at most: the pipeline's max_length)."),
    cpu_inference: Optional[str] = options.cpu_inference(),
    gpu_id: int = options.gpu_id("run on"),
    code: Optional[str] = typer.Option(None, "--code", help="A Python file to import first (registers custom components), as spaCy's --code."),
    grace_period: float = typer.Option(30.0, "--grace-period", min=0.0, help="Seconds the requests in flight get to finish after SIGTERM or Ctrl-C."),
    log_format: str = typer.Option("text", "--log-format", help="text, or json: one JSON object per line."),
    log_texts: bool = typer.Option(False, "--log-texts", help="Log each request's texts (off: only their number and length)."),
    engine: str = typer.Option("local", "--engine", help="local: uvicorn on this machine; ray: a Ray Serve deployment."),
    address: options.Address = None,
    replicas: int = typer.Option(1, "--replicas", min=1, help="--engine ray: replicas, each with the model loaded once."),
    cpus_per_replica: float = typer.Option(1.0, "--cpus-per-replica", min=0.0, help="--engine ray: CPUs of each replica."),
    gpus_per_replica: float = typer.Option(0.0, "--gpus-per-replica", min=0.0, help="--engine ray: GPUs of each replica."),
):
    """Serve a pipeline over HTTP: POST /v1/entities answers the entities predict writes for the
    same texts; GET /health, /ready, /metrics (Prometheus), /docs, and / (a page to try it).
    Concurrent requests are batched together. SIGTERM or Ctrl-C stops accepting, finishes the
    requests in flight and exits 0."""
    from ..extras import SERVE_EXTRA, require
    from ..inference.loading import check_model
    from ..serving.ray_serve import RayServe
    from ..serving.settings import ServeSettings

    for module in ("fastapi", "uvicorn", "prometheus_client"):
        require(module, "serve needs", SERVE_EXTRA)
    check_model(model)
    settings = ServeSettings(model, host=host, port=port, gpu_id=gpu_id, cpu_inference=cpu_inference,
                             split_chars=split_chars, code=code, max_batch_texts=max_batch_texts,
                             batch_wait_ms=batch_wait_ms, max_body_bytes=max_body_bytes, max_texts=max_texts,
                             max_queue=max_queue, workers=workers, grace_period=grace_period,
                             log_format=log_format, log_texts=log_texts).check()
    ray = options.ray_engine(engine, address, RayServe(address, replicas, cpus_per_replica, gpus_per_replica))
    if ray is None:
        from ..serving.server import run

        run(settings)
        return
    if workers > 1:
        raise UserError("--workers is for --engine local; with --engine ray use --replicas.")
    from ..serving.ray_serve import run_ray

    run_ray(settings, ray)

