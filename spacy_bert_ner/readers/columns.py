"""Column files: CoNLL-2002/2003, UNER, CoNLL-U and CoNLL-X.

One token a line, a blank line between sentences. The layout (separator, number of
columns, token and tag columns, whether tags sit in the CoNLL-U MISC column) is sniffed
from the first lines of the file unless given.

A line starting with `#` is a comment only before a sentence's first token, and in a
file without an ID column only when it is not a well-formed token line: `#hashtag O`
in a two-column file is a token.
"""
from collections import Counter
from dataclasses import dataclass
from typing import List, Optional, Tuple

from ..errors import CorpusError
from .file_report import FileReport
from .schemes import is_tag
from .sentences import TaggedSentence

SNIFF_LINES = 2000
MISC_COL = 9
MISC_KEYS = ("name", "NE")


@dataclass
class Layout:
    sep: Optional[str]  # "\t", or None for any run of whitespace
    n_cols: int
    token_col: int  # 0-based from here on
    tag_col: Optional[int]  # None: the tag is the `misc_key=` entry of MISC
    misc_key: Optional[str]
    has_ids: bool
    conllu: bool

    def describe(self) -> str:
        where = f"MISC {self.misc_key}=" if self.tag_col is None else f"column {self.tag_col + 1}"
        return f"{self.n_cols} columns, token in column {self.token_col + 1}, tag in {where}"


def _is_id(value: str) -> bool:
    return value.isdigit() or (
        ("-" in value or "." in value) and value.replace("-", "").replace(".", "").isdigit()
    )


def sniff_layout(
    path: str,
    lines: List[str],
    format: str,
    token_col: Optional[int] = None,
    tag_col: Optional[int] = None,
) -> Layout:
    """Work out the columns from the file's first token lines (columns given 1-based)."""
    sample = []
    first_line = 0
    ids_ok = True  # does column 1 count 1, 2, 3, ... within each sentence?
    expected = 1
    for n, line in enumerate(lines, 1):
        if not line.strip():
            expected = 1
        elif not line.startswith("#") and not line.startswith("-DOCSTART-"):
            sample.append(line)
            first_line = first_line or n
            head = line.split(None, 1)[0]
            if head.isdigit():
                value = int(head)
                ids_ok = ids_ok and value in (1, expected)  # 1: a sentence whose blank line is missing
                expected = value + 1
            elif not _is_id(head):
                ids_ok = False
            if len(sample) >= SNIFF_LINES:
                break
    if not sample:  # every token may start with `#`: `#hashtag O` lines ending in a tag are tokens
        for n, line in enumerate(lines, 1):
            if line.startswith("#") and len(line.split()) >= 2 and is_tag(line.split()[-1]):
                sample.append(line)
                first_line = first_line or n
        sample, ids_ok = sample[:SNIFF_LINES], False
    if not sample:
        raise CorpusError(path, None, "no token lines found: the file holds only comments or blank lines")
    sep = "\t" if "\t" in sample[0] else None
    rows = [line.split(sep) for line in sample]
    n_cols = Counter(len(row) for row in rows).most_common(1)[0][0]
    rows = [row for row in rows if len(row) == n_cols]
    has_ids = ids_ok and n_cols > 2  # two columns are always token and tag
    conllu = format in ("conllu", "conllx") or (format == "auto" and has_ids and n_cols == 10)
    if conllu and (n_cols != 10 or not has_ids):
        raise CorpusError(
            path, first_line,
            f"not CoNLL-U/CoNLL-X: expected 10 tab-separated columns starting with a token ID, "
            f"found {n_cols}; pass --format conll for other column files",
        )
    tok = token_col - 1 if token_col else (1 if has_ids else 0)
    if tag_col:
        tag = tag_col - 1
        if tag >= n_cols or tok >= n_cols:
            raise CorpusError(path, first_line, f"the file has {n_cols} columns; check --token-col/--tag-col")
        return Layout(sep, n_cols, tok, tag, None, has_ids, conllu)
    if tok >= n_cols:
        raise CorpusError(path, first_line, f"the file has {n_cols} columns; check --token-col")
    if conllu:
        for key in MISC_KEYS:
            prefix = key + "="
            if any(prefix in row[MISC_COL] for row in rows):
                return Layout(sep, n_cols, tok, None, key, has_ids, conllu)
        raise CorpusError(
            path, first_line,
            "found no NER tags in the MISC column (name=B-PER or NE=B-PER); "
            "give the column that holds them with --tag-col",
        )
    # UNER puts the tag right after the form (ID FORM TAG ...), later columns may hold
    # other annotations; CoNLL-2002/2003 put it last, after POS and chunk tags.
    if has_ids:
        candidates = range(tok + 1, n_cols)
    else:
        candidates = [col for col in range(n_cols - 1, -1, -1) if col != tok]
    # The column with the largest share of valid tags wins (ties: the earlier candidate);
    # a few bad tags in it are then reported at their line by the reader.
    best, best_share = None, 0.49  # at least half of the values
    for col in candidates:
        share = sum(map(is_tag, (row[col] for row in rows))) / len(rows)
        if share > best_share:
            best, best_share = col, share
    if best is not None:
        return Layout(sep, n_cols, tok, best, None, has_ids, conllu)
    raise CorpusError(
        path, first_line,
        f"found no column of NER tags (O, B-X, I-X, ...) among the {n_cols} columns; "
        f"give it with --tag-col (1-based), or check the tags in the file",
    )


