"""`python -m spacy_bert_ner` and the `spacy-bert-ner` console script.

The command line is the workbench: typer comes with the `train` extra (and with spaCy), not with a
model's run time, so the launcher checks for it before importing cli/, whose commands are typer
functions, and a missing typer stops with the pip line rather than an ImportError.
"""
import sys

from .extras import MissingExtra, require


def main() -> None:
    try:
        require("typer", "the spacy-bert-ner command needs")
    except MissingExtra as err:
        print(f"Error: {err}", file=sys.stderr)
        raise SystemExit(1)
    from .cli import main as run_cli

    run_cli()


if __name__ == "__main__":
    main()
