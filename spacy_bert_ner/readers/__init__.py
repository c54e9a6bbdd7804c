"""Corpus readers: NER corpora in common formats and tag schemes -> spaCy Docs.

    docs, report = read_corpus("da_ddt-ud-train.iob2", "da")   # report.to_dict() for JSON

Formats (auto-detected, `format=` to force): CoNLL-style column files (CoNLL-2002/2003,
UNER, tab- or space-separated), CoNLL-U / CoNLL-X with tags in MISC `name=`/`NE=` or a
given column, JSONL with character-offset spans, and the exports of Prodigy, Label Studio
and doccano (`tool_exports`; `annotation_tools` writes what those tools import). Tag schemes
IOB1, IOB2, BIOES, BILOU are detected per file (`scheme=` to force).

Policies, each counted in the FileReport rather than applied silently:
- an I-/E- tag that continues no span of its label starts one (`repaired`);
- `label_map` renames labels; a label mapped to "O" is dropped (`dropped`);
- Docs are documents: at `# newdoc` / `-DOCSTART-`, else every `n_sents` (default 10)
  sentences; sentence starts are set; whitespace comes from `# text` or `SpaceAfter=No`;
- JSONL spans off token boundaries: `alignment` strict (error), contract or expand;
  overlapping spans all go to `doc.spans[spans_key]` (default "sc") and `doc.ents` keeps
  the longest, then earliest (`spacy.util.filter_spans`); the rest are `set_aside`.

No torch here: conversion must start fast and run where no model is installed.
"""
from .corpus import read_corpus, read_text
from .file_report import FileReport

__all__ = ["read_corpus", "read_text", "FileReport"]