def read_columns(path: str, lines: List[str], layout: Layout, report: FileReport) -> List[TaggedSentence]:
    """Read sentences; stop with file:line at the first line that does not fit the layout."""
    sep, n_cols, token_col, tag_col = layout.sep, layout.n_cols, layout.token_col, layout.tag_col
    conllu, has_ids = layout.conllu, layout.has_ids
    misc_prefix = f"{layout.misc_key}=" if layout.misc_key else ""
    sentences: List[TaggedSentence] = []
    words: List[str] = []
    tags: List[str] = []
    nums: List[int] = []
    spaces: List[bool] = []
    text: Optional[str] = None
    text_line: Optional[int] = None
    new_doc = False
    # A multiword token (CoNLL-U `3-4 na` over the words `em` `a`) is kept as written: its range,
    # surface form and line, merged onto its words when the Doc is built.
    merges: List[Tuple[int, int, str, int]] = []
    mwt_end, mwt_first, mwt_form, mwt_line, mwt_space = 0, 0, "", 0, True

    def flush() -> None:
        nonlocal words, tags, nums, spaces, text, text_line, new_doc, merges, mwt_end
        if words:
            sentences.append(
                TaggedSentence(words, tags, nums, spaces if conllu else None, text, text_line, new_doc, merges)
            )
            new_doc = False
        words, tags, nums, spaces, text, text_line, merges, mwt_end = [], [], [], [], None, None, [], 0

    for n, line in enumerate(lines, 1):
        if not line or line.isspace():
            flush()
            continue
        fields = line.split(sep)
        if line[0] == "#" and has_ids and words:
            report.problem(n, "comment inside a sentence", "no blank line before it; the sentence ends here")
            flush()
        if line[0] == "#" and not words and (
            has_ids or len(fields) != n_cols or not is_tag(fields[tag_col])
        ):
            body = line[1:].strip()
            if body.startswith("newdoc"):
                new_doc = True
            elif body.startswith("text") and body[4:].lstrip().startswith("="):
                text = body.split("=", 1)[1].strip()
                text_line = n
            continue
        if fields[0] == "-DOCSTART-":
            flush()
            new_doc = True
            continue
        if len(fields) != n_cols:
            raise CorpusError(
                path, n,
                f"expected {layout.describe()}, found {len(fields)} columns; "
                f"fix the line, or give the layout with --format/--token-col/--tag-col",
            )
        if has_ids and not fields[0].isdigit():
            if not (conllu and _is_id(fields[0])):
                raise CorpusError(
                    path, n,
                    f"expected a token ID in column 1, found {fields[0]!r}; fix the line or give the "
                    f"layout with --format/--token-col/--tag-col",
                )
            if "-" in fields[0]:  # a multiword token: its words follow
                mwt_end = int(fields[0].split("-")[1])
                mwt_first, mwt_form, mwt_line = len(words), fields[token_col], n
                mwt_space = "SpaceAfter=No" not in fields[MISC_COL]
            continue  # empty nodes (`8.1`) are not surface tokens
        if conllu:
            token_id = fields[0]
            if mwt_end:
                if int(token_id) == mwt_end:
                    spaces.append(mwt_space)
                    merges.append((mwt_first, len(words) + 1, mwt_form, mwt_line))
                    mwt_end = 0
                else:
                    spaces.append(False)
            else:
                spaces.append("SpaceAfter=No" not in fields[MISC_COL])
        word = fields[token_col]
        if not word:
            raise CorpusError(path, n, f"empty token in column {token_col + 1}; fix the line")
        if tag_col is not None:
            tag = fields[tag_col]
        else:
            tag = ""
            for item in fields[MISC_COL].split("|"):
                if item.startswith(misc_prefix):
                    tag = item[len(misc_prefix):]
                    break
            if not tag:
                raise CorpusError(
                    path, n, f"no {misc_prefix} entry in the MISC column; every token needs an NER tag"
                )
        words.append(word)
        tags.append(tag)
        nums.append(n)
    flush()
    return sentences
