"""The `spacy-bert-ner` command line.

Each command only parses arguments and hands over to the module responsible; heavy
imports (torch, transformers) happen inside the commands so `convert` starts fast.
"""
import os
import sys
import traceback
from pathlib import Path
from typing import List, Optional, TypeVar

import typer

from .errors import UserError

VERBOSE = "SPACY_BERT_NER_VERBOSE"
T = TypeVar("T")

app = typer.Typer(
    name="spacy-bert-ner",
    help="Non-English NER with BERT-family encoders: convert, train, evaluate, package, predict.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def train(
    ctx: typer.Context,
    config: Path = typer.Argument(..., help="Training config (.cfg), e.g. configs/ner_trf.cfg."),
    output: Path = typer.Option(..., "--output", "-o", help="Directory for model-best and model-last."),
    gpu_id: int = typer.Option(-1, "--gpu-id", "-g", help="GPU to train on; -1 for CPU."),
):
    """Train a pipeline from a config; extra `--section.key value` options override the config.

    Checks the corpora and the encoder before anything is built: counts what the reader, the
    augmenter and the batcher will train on (and stops if any token would be lost) and the gold
    entities the tokenizer cannot reproduce (stops above `checks.max_misaligned`). Turns mixed
    precision on for GPU runs.
    """
    from spacy.cli._util import parse_config_overrides

    from .train import train as run_training

    run_training(config, output, gpu_id, parse_config_overrides(ctx.args))


@app.command()
def package(
    model: Path = typer.Argument(..., help="Trained pipeline directory, e.g. training/model-best."),
    output: Path = typer.Option(..., "--output", "-o", help="Directory for the built wheel."),
    name: str = typer.Option(..., "--name", help="Package name without the language prefix."),
    version: str = typer.Option("0.0.1", "--version"),
    metrics: Optional[Path] = typer.Option(None, "--metrics", help="metrics.json from evaluate, for the meta."),
    corpus: Optional[str] = typer.Option(None, "--corpus", help="Name of the training corpus, for the meta."),
    corpus_license: Optional[str] = typer.Option(None, "--corpus-license"),
    corpus_url: Optional[str] = typer.Option(None, "--corpus-url"),
    add_pipe: List[str] = typer.Option([], "--add-pipe", help="Append a component the training config did not declare, by factory name, e.g. bert_ner_cleanup (default settings); repeatable, empty values ignored."),
    cpu_inference: Optional[str] = typer.Option(None, "--cpu-inference", help="The encoder's arithmetic when the wheel predicts on a CPU: fp32, bf16 or int8 (applied at load time; the weights stay float32)."),
):
    """Build a pip-installable wheel of a trained pipeline, weights included."""
    from .packaging import package as build_package

    pipes = [p for p in add_pipe if p.strip()]
    wheel = build_package(model, output, name, version, metrics, corpus, corpus_license, corpus_url, pipes,
                          cpu_inference)
    typer.secho(f"Built {wheel}", fg=typer.colors.GREEN)


@app.command()
def convert(
    inputs: List[Path] = typer.Argument(..., help="Corpus files: CoNLL/UNER column files, CoNLL-U/CoNLL-X, JSONL."),
    output: Path = typer.Option(..., "--output", "-o", help="Directory for one NAME.spacy per input."),
    lang: str = typer.Option("xx", "--lang", "-l", help="Language code: vocab, and tokenizer for JSONL text."),
    report: Optional[Path] = typer.Option(None, "--report", help="Write per-file counts and problems as JSON."),
    format: str = typer.Option("auto", "--format", "-f", help="auto, conll, conllu, conllx or jsonl."),
    token_col: Optional[int] = typer.Option(None, "--token-col", help="Token column, 1-based (default: sniffed)."),
    tag_col: Optional[int] = typer.Option(None, "--tag-col", help="NER tag column, 1-based (default: sniffed)."),
    scheme: str = typer.Option("auto", "--scheme", help="auto, iob1, iob2, bioes or bilou."),
    label_map: List[str] = typer.Option([], "--map", help="LABEL=NEW, repeatable; NEW=O drops the label."),
    n_sents: int = typer.Option(10, "--n-sents", "-n", help="Sentences per Doc when the file marks no documents."),
    encoding: str = typer.Option("utf-8", "--encoding", help="Input encoding, e.g. latin-1 for CoNLL-2002."),
    alignment: str = typer.Option("strict", "--alignment", help="JSONL spans off token boundaries: strict, contract, expand."),
    spans_key: str = typer.Option("sc", "--spans-key", help="JSONL: doc.spans key that keeps all spans, overlaps included."),
    split: Optional[str] = typer.Option(None, "--split", help="One input: e.g. 0.8,0.1,0.1 -> NAME-train/dev/test.spacy."),
    seed: int = typer.Option(0, "--seed", help="Seed of the --split shuffle (by document)."),
):
    """Convert NER corpora to .spacy files, counting every entity read, repaired or dropped.

    Documents follow the file's `# newdoc` / `-DOCSTART-` markers, else every --n-sents
    sentences. Tokens keep the trailing whitespace of `# text` comments or `SpaceAfter=No`.
    """
    from .readers.convert import convert as run_convert

    run_convert(
        inputs, output, lang, report, label_map, split, seed,
        format=format, token_col=token_col, tag_col=tag_col, scheme=scheme, n_sents=n_sents, encoding=encoding,
        alignment=alignment, spans_key=spans_key,
    )


