"""Span clean-up rules: each off by default, each counted when it changes something."""
import spacy
from spacy.tokens import Doc, Span


def cleaner(**config):
    nlp = spacy.blank("da")
    nlp.add_pipe("bert_ner_cleanup", config=config)
    return nlp


def run(nlp, words, spaces, spans):
    doc = Doc(nlp.vocab, words=words, spaces=spaces)
    doc.ents = [Span(doc, s, e, label) for s, e, label in spans]
    doc = nlp.get_pipe("bert_ner_cleanup")(doc)
    return [(e.text, e.label_) for e in doc.ents], doc.user_data["bert_ner_cleanup"]


QUOTED = (["»", "Politiken", "«", ",", "(", "FN", ")", "og", "Hvidovre", "(", "Kommune", ")"],
          [False, False, False, True, False, False, True, True, True, False, False, False])


def test_everything_off_by_default():
    nlp = cleaner()
    got, stats = run(nlp, *QUOTED, [(0, 4, "ORG"), (4, 7, "ORG"), (8, 12, "LOC")])
    assert got == [("»Politiken«,", "ORG"), ("(FN)", "ORG"), ("Hvidovre (Kommune)", "LOC")]
    assert stats == {"trimmed": 0, "merged": 0, "dropped": 0}


def test_trim_edges_but_keep_brackets_whose_partner_is_inside():
    nlp = cleaner(trim=True)
    got, stats = run(nlp, *QUOTED, [(0, 4, "ORG"), (4, 7, "ORG"), (8, 12, "LOC")])
    assert got == [("Politiken", "ORG"), ("FN", "ORG"), ("Hvidovre (Kommune)", "LOC")]
    assert stats == {"trimmed": 2, "merged": 0, "dropped": 0}


def test_trim_removes_an_outer_pair_only_when_it_encloses_the_whole_span():
    """(FN) og (EU) keeps both pairs; nested and doubled pairs go from the outside in; an edge
    bracket or quote without its partner goes; quotes pair with the nearest quote."""
    nlp = cleaner(trim=True)
    cases = [
        ("( FN ) og ( EU )", "( FN ) og ( EU )"),
        ("( ( EU ) )", "EU"),
        ("( EU ) )", "EU"),
        ("( EU ( FN )", "EU ( FN )"),
        ('" Nordisk " A/S "', '" Nordisk " A/S'),
        ('" Politiken "', "Politiken"),
        ("« Politiken »", "Politiken"),
        ("» Politiken «", "Politiken"),
        ("[ Danske ] Bank", "[ Danske ] Bank"),
    ]
    for text, expected in cases:
        words = text.split()
        got, _ = run(nlp, words, [True] * len(words), [(0, len(words), "ORG")])
        assert got == [(expected, "ORG")], text


def test_trim_removes_spans_of_only_punctuation_and_counts_them_dropped():
    nlp = cleaner(trim=True)
    got, stats = run(nlp, *QUOTED, [(2, 4, "MISC"), (5, 6, "ORG")])
    assert got == [("FN", "ORG")]
    assert stats == {"trimmed": 0, "merged": 0, "dropped": 1}


def test_merge_same_label_neighbours_separated_by_nothing_or_whitespace():
    words = ["Anders", "Fogh", "Rasmussen", "\n", "Jensen", "og", "Novo", "Nordisk"]
    spaces = [True, True, False, False, True, True, True, False]
    nlp = cleaner(merge_adjacent=True)
    got, stats = run(nlp, words, spaces,
                     [(0, 1, "PER"), (1, 3, "PER"), (4, 5, "PER"), (6, 7, "ORG"), (7, 8, "LOC")])
    assert got == [("Anders Fogh Rasmussen\nJensen", "PER"), ("Novo", "ORG"), ("Nordisk", "LOC")]
    assert stats == {"trimmed": 0, "merged": 2, "dropped": 0}


def test_merge_does_not_cross_words_or_punctuation():
    words, spaces = ["Anna", ",", "Bo", "og", "Carl"], [False, True, True, True, False]
    nlp = cleaner(merge_adjacent=True)
    got, stats = run(nlp, words, spaces, [(0, 1, "PER"), (2, 3, "PER"), (4, 5, "PER")])
    assert got == [("Anna", "PER"), ("Bo", "PER"), ("Carl", "PER")]
    assert stats["merged"] == 0


def test_drop_short_spans_of_configured_labels_only():
    words, spaces = ["A", "mødte", "Bo", "i", "EU", "og", "K"], [True] * 6 + [False]
    nlp = cleaner(min_chars={"PER": 3, "ORG": 2})
    got, stats = run(nlp, words, spaces,
                     [(0, 1, "PER"), (2, 3, "PER"), (4, 5, "ORG"), (6, 7, "LOC")])
    assert got == [("EU", "ORG"), ("K", "LOC")]
    assert stats == {"trimmed": 0, "merged": 0, "dropped": 2}


def test_rules_run_in_order_trim_merge_drop():
    """Trimming lets "Picard ," merge with "Luc"; merging before the length check saves "Luc"."""
    words = ["Jean", "-", "Luc", "Picard", ","]
    spaces = [False, False, True, False, False]
    nlp = cleaner(trim=True, merge_adjacent=True, min_chars={"PER": 5})
    got, stats = run(nlp, words, spaces, [(0, 2, "PER"), (2, 3, "PER"), (3, 5, "PER")])
    assert got == [("Luc Picard", "PER")]
    assert stats == {"trimmed": 2, "merged": 1, "dropped": 1}


def test_saved_with_pipeline_and_overridden_at_load_time(tmp_path):
    nlp = cleaner(trim=True, min_chars={"PER": 2})
    nlp.to_disk(tmp_path / "model")
    loaded = spacy.load(tmp_path / "model").get_pipe("bert_ner_cleanup")
    assert loaded.cfg == {"trim": True, "merge_adjacent": False, "min_chars": {"PER": 2}}
    overridden = spacy.load(tmp_path / "model", config={"components": {"bert_ner_cleanup": {"trim": False}}})
    got, stats = run(overridden, *QUOTED, [(0, 4, "ORG")])
    assert got == [("»Politiken«,", "ORG")] and stats["trimmed"] == 0
