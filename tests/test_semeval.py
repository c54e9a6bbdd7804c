"""Partial-match (SemEval-2013) scores equal nervaluate's, overall and per type, and count each span once."""
import json
from typing import List

import pytest
from hypothesis import example, given, settings, strategies as st
from nervaluate import Evaluator

from spacy_bert_ner.evaluation import runner, scorer
from spacy_bert_ner.evaluation.scorer import SEMEVAL_SCHEMAS, EvalSentence

FIELDS = {"cor": "correct", "inc": "incorrect", "par": "partial", "mis": "missed", "spu": "spurious",
          "possible": "possible", "actual": "actual", "p": "precision", "r": "recall", "f": "f1"}


def S(n: int, gold, pred) -> EvalSentence:
    return EvalSentence([f"w{i}" for i in range(n)], list(gold), list(pred))


def nervaluate_scores(sentences: List[EvalSentence]):
    """nervaluate on the same spans; its intervals are closed, ours half-open."""
    def docs(side):
        return [[{"label": label, "start": start, "end": end - 1} for start, end, label in getattr(s, side)]
                for s in sentences]
    labels = sorted({span[2] for s in sentences for span in s.gold + s.pred})
    result = Evaluator(docs("gold"), docs("pred"), tags=labels, loader="dict").evaluate()
    as_dict = lambda r: {k: getattr(r, v) for k, v in FIELDS.items()}  # noqa: E731
    overall = {schema: as_dict(r) for schema, r in result["overall"].items()}
    per_type = {label: {schema: as_dict(r) for schema, r in per.items()} for label, per in result["entities"].items()}
    return overall, per_type


def ours(scores):
    pick = lambda per_schema: {k: {f: s[f] for f in FIELDS} for k, s in per_schema.items()}  # noqa: E731
    return pick(scores["semeval"]), {label: pick(per) for label, per in scores["semeval_per_type"].items()}


def assert_each_span_counted_once(sentences: List[EvalSentence], scores):
    gold = [span for s in sentences for span in s.gold]
    pred = [span for s in sentences for span in s.pred]
    assert set(scores["semeval"]) == set(SEMEVAL_SCHEMAS)
    for s in scores["semeval"].values():
        assert (s["possible"], s["actual"]) == (len(gold), len(pred))
        assert s["cor"] + s["inc"] + s["par"] + s["mis"] == len(gold)
        assert s["cor"] + s["inc"] + s["par"] + s["spu"] == len(pred)
    assert set(scores["semeval_per_type"]) == {span[2] for span in gold + pred}
    for label, per in scores["semeval_per_type"].items():
        for s in per.values():
            assert s["possible"] == sum(span[2] == label for span in gold)
            assert s["actual"] == sum(span[2] == label for span in pred)


def assert_strict_schema_is_strict_f1(scores):
    assert scores["semeval"]["strict"]["f"] == scores["ents_f"]
    assert scores["semeval"]["strict"]["cor"] == scores["ents_counts"]["tp"]
    for label, per in scores["semeval_per_type"].items():
        assert per["strict"]["f"] == scores["ents_per_type"][label]["f"]


# Spans short and long: nervaluate needs the shared part to be at least 1% of the gold span,
# which only spans over 100 units can miss with a shared part of 1.
span_lengths = st.integers(1, 4) | st.integers(90, 250)


@st.composite
def spans(draw, n: int):
    found = []
    for _ in range(draw(st.integers(0, 6))):
        start = draw(st.integers(0, n - 1))
        end = min(n, start + draw(span_lengths))
        found.append((start, end, draw(st.sampled_from(["PER", "LOC", "ORG"]))))
    return found


def without_overlaps(found):
    """What `doc.ents` allows: sorted, no two spans overlap (first one kept)."""
    kept = []
    for span in sorted(found):
        if not kept or span[0] >= kept[-1][1]:
            kept.append(span)
    return kept


@st.composite
def corpora(draw, overlapping: bool):
    sentences = []
    for _ in range(draw(st.integers(1, 4))):
        n = draw(st.sampled_from([3, 8, 300]))
        gold, pred = draw(spans(n)), draw(spans(n))
        if not overlapping:
            gold, pred = without_overlaps(gold), without_overlaps(pred)
        sentences.append(S(n, gold, pred))
    return sentences


# A gold entity overlapped by two predictions; a prediction overlapping two gold entities.
TWO_PREDICTIONS_ON_ONE_GOLD = [S(7, [(0, 3, "LOC")], [(0, 1, "LOC"), (2, 3, "ORG")])]
ONE_PREDICTION_ON_TWO_GOLD = [S(7, [(0, 1, "PER"), (2, 3, "ORG")], [(0, 3, "PER")])]


@settings(max_examples=400, deadline=None)
@given(corpora(overlapping=True))
@example(TWO_PREDICTIONS_ON_ONE_GOLD)
@example(ONE_PREDICTION_ON_TWO_GOLD)
def test_random_spans_equal_nervaluate(sentences):
    """Any spans, also overlapping ones on the same side: exactly nervaluate's counts and floats."""
    scores = scorer.score(sentences)
    assert ours(scores) == nervaluate_scores(sentences)
    assert_each_span_counted_once(sentences, scores)


