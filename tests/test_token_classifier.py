"""The token-classification NER head: valid decoding, masked loss, training, serialization."""
import itertools
import subprocess
import sys
from pathlib import Path

import numpy
import pytest
import spacy
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from spacy.tokens import Doc, Span
from spacy.training import Example
from thinc.api import Adam, Config, fix_random_seed

from spacy_bert_ner.components.token_classifier import bio_constraints, bio_tags, viterbi_decode

ROOT = Path(__file__).resolve().parent.parent
TAGS = bio_tags(["LOC", "PER"])  # O B-LOC I-LOC B-PER I-PER
ALLOWED, ALLOWED_FIRST = bio_constraints(TAGS)

SENTENCES = [
    ("Anna bor i Berlin .", [(0, 1, "PER"), (3, 4, "LOC")]),
    ("Peter arbejder hos Novo Nordisk .", [(0, 1, "PER"), (3, 5, "ORG")]),
    ("Vi rejser til Paris i morgen .", [(3, 4, "LOC")]),
    ("Maria Hansen mødte Lars i Aarhus .", [(0, 2, "PER"), (3, 4, "PER"), (5, 6, "LOC")]),
    ("Danske Bank har kontor i Odense .", [(0, 2, "ORG"), (5, 6, "LOC")]),
    ("Det regner meget i dag .", []),
]


def make_examples(vocab):
    examples = []
    for text, ents in SENTENCES:
        words = text.split()
        reference = Doc(vocab, words=words)
        reference.set_ents([Span(reference, s, e, label=label) for s, e, label in ents], default="outside")
        examples.append(Example(Doc(vocab, words=words), reference))
    return examples


def is_valid(tag_ids) -> bool:
    tags = ["O"] + [TAGS[i] for i in tag_ids]
    return all(not cur.startswith("I-") or prev[2:] == cur[2:] for prev, cur in zip(tags, tags[1:]))


def test_bio_constraints_forbid_only_broken_continuations():
    index = {tag: i for i, tag in enumerate(TAGS)}
    assert not ALLOWED_FIRST[index["I-PER"]] and ALLOWED_FIRST[index["B-PER"]]
    assert not ALLOWED[index["O"], index["I-PER"]]
    assert not ALLOWED[index["B-LOC"], index["I-PER"]]
    assert not ALLOWED[index["I-LOC"], index["I-PER"]]
    assert ALLOWED[index["B-PER"], index["I-PER"]] and ALLOWED[index["I-PER"], index["I-PER"]]
    assert ALLOWED[index["I-PER"], index["B-LOC"]] and ALLOWED[index["B-PER"], index["O"]]


def decode_one(log_probs):
    return viterbi_decode([log_probs], ALLOWED, ALLOWED_FIRST)[0]


def test_viterbi_repairs_an_invalid_argmax():
    # Per-token argmax is O, I-PER: invalid. The best valid sequence under these scores is B-PER I-PER.
    probs = numpy.array([[0.5, 0.0, 0.0, 0.45, 0.05], [0.05, 0.0, 0.0, 0.05, 0.9]]) + 1e-6
    assert [TAGS[i] for i in decode_one(numpy.log(probs))] == ["B-PER", "I-PER"]


def best_valid_score(log_probs):
    n = log_probs.shape[0]
    return max(
        sum(log_probs[t, seq[t]] for t in range(n))
        for seq in itertools.product(range(len(TAGS)), repeat=n)
        if is_valid(seq)
    )


@settings(max_examples=150, deadline=None)
@given(st.lists(
    arrays(numpy.float64, st.tuples(st.integers(0, 4), st.just(len(TAGS))), elements=st.floats(-20, 0)),
    min_size=1, max_size=4,
))
def test_viterbi_returns_the_best_valid_sequence_of_each_doc(batch):
    """Decoded together, docs of different lengths each get their own best valid sequence."""
    paths = viterbi_decode(batch, ALLOWED, ALLOWED_FIRST)
    for log_probs, path in zip(batch, paths):
        assert len(path) == len(log_probs)
        assert is_valid(path)
        if len(path):
            score = sum(log_probs[t, path[t]] for t in range(len(path)))
            assert score == pytest.approx(best_valid_score(log_probs))


def test_viterbi_on_empty_docs():
    assert [p.shape for p in viterbi_decode([numpy.zeros((0, len(TAGS)))] * 2, ALLOWED, ALLOWED_FIRST)] == [(0,), (0,)]


@pytest.fixture(scope="module")
def trained(tiny_transformer):
    """The tokcls_trf.cfg pipeline trained on six sentences until it fits them."""
    config = Config().from_disk(ROOT / "configs" / "tokcls_trf.cfg", overrides={
        "components.transformer.model.name": str(tiny_transformer),
        "initialize.after_init.encoder_lr_scale": 1.0,  # a random-init encoder
        "initialize.after_init.freeze_word_embeddings": False,
    })
    fix_random_seed(0)
    nlp = spacy.util.load_model_from_config(config, auto_fill=True, validate=True)
    examples = make_examples(nlp.vocab)
    nlp.initialize(lambda: examples)
    optimizer = Adam(0.004)
    for _ in range(60):
        nlp.update(examples, sgd=optimizer)
    return nlp


