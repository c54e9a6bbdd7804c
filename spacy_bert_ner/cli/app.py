"""The `spacy-bert-ner` command line: the commands in the order `--help` lists them, and `main`.

Each command only parses arguments and hands over to the wing responsible (its module in this
folder says which); heavy imports (torch, transformers) happen inside the commands so `convert`
starts fast.
"""
import os
import sys
import traceback
from typing import List, Optional

import typer

from ..errors import UserError
from . import data, evaluation, experiments, inference, serving, training
from .options import CONFIG_OVERRIDES

VERBOSE = "SPACY_BERT_NER_VERBOSE"

app = typer.Typer(
    name="spacy-bert-ner",
    help="Non-English NER with BERT-family encoders: convert, train, evaluate, package, predict.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command(context_settings=CONFIG_OVERRIDES)(training.train)
app.command(context_settings=CONFIG_OVERRIDES)(training.preflight)
app.command()(inference.package)
app.command()(data.convert)
app.command()(data.export)
app.command()(evaluation.evaluate)
app.command()(evaluation.calibrate)
app.command()(inference.predict)
app.command()(serving.serve)
app.command(context_settings=CONFIG_OVERRIDES)(experiments.sweep)
app.command(context_settings=CONFIG_OVERRIDES)(experiments.cv)
app.command(context_settings=CONFIG_OVERRIDES)(experiments.audit)
app.command("trim-vocab")(training.trim_vocab)
app.command("prepare-encoder")(training.prepare_encoder)
app.command()(training.models)


def main(args: Optional[List[str]] = None, prog_name: Optional[str] = None) -> None:
    """Run a command; a UserError is one line, its cause shown only when asked for.

    Errors the user can fix are worded for them and raised `from None` where the library's own
    exception would only bury the message; the cause is still kept (`__context__`), and
    SPACY_BERT_NER_VERBOSE=1 prints the whole chain for whoever has to debug it. `args` and
    `prog_name` default to the command line's (the spaCy plugin passes its own).
    """
    try:
        app(args=args, prog_name=prog_name)
    except UserError as err:
        cause, verbose = err.__cause__ or err.__context__, os.environ.get(VERBOSE, "") not in ("", "0")
        if verbose:
            err.__suppress_context__ = False
            traceback.print_exception(err, file=sys.stderr)
        typer.secho(f"Error: {err}", fg=typer.colors.RED, err=True)
        if cause is not None and not verbose:
            typer.secho(f"(caused by {type(cause).__name__}; {VERBOSE}=1 shows the traceback)", err=True)
        raise SystemExit(1)
