"""Commands that deliver and run a trained pipeline: `package` (a wheel) and `predict` (a batch)."""
from pathlib import Path
from typing import List, Optional

import typer

from . import options


def package(
    model: Path = typer.Argument(..., help="Trained pipeline directory, e.g. training/model-best."),
    output: Path = typer.Option(..., "--output", "-o", help="Directory for the built wheel."),
    name: str = typer.Option(..., "--name", help="Package name, with or without the pipeline's language prefix: news_ner and da_news_ner both give the package da_news_ner, the name pip and spacy.load use. ASCII letters and digits, words joined by single underscores."),
    version: str = typer.Option("0.0.1", "--version", help="Package version as pip writes it (PEP 440), e.g. 0.1.0."),
    metrics: Optional[Path] = typer.Option(None, "--metrics", help="metrics.json from evaluate, for the meta."),
    corpus: Optional[str] = typer.Option(None, "--corpus", help="Name of the training corpus, for the meta."),
    corpus_license: Optional[str] = typer.Option(None, "--corpus-license"),
    corpus_url: Optional[str] = typer.Option(None, "--corpus-url"),
    add_pipe: List[str] = typer.Option([], "--add-pipe", help="Append a component the training config did not declare, by factory name, e.g. bert_ner_cleanup (default settings); repeatable, empty values ignored."),
    cpu_inference: Optional[str] = typer.Option(None, "--cpu-inference", help="The encoder's arithmetic when the wheel predicts on a CPU: fp32, bf16, int8 or auto (int8 and auto store the int8 graph beside the float32 weights)."),
):
    """Build a pip-installable wheel of a trained pipeline, weights included."""
    from ..inference.packaging import package as build_package

    pipes = [p for p in add_pipe if p.strip()]
    wheel = build_package(model, output, name, version, metrics, corpus, corpus_license, corpus_url, pipes,
                          cpu_inference)
    typer.secho(f"Built {wheel}", fg=typer.colors.GREEN)


def predict(
    model: str = typer.Argument(..., help="Pipeline directory or installed package name."),
    input_path: str = typer.Argument(..., help="Folder of .txt files, a .jsonl file with `text`, or plain text (one doc a line); with --engine ray also a URI (s3://...)."),
    output_path: Path = typer.Argument(..., help="JSONL output: each input record plus `entities` (or, with --format, what an annotation tool imports)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", "-b", min=1, help="Documents per batch (default: the pipeline's)."),
    n_process: int = typer.Option(1, "--n-process", "-n", min=1, help="Worker processes (CPU only)."),
    gpu_id: int = options.gpu_id("run on"),
    split_chars: Optional[int] = typer.Option(None, "--split-chars", min=100, help="Run longer documents as overlapping pieces cut at line or sentence ends (default and at most: the pipeline's max_length, 1,000,000)."),
    max_chars: Optional[int] = typer.Option(None, "--max-chars", min=1, help="Skip documents longer than this (counted and listed) instead of splitting them."),
    min_score: Optional[float] = typer.Option(None, "--min-score", min=0.0, max=1.0, help="Leave out entities scored below this (0-1; counted)."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run into the same OUTPUT from its part file .OUTPUT.part."),
    cpu_inference: Optional[str] = options.cpu_inference(),
    format: str = typer.Option("jsonl", "--format", "-f", help="jsonl (each input record plus `entities`), or pre-annotations to import: label-studio (a JSON list of tasks with predictions), prodigy (JSONL tasks with spans, the score in meta) or doccano (JSONL with label lists)."),
    engine: str = typer.Option("local", "--engine", help="local: this process (and --n-process workers); ray: actors on a Ray cluster (Ray Data)."),
    address: options.Address = None,
    workers: int = typer.Option(1, "--workers", min=1, help="--engine ray: actors, each with the model loaded once."),
    cpus_per_worker: int = typer.Option(1, "--cpus-per-worker", min=1, help="--engine ray: CPUs (and torch threads) of each actor."),
    gpus_per_worker: float = typer.Option(0.0, "--gpus-per-worker", min=0.0, help="--engine ray: GPUs of each actor (e.g. 1, or 0.5 to share one)."),
):
    """Run a pipeline over documents and write one JSON line with entities per document:
    `entities` [{start, end, label, text, score}] with character offsets. Malformed lines are
    reported with their line number and skipped; long documents are split (--split-chars)
    or skipped (--max-chars), and counted. --format writes the same documents as pre-annotations
    for Label Studio, Prodigy or doccano.

    OUTPUT appears only when every document is done. Ctrl-C or SIGTERM stops with exit
    status 130 or 143 and keeps the finished documents in .OUTPUT.part beside it: rerun
    with --resume to continue (the input must be the same)."""
    from ..inference.predict import predict as run_predict
    from ..inference.ray_engine import RayEngine
    from ..inference.signals import Interrupted

    ray = options.ray_engine(engine, address, RayEngine(address, workers, cpus_per_worker, gpus_per_worker))
    try:
        run_predict(model, input_path, output_path, batch_size=batch_size, n_process=n_process, gpu_id=gpu_id,
                    split_chars=split_chars, max_chars=max_chars, resume=resume, min_score=min_score,
                    cpu_inference=cpu_inference, ray=ray, format=format)
    except Interrupted as stop:
        raise SystemExit(128 + stop.signum)