def test_learns_the_training_set(trained):
    ner = trained.get_pipe("ner")
    assert set(ner.labels) == {"LOC", "ORG", "PER"}
    gold = {(i, s, e, label) for i, (_, ents) in enumerate(SENTENCES) for s, e, label in ents}
    predicted = {
        (i, ent.start, ent.end, ent.label_)
        for i, doc in enumerate(trained.pipe(text for text, _ in SENTENCES))
        for ent in doc.ents
    }
    recall = len(gold & predicted) / len(gold)
    precision = len(gold & predicted) / max(len(predicted), 1)
    assert recall >= 0.8 and precision >= 0.8, (sorted(gold), sorted(predicted))
    assert {label for *_, label in predicted} == {"LOC", "ORG", "PER"}


def test_predictions_are_valid_bio_on_unseen_text(trained):
    doc = trained("Hansen Berlin Novo i Paris mødte Danske Lars Bank Odense Peter .")
    tags = [f"{t.ent_iob_}-{t.ent_type_}" if t.ent_type_ else "O" for t in doc]
    for prev, cur in zip(["O"] + tags, tags):
        assert not cur.startswith("I-") or prev[2:] == cur[2:]


def test_missing_annotation_is_masked(trained):
    ner = trained.get_pipe("ner")
    words = "Anna bor i Berlin .".split()
    reference = Doc(trained.vocab, words=words, ents=["B-PER", None, None, "B-LOC", "O"])
    example = Example(Doc(trained.vocab, words=words), reference)
    trained.get_pipe("transformer")(example.predicted)
    scores = ner.model.predict([example.predicted])
    _, d_scores = ner.get_loss([example], scores)
    grad = ner.model.ops.to_numpy(d_scores[0])
    assert not grad[1].any() and not grad[2].any()
    assert grad[0].any() and grad[3].any() and grad[4].any()


def test_serialization_round_trip_and_load_without_import(trained, tmp_path):
    texts = [text for text, _ in SENTENCES]
    expected = [[(e.start, e.end, e.label_) for e in doc.ents] for doc in trained.pipe(texts)]
    trained.to_disk(tmp_path / "model")
    loaded = spacy.load(tmp_path / "model")
    assert loaded.get_pipe("ner").labels == trained.get_pipe("ner").labels
    assert [[(e.start, e.end, e.label_) for e in doc.ents] for doc in loaded.pipe(texts)] == expected
    # A fresh interpreter finds the factory through the package's entry points, no import needed.
    code = (
        "import sys, spacy\n"
        f"nlp = spacy.load({str(tmp_path / 'model')!r})\n"
        "print([(e.start, e.end, e.label_) for e in nlp('Anna bor i Berlin .').ents])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(expected[0])


def test_every_entity_gets_its_exact_span_probability(trained):
    """doc.spans["ents"] holds doc.ents with scores in 0..1, each the softmax's probability of exactly
    that span, and a temperature set at load time rescales them without changing the entities."""
    from spacy_bert_ner.components.confidence import calibrated, entity_scores
    from spacy_bert_ner.components.token_classifier import span_probability

    ner = trained.get_pipe("ner")
    docs = list(trained.pipe(text for text, _ in SENTENCES))
    for doc in docs:
        scores = entity_scores(doc)
        assert len(scores) == len(doc.ents) and all(0.0 <= s <= 1.0 for s in scores)
        fresh = trained.get_pipe("transformer")(trained.make_doc(doc.text))
        probs = ner.model.ops.to_numpy(ner.model.predict([fresh])[0])
        for ent, score in zip(doc.ents, scores):
            assert score == pytest.approx(span_probability(probs, ner.tags, ent.start, ent.end, ent.label_), rel=1e-5)
    ner.temperature = 2.0
    warmer = list(trained.pipe(text for text, _ in SENTENCES))
    ner.temperature = 1.0
    assert [[(e.start, e.end, e.label_) for e in d.ents] for d in warmer] == [
        [(e.start, e.end, e.label_) for e in d.ents] for d in docs]
    assert [entity_scores(d) for d in warmer] == [[pytest.approx(calibrated(s, 2.0)) for s in entity_scores(d)]
                                                  for d in docs]


def test_bio_spans_reads_tags_as_spacys_conversion_does():
    """bio_spans replaces iob_to_biluo + biluo_tags_to_spans (quadratic in the length): the same
    entities for every sequence, the ill-formed ones included (an I- after O or after another label)."""
    import random

    from spacy.training import biluo_tags_to_spans, iob_to_biluo

    from spacy_bert_ner.components.token_classifier import bio_spans

    vocab, rng = spacy.blank("da").vocab, random.Random(0)
    for _ in range(500):
        tags = [rng.choice(["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]) for _ in range(rng.randint(0, 12))]
        doc = Doc(vocab, words=["w"] * len(tags))
        expected = [(s.start, s.end, s.label_) for s in biluo_tags_to_spans(doc, iob_to_biluo(list(tags)))]
        assert [(s.start, s.end, s.label_) for s in bio_spans(doc, tags)] == expected, tags
