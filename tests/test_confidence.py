"""Entity confidence: scores in 0..1 for both heads, calibration measured and fitted, filters that use them."""
import math
import random

import numpy
import pytest
import spacy
from spacy.tokens import Doc, Span, SpanGroup

from conftest import DEMO
from spacy_bert_ner.components.confidence import (calibrated, entity_scores, set_entity_scores, window_doc,
                                                windows)
from spacy_bert_ner.components.token_classifier import bio_tags, span_probability
from spacy_bert_ner.evaluation.calibration import (at_thresholds, expected_calibration_error, fit_temperature,
                                                   reliability)


def test_span_probability_is_the_chance_of_exactly_that_span():
    tags = bio_tags(["PER"])  # O, B-PER, I-PER
    probs = numpy.array([[0.1, 0.8, 0.1], [0.2, 0.1, 0.7], [0.6, 0.1, 0.3]])
    assert span_probability(probs, tags, 0, 2, "PER") == pytest.approx(0.8 * 0.7 * (1 - 0.3))
    assert span_probability(probs, tags, 0, 3, "PER") == pytest.approx(0.8 * 0.7 * 0.3)  # runs to the end
    # The exact-span probabilities of all spans starting at token 0 sum to at most P(B-PER at 0).
    assert sum(span_probability(probs, tags, 0, end, "PER") for end in (1, 2, 3)) == pytest.approx(0.8)


def test_temperature_scaling_keeps_order_and_the_midpoint():
    scores = [0.05, 0.3, 0.5, 0.8, 0.99]
    for t in (0.5, 2.0):
        out = [calibrated(s, t) for s in scores]
        assert out == sorted(out) and out[2] == pytest.approx(0.5) and all(0 < s < 1 for s in out)
    assert calibrated(0.8, 2.0) < 0.8 < calibrated(0.8, 0.5)
    assert calibrated(0.8, 1.0) == 0.8


def test_a_fitted_temperature_undoes_overconfidence():
    rng = random.Random(0)
    true = [rng.random() for _ in range(4000)]
    scored = [(calibrated(q, 1 / 3), rng.random() < q) for q in true]  # three times too sure
    t = fit_temperature(scored)
    assert 2.5 < t < 3.5
    after = [(calibrated(s, t), right) for s, right in scored]
    assert expected_calibration_error(after) < 0.03 < expected_calibration_error(scored)
    assert fit_temperature([(0.9, True), (0.7, True)]) == 1.0  # nothing wrong: no minimum, T stays 1


def test_reliability_and_thresholds_by_hand():
    scored = [(0.95, True), (0.92, False), (0.75, True), (0.55, True), (0.2, False)]
    bins = reliability(scored)
    assert [b["count"] for b in bins] == [0, 0, 1, 0, 0, 1, 0, 1, 0, 2]
    assert bins[9]["accuracy"] == 0.5 and bins[9]["mean_score"] == pytest.approx(0.935)
    ece = (2 * abs(0.5 - 0.935) + abs(1 - 0.75) + abs(1 - 0.55) + abs(0 - 0.2)) / 5
    assert expected_calibration_error(scored) == pytest.approx(ece)
    table = at_thresholds(scored, n_gold=4)
    assert table["0.5"] == pytest.approx({"kept": 4, "p": 0.75, "r": 0.75, "f": 0.75})
    assert table["0.9"]["kept"] == 2 and table["0.9"]["p"] == 0.5 and table["0.9"]["r"] == 0.25


def scored_doc(nlp, ents, scores):
    doc = Doc(nlp.vocab, words="Anders Fogh besøgte Københavns Universitet i går".split())
    doc.ents = [Span(doc, s, e, label) for s, e, label in ents]
    set_entity_scores(doc, scores, "ents", 1.0)
    return doc


