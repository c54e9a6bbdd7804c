"""Options several commands share, declared once: the GPU, the Ray block, config overrides.

A command names the alias (`address: Address = None`) or calls the maker (`gpu_id("train on")`),
so the flag, its short form and its help read the same in every command that takes it.
"""
from typing import Annotated, Any, Dict, Optional, TypeVar

import typer

from ..errors import UserError

T = TypeVar("T")

# Commands that take `--section.key value` overrides of a training config (train, sweep, cv).
CONFIG_OVERRIDES = {"allow_extra_args": True, "ignore_unknown_options": True}


def gpu_id(what: str) -> Any:
    """`--gpu-id` / `-g`; `what` completes the help, e.g. "train on"."""
    return typer.Option(-1, "--gpu-id", "-g", help=f"GPU to {what}; -1 for CPU.")


def cpu_inference() -> Any:
    """`--cpu-inference` of the commands that run a trained pipeline (evaluate, predict)."""
    return typer.Option(None, "--cpu-inference", help="The encoder's arithmetic on the CPU: fp32, bf16 (CPUs with "
                        "native bf16), int8, or auto (picked for the CPU; default: the pipeline's setting).")


Address = Annotated[Optional[str], typer.Option(
    "--address", help="--engine ray: the Ray cluster (e.g. 10.0.0.1:6379, or auto); default: a Ray started on "
    "this machine.")]
# The Ray block of the commands that train (sweep, cv): each training a Ray task.
TrialEngine = Annotated[str, typer.Option(
    "--engine", help="local: one training after the other here; ray: each a Ray task, side by side.")]
CpusPerTrial = Annotated[int, typer.Option(
    "--cpus-per-trial", min=1, help="--engine ray: CPUs (and torch threads) of each training.")]
GpusPerTrial = Annotated[float, typer.Option(
    "--gpus-per-trial", min=0.0, help="--engine ray: GPUs of each training (then trained on its GPU).")]


def config_overrides(ctx: typer.Context) -> Dict[str, Any]:
    """The extra `--section.key value` options, parsed as `spacy train` parses them."""
    from spacy.cli._util import parse_config_overrides

    return parse_config_overrides(ctx.args)


def ray_engine(engine: str, address: Optional[str], ray_settings: T) -> Optional[T]:
    """The Ray settings for --engine ray, None for --engine local (which takes no --address)."""
    if engine not in ("local", "ray"):
        raise UserError(f"--engine takes local or ray, not {engine!r}.")
    if engine == "local" and (address is not None or ray_settings != type(ray_settings)(address)):
        raise UserError("--address, --workers and the other Ray options need --engine ray.")
    return ray_settings if engine == "ray" else None
