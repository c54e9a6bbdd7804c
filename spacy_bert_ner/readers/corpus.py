"""Read one corpus file of any supported format into Docs and a report."""
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

from spacy.language import Language
from spacy.tokens import Doc
from spacy.vocab import Vocab

from ..errors import CorpusError, UserError
from ..languages import blank
from .build import DEFAULT_N_SENTS, sentences_to_docs
from .columns import read_columns, sniff_layout
from .jsonl import DEFAULT_SPANS_KEY, looks_like_jsonl, read_jsonl
from .file_report import TOOL_FORMATS, FileReport
from .tool_exports import detect_tool, read_tool

FORMATS = ("auto", "conll", "conllu", "conllx", "jsonl", *TOOL_FORMATS)


def read_text(path: Union[str, Path], encoding: str = "utf-8") -> str:
    """The file's text; a missing, empty or wrongly decoded file stops with what to do."""
    path = Path(path)
    if not path.is_file():
        what = "is a directory, not a file" if path.is_dir() else "not found"
        raise CorpusError(path, None, f"{what}; check the path")
    data = path.read_bytes()
    try:
        text = data.decode(encoding)
    except LookupError:
        raise UserError(f"unknown encoding {encoding!r} for --encoding; use e.g. utf-8 or latin-1") from None
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise CorpusError(
            path, line,
            f"not valid {encoding} (byte {data[err.start]:#04x}); pass the file's encoding with "
            f"--encoding, e.g. --encoding latin-1 (as CoNLL-2002 is distributed)",
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        raise CorpusError(path, None, "the file is empty; nothing to convert")
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    return text


def read_corpus(
    path: Union[str, Path],
    lang: Union[str, Vocab, Language] = "xx",
    *,
    format: str = "auto",
    token_col: Optional[int] = None,
    tag_col: Optional[int] = None,
    scheme: str = "auto",
    label_map: Optional[Dict[str, str]] = None,
    n_sents: int = DEFAULT_N_SENTS,
    encoding: str = "utf-8",
    alignment: str = "strict",
    spans_key: str = DEFAULT_SPANS_KEY,
    text_field: str = "text",
) -> Tuple[List[Doc], FileReport]:
    """Read `path` into Docs (one per document) and a FileReport of what was read.

    lang: a language code, or the Vocab/Language to build Docs with (JSONL text is
      tokenized by that language's tokenizer).
    format: auto (an annotation tool's export, recognised by its records -> prodigy, label-studio
      or doccano; `.jsonl`/`.json` or a first line that is a JSON object -> jsonl; 10 columns
      starting with an ID -> conllu; else conll), conll, conllu, conllx, jsonl, prodigy,
      label-studio or doccano (see `readers.tool_exports`).
    token_col, tag_col: 1-based column numbers, as `cut` and `awk` count; sniffed when None.
    label_map: e.g. {"OTH": "O", "GPE_LOC": "LOC"}; mapping to "O" drops a label (counted).
    alignment, spans_key: for JSONL character spans, see `readers.jsonl`.
    text_field: the Label Studio data field that holds the text.
    """
    if format not in FORMATS:
        raise UserError(f"unknown format {format!r}; use one of {', '.join(FORMATS)}")
    key = str(path)
    text = read_text(path, encoding)
    lines = text.split("\n")
    nlp = make_nlp(lang)
    tool = format if format in TOOL_FORMATS else detect_tool(text, lines) if format == "auto" else None
    if tool is not None:
        report = FileReport(path=key, format=tool, scheme="char-offsets")
        docs = read_tool(tool, key, text, lines, nlp, report, alignment, label_map, spans_key, text_field)
        return docs, report
    if format == "jsonl" or (
        format == "auto" and (Path(path).suffix in (".jsonl", ".json") or looks_like_jsonl(lines[:50]))
    ):
        report = FileReport(path=key, format="jsonl", scheme="char-offsets")
        docs = read_jsonl(key, lines, nlp, report, alignment, label_map, spans_key)
        return docs, report
    layout = sniff_layout(key, lines, format, token_col, tag_col)
    report = FileReport(path=key, format="conllu" if layout.conllu else "conll", layout=layout.describe())
    sentences = read_columns(key, lines, layout, report)
    docs = sentences_to_docs(key, sentences, nlp.vocab, report, scheme, label_map, n_sents, tokenizer=nlp.make_doc)
    return docs, report


def make_nlp(lang: Union[str, Vocab, Language]) -> Language:
    """A blank pipeline: its vocab holds the Docs' strings, its tokenizer splits JSONL text."""
    if isinstance(lang, Language):
        return lang
    if isinstance(lang, Vocab):
        return blank(lang.lang or "xx", vocab=lang)
    return blank(lang)
