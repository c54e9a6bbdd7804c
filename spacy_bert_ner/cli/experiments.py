"""Commands that train many times: `sweep` (a grid of settings), `cv` (k-fold cross-validation) and
`audit` (cross-validation that ranks likely annotation errors)."""
from pathlib import Path
from typing import List, Optional

import typer

from . import options


def sweep(
    ctx: typer.Context,
    config: Path = typer.Argument(..., help="Training config (.cfg), e.g. configs/ner_trf.cfg."),
    output: Path = typer.Option(..., "--output", "-o", help="Directory for results.json, best.cfg and trials/."),
    grid: List[str] = typer.Option(..., "--grid", help="NAME=V1,V2 (repeatable); NAME: lr, warmup, batch, dropout, "
                                   "steps, freeze, encoder_lr_scale, head_width, a dotted config setting, or config=A.cfg,B.cfg (e.g. two heads)."),
    trials: Optional[int] = typer.Option(None, "--trials", help="Try this many grid points, drawn with --seed."),
    seed: int = typer.Option(0, "--seed", help="Seed of the draw of grid points."),
    budget_steps: Optional[int] = typer.Option(None, "--budget-steps", help="training.max_steps of every trial."),
    gpu_id: int = options.gpu_id("train on"),
    engine: options.TrialEngine = "local",
    address: options.Address = None,
    cpus_per_trial: options.CpusPerTrial = 1,
    gpus_per_trial: options.GpusPerTrial = 0.0,
):
    """Train over a grid of config overrides and rank trials by dev F1; rerun to resume.

    Extra `--section.key value` options apply to every trial (e.g. --paths.train). With
    --engine ray the trials run side by side as Ray tasks (paths must be the same on every node)."""
    from ..experiments.sweep import sweep as run_sweep
    from ..experiments.trials import RayTrials

    ray = options.ray_engine(engine, address, RayTrials(address, cpus_per_trial, gpus_per_trial))
    run_sweep(config, output, grid, trials, seed, budget_steps, gpu_id, options.config_overrides(ctx), ray)


def cv(
    ctx: typer.Context,
    config: Path = typer.Argument(..., help="Training config (.cfg), e.g. configs/ner_trf.cfg."),
    data: Path = typer.Argument(..., help="Annotated corpus: .spacy file, directory of them, or a file convert reads."),
    output: Path = typer.Option(..., "--output", "-o", help="Directory for folds, their reports and cv_results.json."),
    folds: int = typer.Option(5, "--folds", "-k", help="Number of folds (documents are dealt into them)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the fold assignment and the dev split."),
    dev_share: float = typer.Option(0.1, "--dev-share", help="Share of the training documents used as dev set."),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", help="training.max_steps of every fold."),
    gpu_id: int = options.gpu_id("train on"),
    keep_models: bool = typer.Option(False, "--keep-models", help="Keep each fold's model-best."),
    engine: options.TrialEngine = "local",
    address: options.Address = None,
    cpus_per_trial: options.CpusPerTrial = 1,
    gpus_per_trial: options.GpusPerTrial = 0.0,
):
    """K-fold cross-validation over documents: mean and std of test F1, overall and per type.

    Extra `--section.key value` options apply to every fold's training."""
    from ..experiments.cv import cross_validate
    from ..experiments.trials import RayTrials

    ray = options.ray_engine(engine, address, RayTrials(address, cpus_per_trial, gpus_per_trial))
    cross_validate(config, data, output, folds, seed, dev_share, max_steps, gpu_id, keep_models,
                   overrides=options.config_overrides(ctx), ray=ray)


def audit(
    ctx: typer.Context,
    config: Path = typer.Argument(..., help="Training config (.cfg), e.g. configs/ner_trf.cfg."),
    data: Path = typer.Argument(..., help="Annotated corpus: .spacy file, directory of them, or a file convert reads."),
    output: Path = typer.Option(..., "--output", "-o", help="Directory for issues.jsonl, report.md, the review "
                                "files and the folds."),
    folds: int = typer.Option(5, "--folds", "-k", help="Number of folds: each document is judged by the model "
                              "trained on the other folds."),
    seed: int = typer.Option(0, "--seed", help="Seed of the fold assignment and the dev split."),
    dev_share: float = typer.Option(0.1, "--dev-share", help="Share of the training documents used as dev set."),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", help="training.max_steps of every fold."),
    gpu_id: int = options.gpu_id("train and predict on"),
    top: int = typer.Option(20, "--top", help="Rows shown in context in report.md."),
    engine: options.TrialEngine = "local",
    address: options.Address = None,
    cpus_per_trial: options.CpusPerTrial = 1,
    gpus_per_trial: options.GpusPerTrial = 0.0,
):
    """Rank likely annotation errors: where models trained on the other folds disagree with the annotation.

    Writes issues.jsonl (kinds: missing, spurious, wrong_type, wrong_boundary), report.md and the
    sentences as Label Studio and Prodigy tasks for review. Extra `--section.key value` options apply
    to every fold's training; rerun to resume."""
    from ..experiments.audit import audit as run_audit
    from ..experiments.trials import RayTrials

    ray = options.ray_engine(engine, address, RayTrials(address, cpus_per_trial, gpus_per_trial))
    run_audit(config, data, output, folds, seed, dev_share, max_steps, gpu_id, options.config_overrides(ctx),
              ray, top)
