"""Overlap resolution: each policy, the shared tie rule, and saving with the pipeline."""
import numpy
import pytest
import spacy
from spacy.tokens import Doc, Span, SpanGroup

WORDS = "Anders Fogh Rasmussen besøgte Københavns Universitet i går".split()


def make_doc(nlp, ents=(), **groups):
    """A doc with `ents` and span groups given as (start, end, label[, score]) tuples."""
    doc = Doc(nlp.vocab, words=WORDS)
    doc.ents = [Span(doc, s, e, label) for s, e, label in ents]
    for key, spans in groups.items():
        scores = [sp[3] for sp in spans if len(sp) == 4]
        doc.spans[key] = SpanGroup(doc, name=key, spans=[Span(doc, *sp[:3]) for sp in spans],
                                   attrs={"scores": numpy.asarray(scores)} if scores else {})
    return doc


def resolver(policy="spacy_bert_ner.longest_span.v1", span_keys=("ruler",), **policy_args):
    nlp = spacy.blank("da")
    nlp.add_pipe("bert_ner_overlap", config={
        "span_keys": list(span_keys), "policy": {"@misc": policy, **policy_args}})
    return nlp


def ents(doc):
    return [(e.start, e.end, e.label_) for e in doc.ents]


def run(nlp, **kwargs):
    return ents(nlp.get_pipe("bert_ner_overlap")(make_doc(nlp, **kwargs)))


def test_longest_span_wins():
    nlp = resolver()
    assert run(nlp, ents=[(0, 1, "PER"), (4, 5, "LOC")],
               ruler=[(0, 3, "PER"), (4, 6, "ORG")]) == [(0, 3, "PER"), (4, 6, "ORG")]


def test_longest_span_tie_goes_to_earlier_start():
    nlp = resolver()
    assert run(nlp, ruler=[(1, 3, "ORG"), (0, 2, "PER")]) == [(0, 2, "PER")]


def test_first_span_wins_and_same_start_goes_to_longer():
    nlp = resolver("spacy_bert_ner.first_span.v1")
    assert run(nlp, ruler=[(1, 5, "ORG"), (0, 2, "PER")]) == [(0, 2, "PER")]
    assert run(nlp, ruler=[(0, 1, "PER"), (0, 3, "PER")]) == [(0, 3, "PER")]


def test_label_priority_beats_length_and_unlisted_labels_rank_last():
    nlp = resolver("spacy_bert_ner.label_priority.v1", labels=["ORG", "PER"])
    assert run(nlp, ents=[(3, 6, "MISC")], ruler=[(4, 5, "PER")]) == [(4, 5, "PER")]
    assert run(nlp, ents=[(0, 3, "PER")], ruler=[(2, 3, "ORG")]) == [(2, 3, "ORG")]


def test_label_priority_tie_uses_tie_rule():
    nlp = resolver("spacy_bert_ner.label_priority.v1", labels=["ORG"])
    assert run(nlp, ruler=[(2, 5, "ORG"), (1, 3, "ORG")]) == [(1, 3, "ORG")]


def test_highest_score_and_unscored_rank_last():
    nlp = resolver("spacy_bert_ner.highest_score.v1", span_keys=["sc"])
    got = run(nlp, ents=[(0, 3, "PER")], sc=[(0, 1, "PER", 0.2), (1, 3, "ORG", 0.9)])
    assert got == [(0, 1, "PER"), (1, 3, "ORG")]


def test_highest_score_tie_goes_to_earlier_start():
    nlp = resolver("spacy_bert_ner.highest_score.v1", span_keys=["sc"])
    assert run(nlp, sc=[(4, 6, "ORG", 0.5), (3, 5, "LOC", 0.5)]) == [(3, 5, "LOC")]


def test_identical_extent_goes_to_earlier_source():
    """doc.ents first, then span_keys in config order."""
    nlp = resolver(span_keys=["b", "a"])
    assert run(nlp, ents=[(0, 3, "PER")], a=[(0, 3, "ORG")], b=[(0, 3, "LOC")]) == [(0, 3, "PER")]
    assert run(nlp, a=[(0, 3, "ORG")], b=[(0, 3, "LOC")]) == [(0, 3, "LOC")]


def test_all_candidates_kept_with_sources_and_scores():
    nlp = resolver("spacy_bert_ner.highest_score.v1", span_keys=["sc", "missing"])
    doc = nlp.get_pipe("bert_ner_overlap")(
        make_doc(nlp, ents=[(0, 3, "PER")], sc=[(0, 1, "PER", 0.25), (1, 3, "ORG", 0.5)]))
    group = doc.spans["ent_candidates"]
    assert [(s.start, s.end, s.label_) for s in group] == [(0, 3, "PER"), (0, 1, "PER"), (1, 3, "ORG")]
    assert group.attrs["sources"] == ["ents", "sc", "sc"]
    assert group.attrs["scores"] == [None, 0.25, 0.5]
    assert "missing" not in doc.spans


def test_output_key_among_span_keys_is_refused():
    nlp = spacy.blank("da")
    with pytest.raises(ValueError, match="output_key"):
        nlp.add_pipe("bert_ner_overlap", config={"span_keys": ["x"], "output_key": "x"})


def ruler_pipeline():
    """Entity ruler (doc.ents) and span ruler (doc.spans["ruler"]) disagreeing on one name."""
    nlp = spacy.blank("da")
    nlp.add_pipe("entity_ruler").add_patterns([{"label": "ORG", "pattern": "Københavns Universitet"}])
    nlp.add_pipe("span_ruler").add_patterns([{"label": "LOC", "pattern": "Københavns"},
                                             {"label": "PER", "pattern": "Anders Fogh"}])
    nlp.add_pipe("bert_ner_overlap", config={
        "policy": {"@misc": "spacy_bert_ner.label_priority.v1", "labels": ["LOC"]}})
    return nlp


def test_saved_pipeline_loads_with_policy(tmp_path):
    nlp = ruler_pipeline()
    text = "Anders Fogh besøgte Københavns Universitet"
    expected = [(e.text, e.label_) for e in nlp(text).ents]
    assert expected == [("Anders Fogh", "PER"), ("Københavns", "LOC")]
    nlp.to_disk(tmp_path / "model")
    loaded = spacy.load(tmp_path / "model")
    assert loaded.pipe_names == nlp.pipe_names
    assert [(e.text, e.label_) for e in loaded(text).ents] == expected
    assert loaded.config["components"]["bert_ner_overlap"]["policy"]["labels"] == ["LOC"]
    assert not (tmp_path / "model" / "bert_ner_overlap").exists()  # settings live in config.cfg only


def test_a_load_time_override_changes_what_the_saved_pipeline_does(tmp_path):
    """spacy.load(..., config=...) must win over what was saved: settings belong to the config."""
    text = "Anders Fogh besøgte Københavns Universitet"
    ruler_pipeline().to_disk(tmp_path / "model")
    default = spacy.load(tmp_path / "model")
    assert [(e.text, e.label_) for e in default(text).ents] == [("Anders Fogh", "PER"), ("Københavns", "LOC")]
    loaded = spacy.load(tmp_path / "model", config={"components": {"bert_ner_overlap": {"span_keys": []}}})
    assert loaded.config["components"]["bert_ner_overlap"]["span_keys"] == []
    assert [(e.text, e.label_) for e in loaded(text).ents] == [("Københavns Universitet", "ORG")]
