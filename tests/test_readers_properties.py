"""Property tests: nothing is changed on valid input, nothing is lost on any input."""
import json
import tempfile
from pathlib import Path

import spacy
from hypothesis import given, settings
from hypothesis import strategies as st

from spacy_bert_ner.readers import read_corpus
from spacy_bert_ner.readers.export import docs_to_text

NLP = spacy.blank("xx")
LABELS = ["PER", "LOC", "ORG", "GPE_LOC"]
WORD = st.text(alphabet="abcXYZ019#-.,«»æøéß", min_size=1, max_size=5)
SETTINGS = settings(max_examples=60, deadline=None)


@st.composite
def valid_sentence(draw):
    """Words, valid IOB2 tags and, per word, whether a space follows it in the raw text."""
    words, tags = [], []
    for _ in range(draw(st.integers(1, 6))):
        label = draw(st.sampled_from([None, *LABELS]))
        length = 1 if label is None else draw(st.integers(1, 3))
        for i in range(length):
            words.append(draw(WORD))
            tags.append("O" if label is None else ("B-" if i == 0 else "I-") + label)
    spaces = draw(st.lists(st.booleans(), min_size=len(words), max_size=len(words)))
    return words, tags, spaces


def read_text(content: str, name: str, **options):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_text(content, encoding="utf8")
        return read_corpus(path, NLP, **options)


def exported_sentences(docs):
    """(words, tags) per sentence of the plain IOB2 export."""
    text, skipped = docs_to_text(docs, plain=True)
    assert skipped == 0
    sentences = []
    for block in text.split("\n\n"):
        rows = [line.split("\t") for line in block.split("\n") if line and not line.startswith("-DOCSTART-")]
        if rows:
            sentences.append(([w for w, _ in rows], [t for _, t in rows]))
    return sentences


@SETTINGS
@given(st.lists(valid_sentence(), min_size=1, max_size=8), st.booleans(), st.integers(1, 4))
def test_valid_iob2_round_trips_unchanged(sentences, uner, n_sents):
    blocks = []
    for words, tags, spaces in sentences:
        if uner:  # ID FORM TAG with the raw text in a comment
            text = "".join(w + (" " if s else "") for w, s in zip(words, spaces)).strip()
            lines = [f"# text = {text}"] + [f"{i}\t{w}\t{t}\t_" for i, (w, t) in enumerate(zip(words, tags), 1)]
        else:
            lines = [f"{w} {t}" for w, t in zip(words, tags)]
        blocks.append("\n".join(lines))
    docs, report = read_text("\n\n".join(blocks) + "\n", "in.iob2", n_sents=n_sents)
    assert exported_sentences(docs) == [(words, tags) for words, tags, _ in sentences]
    # Random words glued without spaces may make one token of the tokenizer ("0" "0" -> "00"):
    # counted, and no other problem.
    assert not report.repaired
    assert set(report.problem_counts) <= {"entity inside a token of the tokenizer"}
    if uner:  # each sentence's text is exactly the raw text of its comment
        doc_sents = [s for doc in docs for s in doc.sents]
        for sent, (words, _, spaces) in zip(doc_sents, sentences):
            assert sent.text == "".join(w + (" " if s else "") for w, s in zip(words, spaces)).strip()


TAG = st.sampled_from(["O", "O", *(p + label for p in ("B-", "I-") for label in LABELS)])


def count_entities_in(sentences):
    """ATTRIBUTION.md's rule: a span starts at each B-, and at each I- that continues no span of its label."""
    total = orphans = 0
    for tags in sentences:
        previous = None
        for tag in tags:
            label = tag[2:] if tag != "O" else None
            if tag.startswith("B-") or (tag.startswith("I-") and previous != label):
                total += 1
                orphans += tag.startswith("I-")
            previous = label
    return total, orphans


@SETTINGS
@given(st.lists(st.lists(TAG, min_size=1, max_size=8), min_size=1, max_size=8), st.sampled_from([None, *LABELS]))
def test_any_tags_entities_in_equal_out_plus_drops(sentences, dropped_label):
    content = "\n\n".join("\n".join(f"w{i} {t}" for i, t in enumerate(tags)) for tags in sentences) + "\n"
    label_map = {dropped_label: "O"} if dropped_label else None
    docs, report = read_text(content, "in.txt", scheme="iob2", label_map=label_map)
    entities_in, orphans = count_entities_in(sentences)
    entities_out = sum(len(doc.ents) for doc in docs)
    assert entities_in == entities_out + sum(report.dropped.values())
    assert sum(report.entities.values()) == entities_out
    assert sum(report.repaired.values()) == orphans
    assert all(label != dropped_label for doc in docs for label in (e.label_ for e in doc.ents))


@SETTINGS
@given(st.data())
def test_any_jsonl_spans_are_kept_set_aside_or_counted(data):
    text = " ".join(data.draw(st.lists(WORD, min_size=1, max_size=8)))
    n = len(text)
    spans = data.draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(1, n), st.sampled_from(LABELS)), max_size=6))
    spans = [[s, e, label] for s, e, label in spans if s < e]
    alignment = data.draw(st.sampled_from(["contract", "expand"]))
    content = json.dumps({"text": text, "spans": spans}) + "\n"
    docs, report = read_text(content, "in.jsonl", alignment=alignment)
    (doc,) = docs
    assert len(spans) == len(doc.ents) + sum(report.set_aside.values()) + sum(report.dropped.values())
    assert len(doc.spans["sc"]) == len(doc.ents) + sum(report.set_aside.values())
    assert sum(report.entities.values()) == len(doc.ents)
