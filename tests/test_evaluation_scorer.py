"""The span scorer equals seqeval's strict IOB2 scores; bootstrap and error analysis behave."""
import warnings
from collections import Counter
from typing import List

import pytest
from hypothesis import given, settings, strategies as st

from spacy_bert_ner.evaluation import analysis, bootstrap, scorer
from spacy_bert_ner.evaluation.scorer import EvalSentence

seqeval_v1 = pytest.importorskip("seqeval.metrics.v1")
from seqeval.scheme import IOB2, Entities  # noqa: E402


def S(n: int, gold, pred) -> EvalSentence:
    return EvalSentence([f"w{i}" for i in range(n)], list(gold), list(pred))


# One sentence per error kind, plus sentences without entities and empty sides.
FIXTURES = [
    S(5, [(0, 2, "PER")], [(0, 2, "PER")]),                      # correct
    S(5, [(1, 3, "ORG")], [(1, 3, "LOC")]),                      # wrong type
    S(6, [(1, 3, "LOC")], [(0, 4, "LOC")]),                      # too wide
    S(6, [(1, 4, "ORG")], [(2, 3, "ORG")]),                      # too narrow
    S(6, [(1, 3, "PER")], [(2, 5, "PER")]),                      # overlapping, other boundary
    S(6, [(1, 3, "PER")], [(2, 5, "ORG")]),                      # wrong type and boundary
    S(4, [(0, 1, "MISC")], []),                                  # missed
    S(4, [], [(2, 4, "MISC")]),                                  # spurious
    S(7, [(0, 1, "PER"), (2, 3, "PER")], [(0, 3, "PER")]),       # two gold merged into one
    S(7, [(0, 3, "LOC")], [(0, 1, "LOC"), (2, 3, "LOC")]),       # one gold split in two
    S(3, [], []),                                                # no entities at all
    S(0, [], []),                                                # empty sentence
    S(5, [(0, 1, "PER"), (1, 2, "PER")], [(0, 2, "PER")]),       # adjacent gold spans
]


def seqeval_scores(sentences: List[EvalSentence]):
    y_true = [scorer.iob2_tags(len(s.tokens), s.gold) for s in sentences]
    y_pred = [scorer.iob2_tags(len(s.tokens), s.pred) for s in sentences]
    return seqeval_from_tags(y_true, y_pred)


def seqeval_from_tags(y_true, y_pred):
    kw = dict(scheme=IOB2, zero_division=0)
    labels = sorted(Entities(y_true, IOB2).unique_tags | Entities(y_pred, IOB2).unique_tags)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        micro = seqeval_v1.precision_recall_fscore_support(y_true, y_pred, average="micro", **kw)
        per = seqeval_v1.precision_recall_fscore_support(y_true, y_pred, average=None, **kw)
        macro = (seqeval_v1.precision_recall_fscore_support(y_true, y_pred, average="macro", **kw)
                 if labels else (0.0, 0.0, 0.0, 0))
    return micro, dict(zip(labels, zip(*per[:3]))), macro


def assert_equal_to_seqeval(ours, theirs):
    micro, per_type, macro = theirs
    assert (ours["ents_p"], ours["ents_r"], ours["ents_f"]) == tuple(micro[:3])
    assert {k: (v["p"], v["r"], v["f"]) for k, v in ours["ents_per_type"].items()} == per_type
    assert (ours["ents_macro_p"], ours["ents_macro_r"], ours["ents_macro_f"]) == pytest.approx(macro[:3], abs=1e-15)


@pytest.mark.parametrize("subset", [FIXTURES, FIXTURES[:1], FIXTURES[6:8], FIXTURES[7:8], FIXTURES[10:12]])
def test_strict_scores_equal_seqeval(subset):
    assert_equal_to_seqeval(scorer.score(subset), seqeval_scores(subset))


def test_fixture_values():
    scores = scorer.score(FIXTURES)
    # Correct: PER 0-2 only. Gold 12 spans, predicted 11.
    assert scores["ents_counts"]["tp"] == 1
    assert scores["ents_counts"]["gold"] == 12 and scores["ents_counts"]["pred"] == 11
    assert scores["ents_f"] == pytest.approx(2 / 23)


def test_empty_corpus_scores_zero():
    scores = scorer.score([])
    assert scores["ents_f"] == scores["ents_macro_f"] == scores["ents_token_acc"] == 0.0
    assert scores["ents_per_type"] == {}


def test_empty_predictions_and_empty_gold():
    no_pred = [S(3, [(0, 1, "PER")], [])]
    no_gold = [S(3, [], [(0, 1, "PER")])]
    for sents in (no_pred, no_gold):
        scores = scorer.score(sents)
        assert scores["ents_f"] == 0.0 and scores["ents_per_type"]["PER"]["f"] == 0.0
        assert_equal_to_seqeval(scores, seqeval_scores(sents))