@settings(max_examples=300, deadline=None)
@given(corpora(overlapping=False))
@example(TWO_PREDICTIONS_ON_ONE_GOLD)
@example(ONE_PREDICTION_ON_TWO_GOLD)
def test_entities_as_spacy_has_them_equal_nervaluate_and_strict_f1(sentences):
    scores = scorer.score(sentences)
    assert ours(scores) == nervaluate_scores(sentences)
    assert_each_span_counted_once(sentences, scores)
    assert_strict_schema_is_strict_f1(scores)


def counts(result, schema):
    s = result[schema]
    return s["cor"], s["inc"], s["par"], s["mis"], s["spu"]


def test_gold_overlapped_by_two_predictions_is_counted_once():
    """The fault of issue 21: the second prediction on a taken gold span is spurious, not another INC."""
    result = scorer.semeval_scores(TWO_PREDICTIONS_ON_ONE_GOLD)
    assert counts(result, "strict") == (0, 1, 0, 0, 1)
    assert counts(result, "exact") == (0, 1, 0, 0, 1)
    assert counts(result, "partial") == (0, 0, 1, 0, 1)
    assert counts(result, "ent_type") == (1, 0, 0, 0, 1)
    per_type = scorer.semeval_scores(TWO_PREDICTIONS_ON_ONE_GOLD, "ORG")
    assert counts(per_type, "ent_type") == (0, 0, 0, 0, 1)


def test_prediction_on_two_gold_is_matched_with_one():
    result = scorer.semeval_scores(ONE_PREDICTION_ON_TWO_GOLD)
    assert counts(result, "strict") == (0, 1, 0, 1, 0)
    assert counts(result, "ent_type") == (1, 0, 0, 1, 0)


def test_ent_type_takes_the_nearest_gold_span_the_others_the_first():
    sents = [S(8, [(0, 2, "PER"), (2, 6, "PER")], [(1, 6, "PER")])]
    result = scorer.semeval_scores(sents)
    assert counts(result, "strict") == (0, 1, 0, 1, 0)    # first overlapping: 0-2
    assert counts(result, "ent_type") == (1, 0, 0, 1, 0)  # nearest boundaries: 2-6
    assert ours(scorer.score(sents)) == nervaluate_scores(sents)


def test_overlap_must_cover_one_percent_of_the_gold_span():
    """Relevant for character offsets: one shared unit of a gold span over 100 units is no overlap."""
    short = scorer.semeval_scores([S(300, [(0, 100, "PER")], [(99, 101, "PER")])])
    long = scorer.semeval_scores([S(300, [(0, 200, "PER")], [(199, 201, "PER")])])
    assert counts(short, "partial") == (0, 0, 1, 0, 0)
    assert counts(long, "partial") == (0, 0, 0, 1, 1)


def test_empty_corpus_scores_zero_in_every_schema():
    scores = scorer.score([S(3, [], [])])
    assert all(s["f"] == 0.0 and s["possible"] == s["actual"] == 0 for s in scores["semeval"].values())
    assert scores["semeval_per_type"] == {}


def test_report_shows_partial_matches_overall_and_per_type(tmp_path):
    """metrics.json, report.md and the confusion matrix count every gold and predicted entity once."""
    sentences = TWO_PREDICTIONS_ON_ONE_GOLD + ONE_PREDICTION_ON_TWO_GOLD + [
        S(5, [(0, 2, "PER"), (3, 4, "LOC")], [(0, 2, "PER"), (3, 5, "LOC")]),
        S(4, [(1, 2, "MISC")], [(3, 4, "ORG")]),
    ]
    metrics = runner.write_evaluation(sentences, tmp_path, model="m", data="d", n_docs=1, n_bootstrap=20)
    written = json.loads((tmp_path / "metrics.json").read_text(encoding="utf8"))
    assert written["semeval"] == metrics["semeval"] and written["semeval_per_type"] == metrics["semeval_per_type"]
    assert ours(written) == nervaluate_scores(sentences)
    assert_each_span_counted_once(sentences, written)
    assert_strict_schema_is_strict_f1(written)
    conf = written["confusion"]
    rows = dict(zip(conf["rows"], conf["matrix"]))
    gold_per_type = {label: c["tp"] + c["fn"] for label, c in written["ents_counts"]["per_type"].items()}
    assert {r: sum(row) for r, row in rows.items() if r != "spurious"} == gold_per_type
    assert sum(map(sum, conf["matrix"])) - sum(rows["spurious"]) == written["ents_counts"]["gold"]
    report = (tmp_path / "report.md").read_text(encoding="utf8")
    assert "### Partial matches per type" in report
    s = written["semeval_per_type"]["LOC"]["strict"]
    assert f"| LOC | strict | {s['cor']} | {s['inc']} | {s['par']} | {s['mis']} | {s['spu']} | 2 | 2 |" in report
    assert "paired elsewhere" in report  # the split prediction of sentence 0 is explained


@pytest.mark.parametrize("schema", SEMEVAL_SCHEMAS)
def test_partial_and_ent_type_give_half_credit_only(schema):
    result = scorer.semeval_scores([S(6, [(0, 3, "PER")], [(1, 3, "PER")])])[schema]
    expected = {"strict": 0.0, "exact": 0.0, "partial": 0.5, "ent_type": 1.0}[schema]
    assert result["p"] == result["r"] == expected