def test_overlap_reads_entity_scores_and_a_min_score_filter_drops_low_ones():
    nlp = spacy.blank("da")
    nlp.add_pipe("bert_ner_overlap", config={
        "span_keys": ["ruler"], "policy": {"@misc": "spacy_bert_ner.highest_score.v1"},
        "filter": {"@misc": "spacy_bert_ner.min_score.v1", "threshold": 0.5}})
    doc = scored_doc(nlp, [(0, 2, "PER"), (3, 4, "LOC")], [0.9, 0.3])
    doc.spans["ruler"] = SpanGroup(doc, spans=[Span(doc, 3, 5, "ORG")])  # unscored: kept by the filter
    doc = nlp.get_pipe("bert_ner_overlap")(doc)
    assert [(e.text, e.label_) for e in doc.ents] == [("Anders Fogh", "PER"), ("Københavns Universitet", "ORG")]
    assert entity_scores(doc) == [0.9, None]
    with pytest.raises(ValueError, match="threshold must be in 0..1"):
        spacy.registry.misc.get("spacy_bert_ner.min_score.v1")(1.5)


@pytest.mark.slow
def test_the_transition_based_head_gets_beam_scores_without_changing_its_entities(trained):
    """bert_ner_confidence after `ner` (in the trained config): same entities as without it, each with a
    score in 0..1, and not all 1.0 (the beam must search freely, not be pinned to the greedy entities)."""
    texts = ["Mette Frederiksen besøgte Novo Nordisk i Kalundborg.", "Anna bor i Aarhus og arbejder hos Lego.",
             "Peter Hansen mødte Maria i København i går."]
    nlp = spacy.load(trained)
    assert nlp.pipe_names == ["transformer", "ner", "bert_ner_confidence", "bert_ner_overlap"]  # the configs' default
    plain = [[(e.start, e.end, e.label_) for e in doc.ents]
             for doc in spacy.load(trained, exclude=["bert_ner_confidence", "bert_ner_overlap"]).pipe(texts)]
    docs = list(nlp.pipe(texts))
    assert [[(e.start, e.end, e.label_) for e in doc.ents] for doc in docs] == plain
    scores = [s for doc in docs for s in entity_scores(doc)]
    assert len(scores) == sum(map(len, plain)) > 0
    assert all(0.0 <= s <= 1.0 for s in scores) and any(s < 0.999 for s in scores)
    assert not math.isnan(sum(scores))
    # a text with no tokens in a batch gets no entities and no error (the beam cannot search it)
    for batch in ([""], [texts[1], ""], ["", texts[0], ""]):
        empty = [doc for doc in nlp.pipe(batch) if not len(doc)]
        assert empty and all(entity_scores(doc) == [] and not doc.ents for doc in empty)


@pytest.mark.slow
def test_calibrate_keeps_a_temperature_in_the_config_and_evaluate_measures_the_scores(trained, demo_corpus, tmp_path):
    import json

    from spacy_bert_ner.components.confidence import calibrated
    from spacy_bert_ner.evaluation.runner import calibrate, evaluate

    result = calibrate(str(trained), demo_corpus / "dev.spacy", tmp_path / "calibrated")
    loaded = spacy.load(tmp_path / "calibrated")
    assert loaded.config["components"]["bert_ner_confidence"]["temperature"] == pytest.approx(result["temperature"])
    assert spacy.load(trained).config["components"]["bert_ner_confidence"]["temperature"] == 1.0  # untouched
    text = "Mette Frederiksen besøgte Novo Nordisk i Kalundborg."
    before, after = entity_scores(spacy.load(trained)(text)), entity_scores(loaded(text))
    assert after == pytest.approx([calibrated(s, result["temperature"]) for s in before])
    if result["n_scored"] >= 20:
        assert result["ece_after"] <= result["ece_before"] + 1e-9
    metrics = evaluate(str(tmp_path / "calibrated"), demo_corpus / "test.spacy", tmp_path / "metrics", n_bootstrap=20)
    cal = metrics["calibration"]
    assert cal["n_scored"] == metrics["ents_counts"]["pred"]  # every raw-text prediction is scored
    assert sum(b["count"] for b in cal["reliability"]) == cal["n_scored"]
    assert set(cal["thresholds"]) == {"0.5", "0.7", "0.9"}
    assert cal["thresholds"]["0.5"]["kept"] >= cal["thresholds"]["0.9"]["kept"]
    assert (tmp_path / "metrics" / "reliability.png").read_bytes()[:4] == b"\x89PNG"
    assert "## Confidence scores" in (tmp_path / "metrics" / "report.md").read_text()
    assert json.loads((tmp_path / "metrics" / "metrics.json").read_text())["calibration"]["ece"] == cal["ece"]


