"""Docs -> IOB2 column text, for interchange and for cross-checks with other scorers.

The default layout is what `convert` reads back to the same Docs: UNER-style
`ID<TAB>FORM<TAB>TAG` lines with `# newdoc` and `# text = ...` comments, so documents,
sentences and whitespace survive the round trip. `plain=True` writes CoNLL-2003 style
`FORM<TAB>TAG` lines with `-DOCSTART-` between documents and no comments, which
conlleval-style tools expect.

IOB2 holds `doc.ents` only: spans kept only in `doc.spans` are not written. Whitespace
tokens (a newline in the text) cannot be a line of their own; they are left out and
counted.
"""
from pathlib import Path
from typing import Iterable, List, Tuple

from spacy.tokens import Doc
from spacy.vocab import Vocab

from .docbin import read_docbin
from .schemes import encode_iob2


def sentence_bounds(doc: Doc) -> List[Tuple[int, int]]:
    """(start, end) of each sentence; a Doc without boundaries is one sentence."""
    starts = [i for i, token in enumerate(doc) if i == 0 or token.is_sent_start]
    return list(zip(starts, starts[1:] + [len(doc)]))


def doc_to_lines(doc: Doc, plain: bool = False) -> Tuple[List[str], int]:
    """IOB2 lines for one Doc (no document marker), and the count of whitespace tokens left out."""
    tags = encode_iob2(len(doc), ((ent.start, ent.end, ent.label_) for ent in doc.ents))
    lines: List[str] = []
    skipped = 0
    for start, end in sentence_bounds(doc):
        tokens = [t for t in doc[start:end] if not t.is_space]
        skipped += end - start - len(tokens)
        if not tokens:
            continue
        if not plain:
            lines.append(f"# text = {doc[start:end].text.strip()}")
        for n, token in enumerate(tokens, 1):
            form = token.text.strip()
            lines.append(f"{form}\t{tags[token.i]}" if plain else f"{n}\t{form}\t{tags[token.i]}")
        lines.append("")
    return lines, skipped


def docs_to_text(docs: Iterable[Doc], plain: bool = False) -> Tuple[str, int]:
    """The IOB2 text of all Docs, and the count of whitespace tokens left out."""
    out: List[str] = []
    skipped = 0
    for i, doc in enumerate(docs):
        out.extend(["-DOCSTART-\tO", ""] if plain else [f"# newdoc id = doc-{i}"])
        lines, left_out = doc_to_lines(doc, plain)
        out.extend(lines)
        skipped += left_out
    return "\n".join(out) + "\n", skipped


def export(data: Path, output: Path, plain: bool = False) -> Tuple[int, int, int]:
    """Write `data` (.spacy) to `output` as IOB2; return (documents, entities, whitespace tokens left out)."""
    docs = read_docbin(data, Vocab())
    text, skipped = docs_to_text(docs, plain)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf8")
    return len(docs), sum(len(doc.ents) for doc in docs), skipped
