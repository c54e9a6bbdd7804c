"""Sentences with tags -> spaCy Docs: spans decoded, labels mapped, text rebuilt.

Each Doc is one document: sentences are grouped at `# newdoc` / `-DOCSTART-` markers,
or, in a file without markers, every `n_sents` sentences (default 10: enough context
for a transformer's window, small enough to batch well). Sentence starts are set on
every token, and tokens outside entities are marked O (not missing), so the Docs train
and score as fully annotated.
"""
from typing import Callable, Dict, Iterator, List, Optional, Tuple

from spacy.tokens import Doc, Span
from spacy.vocab import Vocab

from ..errors import CorpusError
from .file_report import FileReport
from .schemes import SCHEMES, TagError, check_scheme, decode, detect_scheme, parse_tag
from .sentences import TaggedSentence

DEFAULT_N_SENTS = 10


def text_spaces(words: List[str], text: str) -> Optional[List[bool]]:
    """Each word's trailing whitespace, read off the sentence's raw text; None if they differ."""
    spaces = []
    pos, end = 0, len(text)
    for word in words:
        while pos < end and text[pos].isspace():
            pos += 1
        if not text.startswith(word, pos):
            return None
        pos += len(word)
        spaces.append(pos < end and text[pos].isspace())
    if text[pos:].strip():
        return None
    return spaces


def surface_tokens(sent: TaggedSentence, spaces: List[bool]) -> Tuple[List[str], List[bool], List[int]]:
    """The tokens as written (a multiword token as one: `na`, not `em a`), their spaces, and the
    token index of each syntactic word."""
    if not sent.merges:
        return sent.words, spaces, list(range(len(sent.words)))
    merges = {first: (end, form) for first, end, form, _ in sent.merges}
    tokens: List[str] = []
    token_spaces: List[bool] = []
    index: List[int] = []
    i = 0
    while i < len(sent.words):
        end, form = merges.get(i, (i + 1, sent.words[i]))
        index.extend([len(tokens)] * (end - i))
        tokens.append(form)
        token_spaces.append(spaces[end - 1])
        i = end
    return tokens, token_spaces, index


def merge_spans(sent: TaggedSentence, spans: List[Tuple[int, int, str]], index: List[int], report: FileReport,
                ) -> List[Tuple[int, int, str]]:
    """Word spans -> token spans. An entity edge inside a multiword token widens the entity to the
    whole token (reported with the token's line); an entity that then overlaps the one before it
    is dropped (reported)."""
    if not sent.merges:
        return spans
    lines = {}
    for first, end, form, line in sent.merges:
        lines.update({i: (form, line) for i in range(first, end)})
    out: List[Tuple[int, int, str]] = []
    for start, end, label in spans:
        token_start, token_end = index[start], index[end - 1] + 1
        if out and token_start < out[-1][1]:
            form, line = lines.get(start, (sent.words[start], sent.lines[start]))
            report.dropped[label] += 1
            report.problem(line, "entity dropped in a multiword token",
                           f"{label} over {' '.join(sent.words[start:end])!r} shares {form!r} with "
                           f"{out[-1][2]} before it")
            continue
        for word, inside in ((start, start > 0 and index[start - 1] == token_start),
                             (end - 1, end < len(index) and index[end] == token_end - 1)):
            if inside:
                form, line = lines[word]
                report.problem(line, "entity edge inside a multiword token",
                               f"{label} over {' '.join(sent.words[start:end])!r} covers all of {form!r}")
        out.append((token_start, token_end, label))
    return out


def count_misaligned(doc: Doc, tokens: Doc, report: FileReport, line_of: Callable[[Span], Optional[int]]) -> None:
    """Count the entities of `doc` whose edges fall inside a token of `tokens` (the same text as the
    language's tokenizer splits it): trained on raw text, they would be lost."""
    for ent in doc.ents:
        if tokens.char_span(ent.start_char, ent.end_char) is None:
            inside = tokens.char_span(ent.start_char, ent.end_char, alignment_mode="expand")
            report.misaligned[ent.label_] += 1
            report.problem(line_of(ent), "entity inside a token of the tokenizer",
                           f"{ent.text!r} {ent.label_} in {inside.text!r}: the {tokens.lang_!r} tokenizer does not "
                           "split it out, so training on raw text loses it")


def group_documents(sentences: List[TaggedSentence], n_sents: int) -> Iterator[List[TaggedSentence]]:
    """Documents at the file's markers if it has any, else every `n_sents` sentences."""
    if any(s.new_doc for s in sentences):
        doc: List[TaggedSentence] = []
        for sent in sentences:
            if sent.new_doc and doc:
                yield doc
                doc = []
            doc.append(sent)
        if doc:
            yield doc
    else:
        size = max(n_sents, 1)
        for i in range(0, len(sentences), size):
            yield sentences[i : i + size]


