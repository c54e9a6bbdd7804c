"""`python -m spacy bert-ner COMMAND ...`: the same commands through spaCy's own command line.

spaCy imports every `spacy_cli` entry point (setup.cfg) before it runs a command, as it does for
its plugins (spacy-huggingface-hub, spacy-ray); importing this module adds `bert-ner` to spaCy's
app. The command hands all its arguments, `--help` included, to `main`, so both command lines
list the same commands and stop on a bad input with the same one-line message.
"""
import typer
from spacy.cli import app as spacy_app

from .app import app as bert_ner_app, main

PROG_NAME = "python -m spacy bert-ner"


@spacy_app.command("bert-ner", help=bert_ner_app.info.help, add_help_option=False,
                   context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def bert_ner(ctx: typer.Context) -> None:
    main(ctx.args, prog_name=PROG_NAME)
