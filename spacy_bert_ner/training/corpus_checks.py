"""What the training loop will see of the corpora, counted before training starts.

spaCy's training reads `[corpora.train]`, lets its augmenter cut or copy the examples and hands
them to `[training.batcher]`. Three places can drop training data without a word:
- the reader's `max_length`: longer documents are split into sentences and longer sentences
  are skipped;
- a batcher's `discard_oversize`: spaCy's `batch_by_padded.v1` discards every batch whose
  padded size reaches its `size`, including batches of several examples that hit it exactly;
- the alignment of gold entities to the pipeline's tokens: an entity whose edges fall inside a
  token of `nlp.make_doc(text)` is trained as missing (and can never be predicted).

`check_corpora` runs the config's own reader, augmenter and batcher over one epoch in file
order, counts each of these, and stops with the setting to change when anything would be lost.
"""
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

from spacy.language import Language
from spacy.training import Corpus, Example
from spacy.util import registry, resolve_dot_names
from wasabi import msg

from ..errors import UserError
from ..readers.docbin import read_docbin

MAX_EXAMPLES = 5  # misaligned entities shown per file; all are counted


@dataclass
class FileCheck:
    """One .spacy file of a corpus: its size and its gold entities the tokenizer cannot reproduce."""

    path: str
    documents: int = 0
    tokens: int = 0
    entities: int = 0
    misaligned: int = 0
    examples: List[str] = field(default_factory=list)

    def to_dict(self) -> Dict[str, Any]:
        return {"path": self.path, "documents": self.documents, "tokens": self.tokens, "entities": self.entities,
                "misaligned_entities": self.misaligned, "misaligned_examples": self.examples}


@dataclass
class CorpusCheck:
    """The counts of one epoch of a training corpus, from its files to the batches."""

    files: List[FileCheck] = field(default_factory=list)
    read_tokens: int = 0  # tokens of the examples the reader makes (after max_length)
    documents_cut: int = 0
    documents_whole: int = 0
    pieces: int = 0
    piece_tokens: int = 0
    longest_piece: int = 0  # in pipeline tokens, as the batcher measures
    over_batch: int = 0  # pieces at least as long as the batch size
    over_batch_tokens: int = 0
    batches: int = 0
    batched_tokens: int = 0

    @property
    def tokens(self) -> int:
        return sum(f.tokens for f in self.files)

    @property
    def entities(self) -> int:
        return sum(f.entities for f in self.files)

    @property
    def misaligned(self) -> int:
        return sum(f.misaligned for f in self.files)

    def to_dict(self) -> Dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "files"}
        return {"files": [f.to_dict() for f in self.files], "tokens": self.tokens, "entities": self.entities,
                "misaligned_entities": self.misaligned, **out}


def misaligned_entities(example: Example, check: FileCheck) -> None:
    """Count the gold entities whose characters are not whole tokens of the predicted doc."""
    predicted = example.predicted
    for ent in example.reference.ents:
        check.entities += 1
        if predicted.char_span(ent.start_char, ent.end_char) is None:
            check.misaligned += 1
            if len(check.examples) < MAX_EXAMPLES:
                tokens = predicted.char_span(ent.start_char, ent.end_char, alignment_mode="expand")
                inside = f" in the token(s) {tokens.text!r}" if tokens is not None else ""
                check.examples.append(f"{ent.text!r} {ent.label_}{inside}")


def file_examples(nlp: Language, corpus: Corpus, path: Path, check: FileCheck, limit: List[int]) -> Iterator[Example]:
    """The examples spaCy's Corpus makes of one file (before augmentation), counting as it goes."""
    docs = []
    for doc in read_docbin(path, nlp.vocab):
        if not len(doc):
            continue
        if corpus.limit >= 1 and limit[0] >= corpus.limit:
            break
        limit[0] += 1
        docs.append(doc)
        check.documents += 1
        check.tokens += len(doc)
    make = corpus.make_examples_gold_preproc if corpus.gold_preproc else corpus.make_examples
    for example in make(nlp, docs):
        misaligned_entities(example, check)
        yield example


def pieces(nlp: Language, corpus: Any, check: CorpusCheck) -> Iterator[Example]:
    """Every example the training loop gets in one epoch, counting what the reader and augmenter did."""
    if not isinstance(corpus, Corpus):  # another reader: only its output can be counted
        for example in corpus(nlp):
            check.read_tokens += len(example.reference)
            yield example
        return
    from spacy.training.corpus import walk_corpus

    limit = [0]
    for path in walk_corpus(corpus.path, ".spacy"):
        file_check = FileCheck(str(path))
        check.files.append(file_check)
        for example in file_examples(nlp, corpus, path, file_check, limit):
            check.read_tokens += len(example.reference)
            out = list(corpus.augmenter(nlp, example))
            if len(out) > 1:
                check.documents_cut += 1
            else:
                check.documents_whole += 1
            yield from out


def batch_size(batcher_cfg: Dict[str, Any]) -> Optional[int]:
    size = batcher_cfg.get("size")
    return size if isinstance(size, int) else None