def resolve_scheme(path: str, sentences: List[TaggedSentence], scheme: str) -> str:
    """Check every distinct tag parses (and fits a forced scheme); return the scheme."""
    if scheme != "auto" and scheme not in SCHEMES:
        raise CorpusError(path, None, f"unknown scheme {scheme!r}; use auto or one of {', '.join(SCHEMES)}")
    distinct = set()
    for sent in sentences:
        distinct.update(sent.tags)
    bad = {}
    for tag in distinct:
        try:
            parse_tag(tag)
            if scheme != "auto":
                check_scheme(tag, scheme)
        except TagError as err:
            bad[tag] = str(err)
    if bad:
        for sent in sentences:
            for tag, line in zip(sent.tags, sent.lines):
                if tag in bad:
                    raise CorpusError(path, line, bad[tag])
    return detect_scheme(s.tags for s in sentences) if scheme == "auto" else scheme


def sentences_to_docs(
    path: str,
    sentences: List[TaggedSentence],
    vocab: Vocab,
    report: FileReport,
    scheme: str = "auto",
    label_map: Optional[Dict[str, str]] = None,
    n_sents: int = DEFAULT_N_SENTS,
    tokenizer: Optional[Callable[[str], Doc]] = None,
) -> List[Doc]:
    """Decode, map and count entities; build one Doc per document.

    tokenizer: the language's `nlp.make_doc`; entities whose edges fall inside one of its tokens
    are counted and reported with their line (training on raw text would lose them).
    """
    report.scheme = scheme = resolve_scheme(path, sentences, scheme)
    label_map = label_map or {}
    # Without `# text` comments and without one SpaceAfter=No, a file says nothing of its raw
    # text: its Docs are marked as of unknown spacing (spaCy then trains on the corpus's own
    # tokens, and evaluation can give only the gold-token score).
    report.spacing = "known" if any(s.text is not None or (s.spaces is not None and not all(s.spaces))
                                    for s in sentences) else "unknown"
    # Sentences are joined by a space, unless most of the file's texts have none (Chinese, Japanese).
    texts = [s.text for s in sentences if s.text]
    between_sentences = not texts or 2 * sum(" " in text for text in texts) >= len(texts)
    docs = []
    for group in group_documents(sentences, n_sents):
        words: List[str] = []
        spaces: List[bool] = []
        starts: List[bool] = []
        ents = []
        lines: List[int] = []
        for sent in group:
            offset = len(words)
            tokens, sent_spaces, index = surface_tokens(sent, sent.spaces or [True] * len(sent.words))
            report.multiword_tokens += len(sent.merges)
            if sent.text is not None:  # the raw text decides the spacing where it spells out the tokens
                from_text = text_spaces(tokens, sent.text)
                if from_text is None:
                    report.problem(
                        sent.text_line, "text does not match the tokens",
                        "`# text` differs from the tokens; "
                        + ("SpaceAfter decides the spacing" if sent.spaces is not None else
                           "a space follows each token of this sentence"),
                    )
                else:
                    sent_spaces = from_text
                    sent_spaces[-1] = between_sentences
            words.extend(tokens)
            spaces.extend(sent_spaces)
            starts.append(True)
            starts.extend([False] * (len(tokens) - 1))
            spans, repaired = decode(sent.tags, scheme)
            for start in repaired:
                label = parse_tag(sent.tags[start])[1]
                report.repaired[label] += 1
                report.problem(
                    sent.lines[start], "repaired span",
                    f"{sent.tags[start]} continues no span of its label; it starts a new one",
                )
            mapped = []
            for start, end, label in spans:
                new = report.map_label(label, label_map)
                if new is not None:
                    mapped.append((start, end, new))
            for start, end, label in merge_spans(sent, mapped, index, report):
                report.entities[label] += 1
                ents.append((offset + start, offset + end, label))
            lines.extend(sent.lines[index.index(i)] for i in range(len(tokens)))
        doc = Doc(vocab, words=words, spaces=spaces if report.spacing == "known" else None, sent_starts=starts)
        doc.ents = [Span(doc, start, end, label=label) for start, end, label in ents]
        if tokenizer is not None and report.spacing == "known":
            count_misaligned(doc, tokenizer(doc.text), report, lambda ent: lines[ent.start])
        docs.append(doc)
        report.sentences += len(group)
        report.tokens += len(words)
    report.documents = len(docs)
    return docs