@app.command()
def export(
    data: Path = typer.Argument(..., help="A .spacy file, e.g. written by convert."),
    output: Path = typer.Argument(..., help="The IOB2 file to write."),
    plain: bool = typer.Option(False, "--plain", help="FORM TAG lines with -DOCSTART-, no comments (conlleval style)."),
):
    """Write Docs back as IOB2 (doc.ents), readable again by convert with the same Docs."""
    from .readers.export import export as run_export

    documents, entities, skipped = run_export(data, output, plain)
    typer.secho(f"Wrote {documents} documents, {entities} entities to {output}", fg=typer.colors.GREEN)
    if skipped:
        typer.secho(f"Left out {skipped} whitespace tokens (they cannot be a line of IOB2)", fg=typer.colors.YELLOW)


@app.command()
def evaluate(
    model: str = typer.Argument(..., help="Pipeline directory or installed package name."),
    data: Path = typer.Argument(..., help="Gold corpus: a .spacy file (or a file `convert` reads)."),
    output: Path = typer.Option(..., "--output", "-o", help="Directory for metrics.json, report.md, errors.jsonl, PNGs."),
    training_log: Optional[Path] = typer.Option(None, "--training-log", help="JSONL training log, for the training curve."),
    compare: Optional[Path] = typer.Option(None, "--compare", help="metrics.json of another run to compare with."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap resampling."),
    n_bootstrap: int = typer.Option(1000, "--bootstrap", help="Bootstrap resamples for the 95% intervals."),
    gpu_id: int = typer.Option(-1, "--gpu-id", "-g", help="GPU to run the model on; -1 for CPU."),
    cpu_inference: Optional[str] = typer.Option(None, "--cpu-inference", help="The encoder's arithmetic on the CPU: fp32, bf16 (CPUs with native bf16) or int8 (default: the pipeline's setting)."),
):
    """Score a pipeline's entities against gold: strict P/R/F (equal to seqeval), partial
    matches, bootstrap intervals, confusions and error examples, as JSON, Markdown and PNG."""
    from .evaluation.runner import evaluate as run_evaluation

    run_evaluation(model, data, output, training_log, compare, seed, n_bootstrap, gpu_id, cpu_inference)


@app.command()
def calibrate(
    model: str = typer.Argument(..., help="Trained pipeline folder, e.g. training/model-best."),
    data: Path = typer.Argument(..., help="Dev corpus (.spacy or a file convert reads); not the test set."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write a calibrated copy here instead of "
                                          "changing MODEL's config.cfg."),
    gpu_id: int = typer.Option(-1, "--gpu-id", "-g", help="GPU to run the model on; -1 for CPU."),
):
    """Fit a temperature for the entities' confidence scores on dev and keep it in the model's config:
    scores that say 0.8 are then right about 80% of the time. Prints the calibration error before and after."""
    from .evaluation.runner import calibrate as run_calibrate

    run_calibrate(model, data, output, gpu_id)


@app.command()
def predict(
    model: str = typer.Argument(..., help="Pipeline directory or installed package name."),
    input_path: str = typer.Argument(..., help="Folder of .txt files, a .jsonl file with `text`, or plain text (one doc a line); with --engine ray also a URI (s3://...)."),
    output_path: Path = typer.Argument(..., help="JSONL output: each input record plus `entities`."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", "-b", min=1, help="Documents per batch (default: the pipeline's)."),
    n_process: int = typer.Option(1, "--n-process", "-n", min=1, help="Worker processes (CPU only)."),
    gpu_id: int = typer.Option(-1, "--gpu-id", "-g", help="GPU to run on; -1 for CPU."),
    split_chars: Optional[int] = typer.Option(None, "--split-chars", min=100, help="Run longer documents as overlapping pieces cut at line or sentence ends (default and at most: the pipeline's max_length, 1,000,000)."),
    max_chars: Optional[int] = typer.Option(None, "--max-chars", min=1, help="Skip documents longer than this (counted and listed) instead of splitting them."),
    min_score: Optional[float] = typer.Option(None, "--min-score", min=0.0, max=1.0, help="Leave out entities scored below this (0-1; counted)."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run into the same OUTPUT from its part file .OUTPUT.part."),
    cpu_inference: Optional[str] = typer.Option(None, "--cpu-inference", help="The encoder's arithmetic on the CPU: fp32, bf16 (CPUs with native bf16) or int8 (default: the pipeline's setting)."),
    engine: str = typer.Option("local", "--engine", help="local: this process (and --n-process workers); ray: actors on a Ray cluster (Ray Data)."),
    address: Optional[str] = typer.Option(None, "--address", help="--engine ray: the Ray cluster (e.g. 10.0.0.1:6379, or auto); default: a Ray started on this machine."),
    workers: int = typer.Option(1, "--workers", min=1, help="--engine ray: actors, each with the model loaded once."),
    cpus_per_worker: int = typer.Option(1, "--cpus-per-worker", min=1, help="--engine ray: CPUs (and torch threads) of each actor."),
    gpus_per_worker: float = typer.Option(0.0, "--gpus-per-worker", min=0.0, help="--engine ray: GPUs of each actor (e.g. 1, or 0.5 to share one)."),
):
    """Run a pipeline over documents and write one JSON line with entities per document:
    `entities` [{start, end, label, text, score}] with character offsets. Malformed lines are
    reported with their line number and skipped; long documents are split (--split-chars)
    or skipped (--max-chars), and counted.

    OUTPUT appears only when every document is done. Ctrl-C or SIGTERM stops with exit
    status 130 or 143 and keeps the finished documents in .OUTPUT.part beside it: rerun
    with --resume to continue (the input must be the same)."""
    from .predict import Interrupted, RayEngine, predict as run_predict

    ray = ray_engine(engine, address, RayEngine(address, workers, cpus_per_worker, gpus_per_worker))
    try:
        run_predict(model, input_path, output_path, batch_size=batch_size, n_process=n_process, gpu_id=gpu_id,
                    split_chars=split_chars, max_chars=max_chars, resume=resume, min_score=min_score,
                    cpu_inference=cpu_inference, ray=ray)
    except Interrupted as stop:
        raise SystemExit(128 + stop.signum)


def ray_engine(engine: str, address: Optional[str], ray_settings: T) -> Optional[T]:
    """The Ray settings for --engine ray, None for --engine local (which takes no --address)."""
    if engine not in ("local", "ray"):
        raise UserError(f"--engine takes local or ray, not {engine!r}.")
    if engine == "local" and (address is not None or ray_settings != type(ray_settings)(address)):
        raise UserError("--address, --workers and the other Ray options need --engine ray.")
    return ray_settings if engine == "ray" else None


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def sweep(
    ctx: typer.Context,
    config: Path = typer.Argument(..., help="Training config (.cfg), e.g. configs/ner_trf.cfg."),
    output: Path = typer.Option(..., "--output", "-o", help="Directory for results.json, best.cfg and trials/."),
    grid: List[str] = typer.Option(..., "--grid", help="NAME=V1,V2 (repeatable); NAME: lr, warmup, batch, dropout, "
                                   "steps, freeze, encoder_lr_scale, head_width, a dotted config setting, or config=A.cfg,B.cfg (e.g. two heads)."),
    trials: Optional[int] = typer.Option(None, "--trials", help="Try this many grid points, drawn with --seed."),
    seed: int = typer.Option(0, "--seed", help="Seed of the draw of grid points."),
    budget_steps: Optional[int] = typer.Option(None, "--budget-steps", help="training.max_steps of every trial."),
    gpu_id: int = typer.Option(-1, "--gpu-id", "-g", help="GPU to train on; -1 for CPU."),
    engine: str = typer.Option("local", "--engine", help="local: one training after the other here; ray: each a Ray task, side by side."),
    address: Optional[str] = typer.Option(None, "--address", help="--engine ray: the Ray cluster (e.g. 10.0.0.1:6379, or auto); default: a Ray started on this machine."),
    cpus_per_trial: int = typer.Option(1, "--cpus-per-trial", min=1, help="--engine ray: CPUs (and torch threads) of each training."),
    gpus_per_trial: float = typer.Option(0.0, "--gpus-per-trial", min=0.0, help="--engine ray: GPUs of each training (then trained on its GPU)."),
):
    """Train over a grid of config overrides and rank trials by dev F1; rerun to resume.

    Extra `--section.key value` options apply to every trial (e.g. --paths.train). With
    --engine ray the trials run side by side as Ray tasks (paths must be the same on every node)."""
    from spacy.cli._util import parse_config_overrides

    from .experiments.sweep import sweep as run_sweep
    from .experiments.trials import RayTrials

    ray = ray_engine(engine, address, RayTrials(address, cpus_per_trial, gpus_per_trial))
    run_sweep(config, output, grid, trials, seed, budget_steps, gpu_id, parse_config_overrides(ctx.args), ray)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def cv(
    ctx: typer.Context,
    config: Path = typer.Argument(..., help="Training config (.cfg), e.g. configs/ner_trf.cfg."),
    data: Path = typer.Argument(..., help="Annotated corpus: .spacy file, directory of them, or a file convert reads."),
    output: Path = typer.Option(..., "--output", "-o", help="Directory for folds, their reports and cv_results.json."),
    folds: int = typer.Option(5, "--folds", "-k", help="Number of folds (documents are dealt into them)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the fold assignment and the dev split."),
    dev_share: float = typer.Option(0.1, "--dev-share", help="Share of the training documents used as dev set."),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", help="training.max_steps of every fold."),
    gpu_id: int = typer.Option(-1, "--gpu-id", "-g", help="GPU to train on; -1 for CPU."),
    keep_models: bool = typer.Option(False, "--keep-models", help="Keep each fold's model-best."),
    engine: str = typer.Option("local", "--engine", help="local: one training after the other here; ray: each a Ray task, side by side."),
    address: Optional[str] = typer.Option(None, "--address", help="--engine ray: the Ray cluster (e.g. 10.0.0.1:6379, or auto); default: a Ray started on this machine."),
    cpus_per_trial: int = typer.Option(1, "--cpus-per-trial", min=1, help="--engine ray: CPUs (and torch threads) of each training."),
    gpus_per_trial: float = typer.Option(0.0, "--gpus-per-trial", min=0.0, help="--engine ray: GPUs of each training (then trained on its GPU)."),
):
    """K-fold cross-validation over documents: mean and std of test F1, overall and per type.

    Extra `--section.key value` options apply to every fold's training."""
    from spacy.cli._util import parse_config_overrides

    from .experiments.cv import cross_validate
    from .experiments.trials import RayTrials

    ray = ray_engine(engine, address, RayTrials(address, cpus_per_trial, gpus_per_trial))
    cross_validate(config, data, output, folds, seed, dev_share, max_steps, gpu_id, keep_models,
                   overrides=parse_config_overrides(ctx.args), ray=ray)


@app.command("trim-vocab")
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
    from .vocab_trim import trim_vocab as run_trim

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


@app.command("prepare-encoder")
def prepare_encoder(
    encoder: str = typer.Argument(..., help="Hugging Face Hub name or local model directory."),
    output: Path = typer.Argument(..., help="Directory the pipeline will train from."),
    text: List[Path] = typer.Option([], "--text", "-t", help="Corpus files whose vocabulary to keep."),
    trim: str = typer.Option("true", "--trim", help="true: trim the vocabulary to the texts; false: copy as is."),
    keep_top: int = typer.Option(0, "--keep-top", help="With trimming, also keep this many other pieces."),
):
    """Prepare the encoder a workflow trains from: vocabulary-trimmed or a plain local copy.

    Lets project.yml switch trimming with one var; both record the original encoder in
    trim_info.json, which `package` copies into the model's meta."""
    from .vocab_trim import copy_encoder, trim_vocab as run_trim

    choice = trim.strip().lower()
    if choice not in ("true", "false", "1", "0", "yes", "no"):
        raise UserError(f"--trim takes true or false, not {trim!r}.")
    if choice in ("true", "1", "yes"):
        report = run_trim(encoder, output, text, keep_top)
        typer.secho(f"Trimmed {encoder} to {report.kept_pieces:,} of {report.original_pieces:,} pieces in "
                    f"{output}", fg=typer.colors.GREEN)
    else:
        copy_encoder(encoder, output)
        typer.secho(f"Copied {encoder} unchanged to {output}", fg=typer.colors.GREEN)


@app.command()
def models(
    lang: Optional[str] = typer.Option(None, "--lang", "-l", help="Language code, e.g. de, da, pt; all when left out."),
):
    """List recommended encoders: Hub name, size and why, language-specific first, then multilingual."""
    from .encoders import format_models_table

    typer.echo(format_models_table(lang))


def main() -> None:
    """Run a command; a UserError is one line, its cause shown only when asked for.

    Errors the user can fix are worded for them and raised `from None` where the library's own
    exception would only bury the message; the cause is still kept (`__context__`), and
    SPACY_BERT_NER_VERBOSE=1 prints the whole chain for whoever has to debug it.
    """
    try:
        app()
    except UserError as err:
        cause, verbose = err.__cause__ or err.__context__, os.environ.get(VERBOSE, "") not in ("", "0")
        if verbose:
            err.__suppress_context__ = False
            traceback.print_exception(err, file=sys.stderr)
        typer.secho(f"Error: {err}", fg=typer.colors.RED, err=True)
        if cause is not None and not verbose:
            typer.secho(f"(caused by {type(cause).__name__}; {VERBOSE}=1 shows the traceback)", err=True)
        raise SystemExit(1)
