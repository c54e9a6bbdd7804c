"""Commands that score a trained pipeline: `evaluate` (against gold) and `calibrate` (its scores)."""
from pathlib import Path
from typing import Optional

import typer

from . import options


def evaluate(
    model: str = typer.Argument(..., help="Pipeline directory or installed package name."),
    data: Path = typer.Argument(..., help="Gold corpus: a .spacy file (or a file `convert` reads)."),
    output: Path = typer.Option(..., "--output", "-o", help="Directory for metrics.json, report.md, errors.jsonl, PNGs."),
    training_log: Optional[Path] = typer.Option(None, "--training-log", help="JSONL training log, for the training curve."),
    compare: Optional[Path] = typer.Option(None, "--compare", help="metrics.json of another run to compare with."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap resampling."),
    n_bootstrap: int = typer.Option(1000, "--bootstrap", help="Bootstrap resamples for the 95% intervals."),
    gpu_id: int = options.gpu_id("run the model on"),
    cpu_inference: Optional[str] = options.cpu_inference(),
):
    """Score a pipeline's entities against gold: strict P/R/F (equal to seqeval), partial
    matches, bootstrap intervals, confusions and error examples, as JSON, Markdown and PNG."""
    from ..evaluation.runner import evaluate as run_evaluation

    run_evaluation(model, data, output, training_log, compare, seed, n_bootstrap, gpu_id, cpu_inference)


def calibrate(
    model: str = typer.Argument(..., help="Trained pipeline folder, e.g. training/model-best."),
    data: Path = typer.Argument(..., help="Dev corpus (.spacy or a file convert reads); not the test set."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write a calibrated copy here instead of "
                                          "changing MODEL's config.cfg."),
    gpu_id: int = options.gpu_id("run the model on"),
):
    """Fit a temperature for the entities' confidence scores on dev and keep it in the model's config:
    scores that say 0.8 are then right about 80% of the time. Prints the calibration error before and after."""
    from ..evaluation.runner import calibrate as run_calibrate

    run_calibrate(model, data, output, gpu_id)
