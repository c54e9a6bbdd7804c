"""Long texts as overlapping pieces: the cuts, the merge, and entities equal to a whole-text run."""
import random

import pytest
import spacy
from hypothesis import given, settings, strategies as st
from spacy.tokens import Doc

from spacy_bert_ner.inference.long_texts import OVERLAP, entity_spans, merge_entities, pipe_entities, split_ranges

PATTERNS = [
    {"label": "PER", "pattern": "Søren Kierkegaard"},
    {"label": "LOC", "pattern": "Aarhus"},
    {"label": "ORG", "pattern": [{"LOWER": "danske"}, {"LOWER": "bank"}]},
]
WORDS = ["Søren Kierkegaard", "Aarhus", "Danske Bank", "boede", "i", "og", "købte", "x" * 40,
         ".", "!", "?", "\n", "\n\n", "。", "Dr.", "e\u0301"]


@pytest.fixture(scope="module")
def nlp():
    """Rules see no context: run whole or in pieces, they must find the same entities."""
    nlp = spacy.blank("xx")
    nlp.add_pipe("entity_ruler").add_patterns(PATTERNS)
    nlp.max_length = 10 ** 7
    return nlp


def random_text(rng: random.Random, n_words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n_words))


def whole(nlp, text):
    return [(e.start_char, e.end_char, e.label_) for e in nlp(text).ents]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab .!?\n。", max_size=400), st.integers(1, 120))
def test_pieces_cover_the_text_within_the_limit_and_overlap(text, limit):
    ranges = split_ranges(text, limit)
    assert ranges[0][0] == 0 and ranges[-1][1] == len(text)
    assert all(0 < end - start <= limit for start, end in ranges) or text == ""
    overlap = min(OVERLAP, limit // 4)
    for (start, end), (next_start, next_end) in zip(ranges, ranges[1:]):
        assert start < next_start and end < next_end
        assert overlap <= end - next_start < max(2 * overlap, 1)  # never a gap between pieces


def test_cuts_after_sentence_ends_then_whitespace_then_anywhere():
    sentences = "Første sætning her. Anden sætning er længere end den! Tredje?\nFjerde linje."
    text = sentences * 3
    ranges = split_ranges(text, 60, overlap=12)
    assert [text[end - 2:end] for _, end in ranges[:-1]] == ["! ", ". ", "?\n", ". ", "?\n"]
    assert all(text[start - 1].isspace() for start, _ in ranges[1:])  # no boundary 12-24 back: a space
    words = "ord " * 40
    assert all(words[end - 1] == " " for _, end in split_ranges(words, 50)[:-1])
    assert split_ranges("x" * 25, 10, overlap=0) == [(0, 10), (10, 20), (20, 25)]


def test_merge_keeps_the_entity_further_from_a_piece_edge():
    # Piece A ends at 100, piece B starts at 60. A saw a cut-short "Søren" at its edge and
    # "Aarhus" 5 characters from its end; B saw the whole name and "Aarhus" 30 characters in.
    found = [((0, 100), [(10, 16, "LOC"), (89, 95, "LOC"), (96, 100, "PER")]),
             ((60, 200), [(89, 95, "LOC"), (96, 113, "PER"), (150, 156, "ORG")])]
    assert merge_entities(found, 200) == [(10, 16, "LOC"), (89, 95, "LOC"), (96, 113, "PER"), (150, 156, "ORG")]
    # Disagreeing labels or bounds in the overlap: one of them, the one from further inside.
    found = [((0, 100), [(80, 95, "ORG")]), ((60, 200), [(82, 95, "LOC")])]
    assert merge_entities(found, 200) == [(82, 95, "LOC")]


@pytest.mark.parametrize("limit", [80, 150, 400, 2000])
def test_entities_of_pieces_equal_those_of_the_whole_text(nlp, limit):
    rng = random.Random(limit)
    for _ in range(30):
        text = random_text(rng, rng.randint(0, 300))
        spans = entity_spans(nlp, text, limit)
        assert spans == whole(nlp, text)
        assert all(text[s:e] in ("Søren Kierkegaard", "Aarhus", "Danske Bank") for s, e, _ in spans)


def test_a_doc_is_cut_at_its_own_tokens(nlp):
    """Evaluation runs the pipeline on gold tokens: the pieces keep them, offsets fall on them."""
    rng = random.Random(1)
    text = random_text(rng, 400)
    doc = nlp.make_doc(text)
    spans = entity_spans(nlp, doc, 150)
    assert spans == whole(nlp, text)
    assert all(doc.char_span(s, e, label) is not None for s, e, label in spans)
    one_token = Doc(nlp.vocab, words=["y" * 500, "Aarhus"], spaces=[True, False])
    assert entity_spans(nlp, one_token, 100) == [(501, 507, "LOC")]  # a token longer than a piece


def test_pipe_keeps_order_and_contexts_with_several_processes(nlp):
    rng = random.Random(2)
    texts = [random_text(rng, rng.randint(0, 120)) for _ in range(40)]
    results = list(pipe_entities(nlp, ((t, i) for i, t in enumerate(texts)), 200, batch_size=3, n_process=2))
    assert [i for _, i in results] == list(range(40))
    assert [spans for spans, _ in results] == [whole(nlp, t) for t in texts]


def test_a_limit_above_max_length_is_refused(nlp):
    with pytest.raises(ValueError, match="nlp.max_length"):
        pipe_entities(nlp, [("Aarhus", None)], nlp.max_length + 1)


def test_text_over_max_length_gets_its_entities(nlp):
    """The E088 case: spaCy refuses the whole text; by default pieces are nlp.max_length long."""
    short = spacy.blank("xx")
    short.add_pipe("entity_ruler").add_patterns(PATTERNS)
    short.max_length = 5000
    text = "Jeg bor i Aarhus. " * 600  # 10,800 characters
    with pytest.raises(ValueError, match="E088"):
        short(text)
    assert entity_spans(short, text) == whole(nlp, text)