def check_train_corpus(nlp: Language, config: Dict[str, Any]) -> CorpusCheck:
    """Run `[corpora.train]` and `[training.batcher]` over one epoch and count every stage."""
    train_key = config["training"].get("train_corpus", "corpora.train")
    corpus = resolve_dot_names(config, [train_key])[0]
    batcher_cfg = config["training"]["batcher"]
    batcher = registry.resolve({"batcher": batcher_cfg})["batcher"]
    size = batch_size(batcher_cfg)
    check = CorpusCheck()

    def counted() -> Iterator[Example]:
        for example in pieces(nlp, corpus, check):
            length = len(example)  # what the batchers measure: the predicted tokens
            check.pieces += 1
            check.piece_tokens += len(example.reference)
            check.longest_piece = max(check.longest_piece, length)
            if size is not None and length >= size:
                check.over_batch += 1
                check.over_batch_tokens += len(example.reference)
            yield example

    for batch in batcher(counted()):
        check.batches += 1
        check.batched_tokens += sum(len(eg.reference) for eg in batch)
    return check


def check_dev_corpus(nlp: Language, config: Dict[str, Any]) -> List[FileCheck]:
    """The dev files' misaligned entities (dev scores count them as missed)."""
    dev_key = config["training"].get("dev_corpus", "corpora.dev")
    corpus = resolve_dot_names(config, [dev_key])[0]
    if not isinstance(corpus, Corpus):
        return []
    from spacy.training.corpus import walk_corpus

    files = []
    for path in walk_corpus(corpus.path, ".spacy"):
        check = FileCheck(str(path))
        files.append(check)
        for _ in file_examples(nlp, corpus, path, check, [0]):
            pass
    return files


def print_check(check: CorpusCheck, dev: List[FileCheck], config: Dict[str, Any]) -> None:
    batcher_cfg = config["training"]["batcher"]
    size = batch_size(batcher_cfg)
    msg.divider("Training data")
    rows = [[Path(f.path).name, split, f.documents, f.tokens, f.entities, f.misaligned]
            for split, files in (("train", check.files), ("dev", dev)) for f in files]
    if rows:
        msg.table(rows, header=["file", "split", "docs", "tokens", "entities", "misaligned"],
                  aligns=["l", "l", "r", "r", "r", "r"])
    msg.text(f"Train: {check.documents_cut} documents cut into pieces, {check.documents_whole} kept whole; "
             f"{check.pieces} pieces, the longest {check.longest_piece} tokens.")
    if size is not None:
        fate = ("discarded" if batcher_cfg.get("discard_oversize") else "trained in batches of their own")
        msg.text(f"{check.over_batch} pieces ({check.over_batch_tokens} tokens) reach the batch size of {size}: {fate}.")
    lost = check.piece_tokens - check.batched_tokens
    msg.text(f"One epoch in file order: {check.batched_tokens} of {check.piece_tokens} tokens in {check.batches} "
             f"batches" + (f"; {lost} tokens discarded by the batcher." if lost else ", none discarded."))


def check_corpora(nlp: Language, config: Dict[str, Any], max_misaligned: float = 0.0) -> CorpusCheck:
    """Count what training will see; stop with the setting to change if any token would be lost,
    or if more than `max_misaligned` (a share) of the gold entities cannot align to the tokenizer."""
    check = check_train_corpus(nlp, config)
    dev = check_dev_corpus(nlp, config)
    print_check(check, dev, config)
    train_key = config["training"].get("train_corpus", "corpora.train")
    if check.files and check.read_tokens < check.tokens:
        lost = check.tokens - check.read_tokens
        raise UserError(
            f"{lost} of {check.tokens} training tokens would never be trained on: {train_key}.max_length = "
            f"{config['corpora']['train'].get('max_length')} skips longer sentences. Set {train_key}.max_length = 0 "
            "(the augmenter cuts long documents into pieces that fit)."
        )
    if check.batched_tokens < check.piece_tokens:
        lost = check.piece_tokens - check.batched_tokens
        raise UserError(
            f"{lost} of {check.piece_tokens} training tokens would be discarded by [training.batcher] "
            f"(discard_oversize = true, size = {config['training']['batcher'].get('size')}). Set "
            "training.batcher.discard_oversize = false, or raise training.batcher.size, or cut smaller "
            f"pieces with {train_key}.augmenter.max_tokens."
        )
    for split, files in (("training", check.files), ("dev", dev)):
        entities = sum(f.entities for f in files)
        misaligned = sum(f.misaligned for f in files)
        if misaligned and misaligned > max_misaligned * entities:
            first = next(f for f in files if f.examples)
            tokenizer = nlp.config["nlp"]["tokenizer"].get("@tokenizers")
            raise UserError(
                f"{misaligned} of {entities} {split} entities ({100 * misaligned / entities:.1f}%) do not fall on "
                f"the pipeline's token boundaries, so spaCy would train them as missing and no model could "
                f"predict them; first in {first.path}: {'; '.join(first.examples[:3])}. Likely cause: the "
                f"tokenizer ({tokenizer}, nlp.lang = {config['nlp']['lang']!r}) is not the language's, or the "
                "corpus's tokens are glued to punctuation. Fix the tokenizer, or accept them with "
                f"--checks.max_misaligned {math.ceil(1000 * misaligned / entities) / 1000:g} (a share of the entities)."
            )
    return check