@st.composite
def tag_sequences(draw):
    tags = st.sampled_from(["O", "O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"])
    lengths = draw(st.lists(st.integers(0, 8), min_size=1, max_size=6))
    y_true = [draw(st.lists(tags, min_size=n, max_size=n)) for n in lengths]
    y_pred = [draw(st.lists(tags, min_size=n, max_size=n)) for n in lengths]
    return y_true, y_pred


@settings(max_examples=300, deadline=None)
@given(tag_sequences())
def test_random_tag_sequences_match_seqeval(seqs):
    """Random (also ill-formed) tag sequences, read into spans by seqeval's strict IOB2 reader."""
    y_true, y_pred = seqs
    gold = Entities(y_true, IOB2).entities
    pred = Entities(y_pred, IOB2).entities
    sentences = [EvalSentence(["w"] * len(t), [(e.start, e.end, e.tag) for e in g], [(e.start, e.end, e.tag) for e in p])
                 for t, g, p in zip(y_true, gold, pred)]
    assert_equal_to_seqeval(scorer.score(sentences), seqeval_from_tags(y_true, y_pred))


def test_token_accuracy_counts_o():
    sents = [S(4, [(0, 2, "PER")], [(0, 1, "PER")])]  # B-PER I-PER O O vs B-PER O O O
    assert scorer.token_accuracy(sents) == 0.75


def test_semeval_schemas():
    """One of each SemEval case: correct, type error, boundary error, type+boundary error, missed, spurious."""
    gold = [(0, 1, "PER"), (2, 4, "LOC"), (5, 6, "ORG"), (7, 9, "PER"), (10, 11, "LOC")]
    pred = [(0, 1, "PER"), (2, 4, "ORG"), (5, 7, "ORG"), (8, 9, "LOC"), (12, 13, "MISC")]
    result = scorer.semeval_scores([S(14, gold, pred)])
    s, e, p, t = (result[k] for k in ("strict", "exact", "partial", "ent_type"))
    assert (s["cor"], s["inc"], s["mis"], s["spu"]) == (1, 3, 1, 1)
    assert (e["cor"], e["inc"]) == (2, 2)
    assert (p["cor"], p["par"], p["mis"], p["spu"]) == (2, 2, 1, 1)
    assert (t["cor"], t["inc"]) == (2, 2)
    assert p["p"] == pytest.approx(3 / 5) and p["r"] == pytest.approx(3 / 5)
    assert s["possible"] == 5 and s["actual"] == 5 and s["f"] == pytest.approx(1 / 5)


def test_error_kinds_and_confusion():
    result = analysis.analyse(FIXTURES)
    counts = result["error_counts"]
    # Sentences 8 and 12 (gold spans merged into one prediction) and 9 (one gold span split in
    # two): one pair each, the other span merged or split.
    assert counts == {"wrong_type": 1, "too_wide": 3, "too_narrow": 2, "overlap": 1, "wrong_type_and_boundary": 1,
                      "merged": 2, "split": 1, "missed": 1, "spurious": 1}
    conf = result["confusion"]
    cell = lambda r, c: conf["matrix"][conf["rows"].index(r)][conf["columns"].index(c)]  # noqa: E731
    assert cell("ORG", "LOC") == 1 and cell("MISC", "missed") == 1 and cell("spurious", "MISC") == 1
    assert cell("PER", "PER") == 4 and cell("PER", "missed") == 2 and cell("spurious", "LOC") == 1
    assert len(result["errors"]) == sum(counts.values())
    merged = [e for e in result["errors"] if e["sentence"] == 8]
    assert [e["kind"] for e in merged] == ["too_wide", "merged"]
    assert merged[0]["pred"] == {"start": 0, "end": 3, "label": "PER", "text": "w0 w1 w2"}
    assert merged[1]["gold"]["start"] == 2 and merged[1]["pred"] is None
    assert merged[1]["overlapping"] == [merged[0]["pred"]]


