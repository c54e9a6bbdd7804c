"""The `spacy-bert-ner` command line.

Each command only parses arguments and hands over to the module responsible; heavy
imports (torch, transformers) happen inside the commands so `convert` starts fast.
"""
from pathlib import Path
from typing import List, Optional

import typer

from .errors import UserError

app = typer.Typer(
    name="spacy-bert-ner",
    help="Non-English NER with BERT-family encoders: convert, train, evaluate, package, predict.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def main() -> None:
    try:
        app()
    except UserError as err:
        typer.secho(f"Error: {err}", fg=typer.colors.RED, err=True)
        raise SystemExit(1)