def long_text(sentences: int) -> str:
    """`sentences` sentences of the demo's test split, in order, as one text."""
    from spacy_bert_ner.readers import read_corpus

    docs, _ = read_corpus(DEMO / "test.iob2", "da")
    texts = [sent.text for doc in docs for sent in doc.sents]
    return " ".join(texts[i % len(texts)] for i in range(sentences))


@pytest.mark.slow
def test_a_window_holds_the_documents_own_features_for_its_tokens(trained):
    """The beam searches windows as Docs of their own: the NER head's features for a window's tokens
    must be the rows it computes for them in the whole document (the transformer is not run again)."""
    nlp = spacy.load(trained)
    doc = nlp(long_text(12))
    tok2vec = nlp.get_pipe("ner").model.get_ref("tok2vec")
    whole = tok2vec.predict([doc])  # a row per token: the listener, then list2array and a linear layer
    bounds = windows(doc, 40)
    assert len(bounds) > 3 and bounds[0][0] == 0 and bounds[-1][1] == len(doc)
    assert all(end == next_start for (_, end), (next_start, _) in zip(bounds, bounds[1:]))
    for start, end in bounds:
        window = window_doc(doc, start, end)
        assert window.text == doc[start:end].text_with_ws and not window.ents
        assert numpy.allclose(tok2vec.predict([window]), whole[start:end], atol=1e-6)
        # a window ends where no entity goes on: never inside one of the greedy entities
        assert not any(ent.start < end < ent.end for ent in doc.ents)


@pytest.mark.slow
def test_the_beams_work_per_token_stays_flat_as_a_document_grows(trained, monkeypatch):
    """spaCy's beam copies each state's history at every step, so its work on a doc of n tokens
    grows as n squared: counted here as the sum of the squared lengths of what the beam searches
    (the windows it is given), per token of text. A 16 times longer document must not cost more
    per token, and every token is searched once. Both documents are longer than one window; a
    document that fits one is searched whole, as by spaCy's own beam."""
    from spacy_bert_ner.components import confidence

    nlp = spacy.load(trained)
    searched = []
    monkeypatch.setattr(confidence, "window_doc", lambda doc, start, end: searched.append(end - start) or
                        window_doc(doc, start, end))
    work = {}
    for sentences in (16, 256):
        searched.clear()
        doc = nlp(long_text(sentences))
        work[sentences] = sum(n * n for n in searched) / len(doc)
        assert sum(searched) == len(doc) and max(searched) <= nlp.get_pipe("bert_ner_confidence").window_tokens
    assert work[256] < 1.5 * work[16]
    plain = spacy.load(trained, exclude=["bert_ner_confidence"])(doc.text)
    assert [(e.start, e.end, e.label_) for e in doc.ents] == [(e.start, e.end, e.label_) for e in plain.ents]
    assert len(entity_scores(doc)) == len(doc.ents) and all(0.0 <= s <= 1.0 for s in entity_scores(doc))


@pytest.mark.slow
def test_a_pipeline_saved_before_windows_loads_and_scores_with_the_default_window(trained, tmp_path):
    import shutil

    old = tmp_path / "old"
    shutil.copytree(trained, old)
    config = (old / "config.cfg").read_text(encoding="utf8")
    assert "window_tokens = 256\n" in config
    (old / "config.cfg").write_text(config.replace("window_tokens = 256\n", ""), encoding="utf8")
    nlp = spacy.load(old)
    assert nlp.get_pipe("bert_ner_confidence").window_tokens == 256
    text = long_text(3)
    assert entity_scores(nlp(text)) == entity_scores(spacy.load(trained)(text))