@pytest.mark.parametrize("gold, pred, expected", [
    # The longest shared part first: 0-4 pairs with 0-3; 1-2 is split off, 3-4 merged.
    ([(0, 3, "PER"), (3, 4, "PER")], [(0, 4, "PER"), (1, 2, "PER")], ["too_wide", "merged", "split"]),
    # At equal overlap the same type first.
    ([(0, 3, "LOC")], [(0, 1, "ORG"), (2, 3, "LOC")], ["too_narrow", "split"]),
    # At equal overlap identical boundaries before the same type.
    ([(0, 2, "PER")], [(0, 3, "PER"), (0, 2, "LOC")], ["wrong_type", "split"]),
    # Identical spans always pair, even when another prediction covers more.
    ([(0, 2, "PER"), (2, 3, "LOC")], [(0, 2, "PER"), (0, 3, "LOC")], ["correct", "too_wide"]),
    # Overlapping nothing: missed and spurious.
    ([(0, 1, "PER")], [(1, 2, "PER")], ["missed", "spurious"]),
])
def test_pairing_rule(gold, pred, expected):
    assert [a["kind"] for a in analysis.align(S(6, gold, pred))] == expected


@st.composite
def span_corpora(draw):
    label = st.sampled_from(["PER", "LOC", "ORG"])
    sentences = []
    for n in draw(st.lists(st.integers(1, 9), min_size=1, max_size=4)):
        def spans():
            starts = draw(st.lists(st.integers(0, n - 1), max_size=5))
            return [(s, draw(st.integers(s + 1, n)), draw(label)) for s in starts]
        sentences.append(S(n, spans(), spans()))
    return sentences


@settings(max_examples=300, deadline=None)
@given(span_corpora())
def test_each_span_is_in_one_cell_and_one_error_record(sentences):
    """Any spans (also overlapping ones on one side): the matrix adds up to the gold and predicted counts."""
    result = analysis.analyse(sentences)
    gold = Counter(s[2] for sent in sentences for s in sent.gold)
    pred = Counter(s[2] for sent in sentences for s in sent.pred)
    conf = result["confusion"]
    rows = dict(zip(conf["rows"], conf["matrix"]))
    assert {r: sum(row) for r, row in rows.items() if r != "spurious" and sum(row)} == dict(gold)
    columns = {c: sum(row[j] for row in conf["matrix"]) for j, c in enumerate(conf["columns"])}
    assert {c: n for c, n in columns.items() if c != "missed" and n} == dict(pred)
    assert rows["spurious"][conf["columns"].index("missed")] == 0
    counts = result["error_counts"]
    tp = scorer.score(sentences)["ents_counts"]["tp"]
    paired_errors = sum(counts[k] for k in ("wrong_type", "too_wide", "too_narrow", "overlap", "wrong_type_and_boundary"))
    assert tp + paired_errors + counts["missed"] + counts["merged"] == sum(gold.values())
    assert tp + paired_errors + counts["spurious"] + counts["split"] == sum(pred.values())
    assert columns["missed"] == counts["missed"] + counts["merged"]
    assert sum(rows["spurious"]) == counts["spurious"] + counts["split"]
    assert len(result["errors"]) == sum(counts.values())
    for sent in sentences:
        for a in analysis.align(sent):
            if a["gold"] and a["pred"]:
                assert analysis.shared(a["gold"], a["pred"]) > 0
            elif a["kind"] in ("missed", "spurious"):
                other = sent.pred if a["gold"] else sent.gold
                assert not any(analysis.shared(a["gold"] or a["pred"], s) > 0 for s in other)


def test_bootstrap_is_seeded_and_brackets_the_score():
    per_sentence = [scorer.sentence_counts(s) for s in FIXTURES * 5]
    labels = sorted({k for c in per_sentence for k in c})
    a = bootstrap.f1_intervals(per_sentence, labels, n=300, seed=7)
    b = bootstrap.f1_intervals(per_sentence, labels, n=300, seed=7)
    c = bootstrap.f1_intervals(per_sentence, labels, n=300, seed=8)
    assert a == b and a != c
    f = scorer.score(FIXTURES * 5)["ents_f"]
    lo, hi = a["ents_f"]
    assert 0 <= lo <= f <= hi <= 1 and lo < hi
    macro = scorer.score(FIXTURES * 5)["ents_macro_f"]
    assert a["ents_macro_f"][0] <= macro <= a["ents_macro_f"][1]


def test_paired_difference_of_identical_runs_is_zero_and_detects_a_real_gap():
    sents = [S(3, [(0, 1, "PER")], [(0, 1, "PER")]) for _ in range(30)] + [S(3, [(0, 1, "PER")], []) for _ in range(10)]
    worse = [S(3, s.gold, []) if i % 2 else s for i, s in enumerate(sents)]
    a = [scorer.sentence_counts(s) for s in sents]
    b = [scorer.sentence_counts(s) for s in worse]
    same = bootstrap.paired_difference(a, a, ["PER"], n=200, seed=0)
    assert same["ents_f"] == [0.0, 0.0]
    gap = bootstrap.paired_difference(a, b, ["PER"], n=200, seed=0)
    assert gap["PER"][0] > 0
