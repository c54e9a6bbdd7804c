"""Commands on corpora: `convert` (files in, DocBins out) and `export` (DocBins back to IOB2)."""
from pathlib import Path
from typing import List, Optional

import typer


def convert(
    inputs: List[Path] = typer.Argument(..., help="Corpus files: CoNLL/UNER column files, CoNLL-U/CoNLL-X, JSONL, exports of Prodigy, Label Studio, doccano."),
    output: Path = typer.Option(..., "--output", "-o", help="Directory for one NAME.spacy per input."),
    lang: str = typer.Option("xx", "--lang", "-l", help="Language code: vocab, and tokenizer for JSONL text."),
    report: Optional[Path] = typer.Option(None, "--report", help="Write per-file counts and problems as JSON."),
    format: str = typer.Option("auto", "--format", "-f", help="auto, conll, conllu, conllx, jsonl, prodigy, label-studio or doccano."),
    token_col: Optional[int] = typer.Option(None, "--token-col", help="Token column, 1-based (default: sniffed)."),
    tag_col: Optional[int] = typer.Option(None, "--tag-col", help="NER tag column, 1-based (default: sniffed)."),
    scheme: str = typer.Option("auto", "--scheme", help="auto, iob1, iob2, bioes or bilou."),
    label_map: List[str] = typer.Option([], "--map", help="LABEL=NEW, repeatable; NEW=O drops the label."),
    n_sents: int = typer.Option(10, "--n-sents", "-n", help="Sentences per Doc when the file marks no documents."),
    encoding: str = typer.Option("utf-8", "--encoding", help="Input encoding, e.g. latin-1 for CoNLL-2002."),
    alignment: str = typer.Option("strict", "--alignment", help="JSONL spans off token boundaries: strict, contract, expand."),
    spans_key: str = typer.Option("sc", "--spans-key", help="JSONL: doc.spans key that keeps all spans, overlaps included."),
    text_field: str = typer.Option("text", "--text-field", help="Label Studio: the task data field that holds the text."),
    split: Optional[str] = typer.Option(None, "--split", help="One input: e.g. 0.8,0.1,0.1 -> NAME-train/dev/test.spacy."),
    seed: int = typer.Option(0, "--seed", help="Seed of the --split shuffle (by document)."),
):
    """Convert NER corpora to .spacy files, counting every entity read, repaired or dropped.

    Documents follow the file's `# newdoc` / `-DOCSTART-` markers, else every --n-sents
    sentences. Tokens keep the trailing whitespace of `# text` comments or `SpaceAfter=No`.
    Annotation tools' exports keep accepted annotations only; what is left out is counted.
    """
    from ..readers.convert import convert as run_convert

    run_convert(
        inputs, output, lang, report, label_map, split, seed,
        format=format, token_col=token_col, tag_col=tag_col, scheme=scheme, n_sents=n_sents, encoding=encoding,
        alignment=alignment, spans_key=spans_key, text_field=text_field,
    )


def export(
    data: Path = typer.Argument(..., help="A .spacy file, e.g. written by convert."),
    output: Path = typer.Argument(..., help="The IOB2 file to write."),
    plain: bool = typer.Option(False, "--plain", help="FORM TAG lines with -DOCSTART-, no comments (conlleval style)."),
):
    """Write Docs back as IOB2 (doc.ents), readable again by convert with the same Docs."""
    from ..readers.export import export as run_export

    documents, entities, skipped = run_export(data, output, plain)
    typer.secho(f"Wrote {documents} documents, {entities} entities to {output}", fg=typer.colors.GREEN)
    if skipped:
        typer.secho(f"Left out {skipped} whitespace tokens (they cannot be a line of IOB2)", fg=typer.colors.YELLOW)
