"""Annotation tools in and out: `convert` of Prodigy, Label Studio and doccano exports (hand-written
fixtures in tests/fixtures/tools/, shaped as each tool writes them), `predict --format` for each
tool, and, marked `integration`, a real Label Studio server that imports predict's output and
exports it back (run it with SPACY_BERT_NER_INTEGRATION=1; it installs nothing itself)."""
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import spacy
from spacy.language import Language
from spacy.tokens import Doc, DocBin, SpanGroup

from spacy_bert_ner.errors import CorpusError, UserError
from spacy_bert_ner.inference.output import record_json
from spacy_bert_ner.inference.predict import predict
from spacy_bert_ner.inference.resume import part_paths
from spacy_bert_ner.inference.signals import Interrupted
from spacy_bert_ner.readers import read_corpus
from spacy_bert_ner.readers.annotation_tools import (doccano_record, label_studio_config, label_studio_task,
                                                     prodigy_task)
from spacy_bert_ner.readers.jsonl import INCORRECT_SPANS_KEY

FIXTURES = Path(__file__).parent / "fixtures" / "tools"
EN = spacy.blank("en")


def ents(doc):
    return [(e.text, e.label_) for e in doc.ents]


def run_cli(*args):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    return subprocess.run([sys.executable, "-m", "spacy_bert_ner", *map(str, args)], capture_output=True,
                          text=True, env=env)


def problems(report, kind):
    return [p["line"] for p in report.problems if p["message"].startswith(kind)]


# The writers -------------------------------------------------------------------------------------

TEXT = "Hej 😀\r\nKirsten bor i Vejle."
SPANS = [(7, 14, "PER", 0.91), (21, 26, "LOC", 0.4), (0, 3, "MISC", None)]


def test_label_studio_task_has_a_prediction_with_scores_and_code_point_offsets():
    task = label_studio_task(TEXT, SPANS, "da_news_ner-0.1.0", {"id": 7})
    assert task["data"] == {"id": 7, "text": TEXT}
    (prediction,) = task["predictions"]
    assert prediction["model_version"] == "da_news_ner-0.1.0"
    assert prediction["score"] == 0.4  # the task is as doubtful as its most doubtful entity
    results = prediction["result"]
    assert [r["value"]["text"] for r in results] == ["Kirsten", "Vejle", "Hej"]
    for result, (start, end, label, score) in zip(results, SPANS):
        # Python offsets, as Label Studio counts them: the emoji is one character, "\r\n" two
        assert result["value"] == {"start": start, "end": end, "text": TEXT[start:end], "labels": [label]}
        assert (result["from_name"], result["to_name"], result["type"]) == ("label", "text", "labels")
        assert result.get("score") == score
    assert len({r["id"] for r in results}) == 3
    assert "score" not in label_studio_task(TEXT, [(7, 14, "PER", None)], "m")["predictions"][0]


def test_label_studio_config_names_match_the_results():
    config = ET.fromstring(label_studio_config(["PER", "LOC & <ORG>"], text_field="content"))
    labels, text = config.find("Labels"), config.find("Text")
    assert (labels.get("name"), labels.get("toName"), text.get("name"), text.get("value")) == (
        "label", "text", "text", "$content")
    assert [label.get("value") for label in labels] == ["PER", "LOC & <ORG>"]
    task = label_studio_task(TEXT, SPANS, "m", text_field="content")
    assert task["data"] == {"content": TEXT}


def test_prodigy_task_token_end_is_inclusive_and_the_score_is_in_meta():
    text = "Anna Berg works at Novo Nordisk."
    doc = EN.make_doc(text)
    task = prodigy_task(text, [(0, 9, "PER", 0.8), (19, 31, "ORG", 0.55), (1, 3, "X", None)], {"source": "news"},
                        doc=doc)
    assert task["meta"] == {"score": 0.55, "source": "news"}
    person, org, cut = task["spans"]
    assert (person["token_start"], person["token_end"]) == (0, 1) and person["score"] == 0.8
    assert (org["token_start"], org["token_end"]) == (4, 5) and org["text"] == "Novo Nordisk"
    assert "token_start" not in cut and "score" not in cut  # off the tokens: Prodigy aligns it itself
    assert "".join(t["text"] + (" " if t["ws"] else "") for t in task["tokens"]) == text
    assert "tokens" not in prodigy_task(text, [], None) and prodigy_task(text, [])["meta"] == {}


def test_doccano_record_is_a_label_list():
    assert doccano_record(TEXT, SPANS, {"id": 3}) == {"id": 3, "text": TEXT, "label": [
        [7, 14, "PER"], [21, 26, "LOC"], [0, 3, "MISC"]]}


# convert: Prodigy --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def prodigy():
    return read_corpus(FIXTURES / "prodigy_db_out.jsonl", EN)


def test_prodigy_keeps_accepted_answers_only_and_counts_the_rest(prodigy):
    docs, report = prodigy
    assert report.format == "prodigy"
    texts = [doc.text for doc in docs]
    assert texts == ["Anna Berg works at Novo Nordisk in Copenhagen.", "Ole Madsen lives in Aarhus.",
                     "Maria Olsen visited Berlin with Carlsberg last year."]
    assert ents(docs[0]) == [("Anna Berg", "PER"), ("Novo Nordisk", "ORG"), ("Copenhagen", "LOC")]
    assert report.skipped == {"rejected": 1, "ignored": 2, "earlier annotation of the same text": 1,
                              "binary answer on a text annotated in full": 1}
    assert problems(report, "left out: rejected") == [2] and problems(report, "left out: ignored") == [3, 9]
    summary = report.to_dict()
    assert summary["skipped_records"]["rejected"] == 1 and summary["partial_documents"] == 1
    assert sum(report.entities.values()) == 7  # 3 + 2 + the 2 accepted binary spans; none rejected or ignored


def test_prodigy_text_annotated_twice_keeps_the_latest(prodigy):
    docs, report = prodigy
    assert ents(docs[1]) == [("Ole Madsen", "PER"), ("Aarhus", "LOC")]  # line 5, the later _timestamp
    assert problems(report, "left out: earlier annotation") == [4]


def test_prodigy_binary_answers_make_one_partial_doc(prodigy):
    docs, report = prodigy
    doc = docs[2]
    assert ents(doc) == [("Maria Olsen", "PER"), ("Berlin", "LOC")]
    outside_entities = [t.text for t in doc if not t.ent_type_]
    assert outside_entities and all(t.ent_iob_ == "" for t in doc if not t.ent_type_)  # missing, not O
    assert [(s.text, s.label_) for s in doc.spans[INCORRECT_SPANS_KEY]] == [("Maria Olsen", "ORG")]
    assert report.partial == 1 and report.incorrect == {"ORG": 1}
    assert problems(report, "binary answers: other tokens missing") == [6]
    # missing values survive the DocBin that convert writes
    back = list(DocBin().from_bytes(DocBin(docs=[doc]).to_bytes()).get_docs(EN.vocab))[0]
    assert [t.ent_iob_ for t in back] == [t.ent_iob_ for t in doc]


def test_binary_docs_reach_training_whole_when_cut_into_pieces(tmp_path):
    """A long text's pieces (training/chunks.py) keep its missing tokens and its rejected spans."""
    from spacy.training import Example

    from spacy_bert_ner.training.hooks import sentence_chunks

    text = "Maria Olsen visited Berlin. " * 3 + "Carlsberg is in Copenhagen."
    source = tmp_path / "teach.jsonl"
    source.write_text("\n".join([
        prodigy_line(text, [(100, 110, "LOC")], answer="accept", _input_hash=1, _task_hash=1, _view_id="ner"),
        prodigy_line(text, [(84, 93, "PER")], answer="reject", _input_hash=1, _task_hash=2, _view_id="ner"),
    ]) + "\n", encoding="utf8")
    (doc,), _ = read_corpus(source, EN)
    pieces = list(sentence_chunks(8)(EN, Example(EN.make_doc(doc.text), doc)))
    assert len(pieces) > 1
    last = pieces[-1].reference
    assert ents(last) == [("Copenhagen", "LOC")] and last[0].ent_iob_ == ""
    assert [(s.text, s.label_) for s in last.spans[INCORRECT_SPANS_KEY]] == [("Carlsberg", "PER")]
    assert all(t.ent_iob_ == "" for piece in pieces[:-1] for t in piece.reference)


def test_the_issue_example_four_texts_two_accepted_give_their_entities_only(tmp_path):
    lines = (FIXTURES / "prodigy_db_out.jsonl").read_text(encoding="utf8").splitlines()[:4]
    source = tmp_path / "four.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf8")
    docs, report = read_corpus(source, EN)
    assert sum(report.entities.values()) == 4 and len(docs) == 2
    assert report.skipped == {"rejected": 1, "ignored": 1}


def prodigy_line(text, spans, **keys):
    doc = EN.make_doc(text)
    tokens = [{"text": t.text, "start": t.idx, "end": t.idx + len(t), "id": t.i, "ws": bool(t.whitespace_)}
              for t in doc]
    out = []
    for start, end, label in spans:
        span = doc.char_span(start, end)
        out.append({"start": start, "end": end, "label": label,
                    **({"token_start": span.start, "token_end": span.end - 1} if span is not None else {})})
    return json.dumps({"text": text, "tokens": tokens, "spans": out, **keys})


def test_prodigy_binary_answers_are_recognised_without_view_id(tmp_path):
    text = "Maria visited Berlin."
    source = tmp_path / "teach.jsonl"
    source.write_text("\n".join([
        prodigy_line(text, [(14, 20, "LOC")], answer="accept", _input_hash=1, _task_hash=10),
        prodigy_line(text, [(0, 5, "ORG")], answer="reject", _input_hash=1, _task_hash=11),
        prodigy_line("Ole lives here.", [(0, 3, "PER")], answer="accept", _input_hash=2, _task_hash=20),
    ]) + "\n", encoding="utf8")
    docs, report = read_corpus(source, EN)
    assert report.partial == 1 and ents(docs[0]) == [("Berlin", "LOC")] and docs[0][0].ent_iob_ == ""
    assert ents(docs[1]) == [("Ole", "PER")] and docs[1][1].ent_iob_ == "O"  # a single answer: complete


def test_prodigy_task_without_answer_and_wrong_token_indices_are_reported(tmp_path):
    text = "Anna Berg works here."
    record = json.loads(prodigy_line(text, [(0, 9, "PER")], _input_hash=5, _task_hash=6))
    record["spans"][0]["token_end"] = 2  # written as if exclusive
    source = tmp_path / "tasks.jsonl"
    source.write_text(json.dumps(record) + "\n", encoding="utf8")
    docs, report = read_corpus(source, EN)
    assert ents(docs[0]) == [("Anna Berg", "PER")]  # the character offsets decide
    assert problems(report, "no answer: taken as accepted") == [1]
    assert problems(report, "token indices disagree") == [1]


# convert: Label Studio ---------------------------------------------------------------------------


def task_lines(path):
    """The line each task of a pretty-printed export starts on."""
    lines = path.read_text(encoding="utf8").splitlines()
    return [n for n, line in enumerate(lines, 1) if line == "  {"]


@pytest.fixture(scope="module")
def label_studio():
    return read_corpus(FIXTURES / "label_studio_export.json", EN)


def test_label_studio_takes_one_annotation_per_task_and_counts_what_it_leaves_out(label_studio):
    docs, report = label_studio
    lines = task_lines(FIXTURES / "label_studio_export.json")
    assert report.format == "label-studio" and len(docs) == 5
    assert ents(docs[0]) == [("Anna Berg", "PER"), ("Novo Nordisk", "ORG"), ("Copenhagen", "LOC")]
    assert ents(docs[1]) == [("Ole Madsen", "PER"), ("Aarhus", "LOC")]  # the latest of two
    assert ents(docs[2]) == [("Mette Frederiksen", "PER"), ("Vejle", "LOC")]  # ground truth, though older
    assert report.skipped == {"cancelled annotation": 1, "task without annotation": 2,
                              "other annotation of the task": 2}
    assert problems(report, "left out: cancelled annotation") == [lines[1]]
    assert problems(report, "left out: task without annotation") == [lines[1], lines[4]]
    assert problems(report, "left out: other annotation") == [lines[2], lines[3]]
    assert problems(report, "result of another type ignored") == [lines[0]]


def test_label_studio_offsets_count_code_points_and_crlf_as_two(label_studio):
    docs, report = label_studio
    doc = docs[3]
    assert doc.text.startswith("Hej 😀\r\nKirsten")  # the text as Label Studio showed it, \r\n kept
    assert ents(doc) == [("Kirsten", "PER"), ("Vejle", "LOC"), ("Lego", "ORG")]


def test_label_studio_utf16_offsets_of_an_older_export_are_converted(label_studio):
    docs, report = label_studio
    assert ents(docs[4]) == [("Brøndby", "ORG"), ("København", "LOC")]
    assert problems(report, "offsets converted from UTF-16 units") == [task_lines(FIXTURES / "label_studio_export.json")[6]] * 2


def ls_task(text, spans, field="text", **annotation):
    result = [{"id": f"r{i}", "from_name": "label", "to_name": "text", "type": "labels",
               "value": {"start": s, "end": e, "labels": [label], **({"text": said} if said is not None else {})}}
              for i, (s, e, label, said) in enumerate(spans)]
    return {"id": 1, "data": {field: text}, "annotations": [{"id": 1, "result": result, "was_cancelled": False,
                                                             "ground_truth": False, **annotation}]}


def test_label_studio_text_field(tmp_path):
    source = tmp_path / "export.json"
    source.write_text(json.dumps([ls_task("Ole bor i Aarhus.", [(10, 16, "LOC", "Aarhus")], field="content")]),
                      encoding="utf8")
    with pytest.raises(CorpusError, match=r"data\['text'\].*--text-field") as err:
        read_corpus(source, EN)
    assert err.value.line == 1
    docs, _ = read_corpus(source, EN, text_field="content")
    assert ents(docs[0]) == [("Aarhus", "LOC")]


def test_label_studio_span_text_that_matches_no_offsets_is_reported(tmp_path):
    source = tmp_path / "export.json"
    source.write_text(json.dumps([ls_task("Ole bor i Aarhus.", [(10, 16, "LOC", "Odense")])]), encoding="utf8")
    docs, report = read_corpus(source, EN)
    assert ents(docs[0]) == [("Aarhus", "LOC")] and problems(report, "span text differs") == [1]


# convert: doccano --------------------------------------------------------------------------------


@pytest.mark.parametrize("name, expected", [
    ("doccano.jsonl", [("Anna Berg", "PER"), ("Novo Nordisk", "ORG"), ("Copenhagen", "LOC"),
                       ("Ole Madsen", "PER"), ("Aarhus", "LOC")]),
    ("doccano_labels.jsonl", [("Mette Frederiksen", "PER"), ("Vejle", "LOC")]),
    ("doccano_entities.jsonl", [("Carlsberg", "ORG"), ("Fredericia", "LOC")]),
])
def test_doccano_label_labels_and_entities(name, expected):
    docs, report = read_corpus(FIXTURES / name, EN)
    assert report.format == "doccano"
    assert [e for doc in docs for e in ents(doc)] == expected
    assert all(t.ent_iob_ in ("B", "I", "O") for doc in docs for t in doc)  # complete annotation


def test_detection_leaves_other_jsonl_alone_and_format_forces_a_tool(tmp_path):
    source = tmp_path / "plain.jsonl"
    source.write_text(json.dumps({"text": "Ole bor i Aarhus.", "spans": [[10, 16, "LOC"]]}) + "\n", encoding="utf8")
    assert read_corpus(source, EN)[1].format == "jsonl"
    legacy = tmp_path / "legacy.jsonl"
    legacy.write_text(json.dumps({"text": "Ole bor i Aarhus.", "labels": [[10, 16, "LOC"]]}) + "\n", encoding="utf8")
    docs, report = read_corpus(legacy, EN, format="doccano")
    assert report.format == "doccano" and ents(docs[0]) == [("Aarhus", "LOC")]


# convert: the rules every reader shares, with the record's line ------------------------------------


def export_of(tool, text, spans):
    """A file of `tool` with a first, clean record and then `text` with `spans` on a known line."""
    clean = ("Ole bor her.", [(0, 3, "PER")])
    records = [clean, (text, spans)]
    if tool == "label-studio":
        tasks = [ls_task(t, [(s, e, label, None) for s, e, label in sp]) for t, sp in records]
        return json.dumps(tasks, indent=2), 2 + json.dumps(tasks[0], indent=2).count("\n") + 1
    if tool == "prodigy":
        lines = [prodigy_line(t, sp, answer="accept", _input_hash=i, _task_hash=i, _view_id="ner_manual")
                 for i, (t, sp) in enumerate(records)]
    else:
        lines = [json.dumps({"text": t, "label": [list(s) for s in sp]}) for t, sp in records]
    return "\n".join(lines) + "\n", 2


@pytest.mark.parametrize("tool", ["prodigy", "label-studio", "doccano"])
def test_offsets_outside_the_text_stop_with_the_record_line(tool, tmp_path):
    content, line = export_of(tool, "Aarhus.", [(0, 40, "LOC")])
    source = tmp_path / "export.json"
    source.write_text(content, encoding="utf8")
    with pytest.raises(CorpusError, match="outside the text") as err:
        read_corpus(source, EN, format=tool)
    assert err.value.line == line


@pytest.mark.parametrize("tool", ["prodigy", "label-studio", "doccano"])
def test_spans_cutting_a_token_and_overlaps_are_handled_with_the_record_line(tool, tmp_path):
    content, line = export_of(tool, "Novo Nordisk i Aarhus.", [(0, 12, "ORG"), (5, 12, "PER"), (15, 18, "LOC")])
    source = tmp_path / "export.json"
    source.write_text(content, encoding="utf8")
    with pytest.raises(CorpusError, match="does not fall on token boundaries") as err:
        read_corpus(source, EN, format=tool)
    assert err.value.line == line
    docs, report = read_corpus(source, EN, format=tool, alignment="expand")
    assert ents(docs[1]) == [("Novo Nordisk", "ORG"), ("Aarhus", "LOC")]
    assert problems(report, "span realigned") == [line]
    assert problems(report, "overlapping span set aside") == [line] and report.set_aside == {"PER": 1}
    assert [s.text for s in docs[1].spans["sc"]] == ["Novo Nordisk", "Nordisk", "Aarhus"]


def test_convert_cli_names_what_it_left_out(tmp_path):
    result = run_cli("convert", FIXTURES / "prodigy_db_out.jsonl", "-o", tmp_path, "-l", "en",
                     "--report", tmp_path / "report.json")
    assert result.returncode == 0, result.stderr
    out = " ".join(result.stdout.split())
    assert "left out: rejected: 1" in out and "every other token is missing" in out
    assert f'incorrect_spans_key = "{INCORRECT_SPANS_KEY}"' in out
    report = json.loads((tmp_path / "report.json").read_text())
    assert report[str(FIXTURES / "prodigy_db_out.jsonl")]["skipped_records"]["ignored"] == 2
    result = run_cli("convert", FIXTURES / "label_studio_export.json", "-o", tmp_path, "-l", "en",
                     "--format", "label-studio", "--text-field", "body")
    assert result.returncode == 1 and "--text-field" in result.stdout + result.stderr


# predict --format -------------------------------------------------------------------------------

SCORES = {"PER": 0.9, "LOC": 0.35}


@Language.component("test_tool_scores")
def _scores(doc: Doc) -> Doc:
    """Scores where the configs' scoring component puts them (components/confidence.py)."""
    group = SpanGroup(doc, name="ents", spans=list(doc.ents))
    group.attrs["scores"] = [SCORES[e.label_] for e in doc.ents]
    doc.spans["ents"] = group
    return doc


@pytest.fixture(scope="module")
def scored_model(tmp_path_factory):
    nlp = spacy.blank("xx")
    nlp.add_pipe("entity_ruler").add_patterns([{"label": "PER", "pattern": "Søren Kierkegaard"},
                                               {"label": "LOC", "pattern": "Aarhus"}])
    nlp.add_pipe("test_tool_scores")
    nlp.meta.update({"name": "news_ner", "version": "0.2.0"})
    path = tmp_path_factory.mktemp("scored") / "model"
    nlp.to_disk(path)
    return path


def source_file(path: Path, n: int = 12) -> Path:
    lines = []
    for i in range(n):
        text = f"Nr. {i} 😀\r\n" + "Søren Kierkegaard boede i Aarhus. " * (1 + i % 4)
        lines.append(json.dumps({"id": i, "text": text, **({"meta": {"batch": "b1"}} if i == 0 else {})},
                                ensure_ascii=False))
    path.write_text("\n".join(lines) + "\n", encoding="utf8")
    return path


def read_output(path: Path, tool: str):
    text = path.read_text(encoding="utf8")
    return json.loads(text) if tool == "label-studio" else [json.loads(line) for line in text.splitlines()]


def spans_of(record, tool):
    """(start, end, label, score) of one written record, whatever the tool."""
    if tool == "label-studio":
        return [(r["value"]["start"], r["value"]["end"], r["value"]["labels"][0], r.get("score"))
                for r in record["predictions"][0]["result"]]
    if tool == "prodigy":
        return [(s["start"], s["end"], s["label"], s.get("score")) for s in record["spans"]]
    if tool == "doccano":
        return [(s, e, label, None) for s, e, label in record["label"]]
    return [(e["start"], e["end"], e["label"], e["score"]) for e in record["entities"]]


@pytest.mark.parametrize("tool", ["label-studio", "prodigy", "doccano"])
def test_predict_format_writes_the_entities_of_a_jsonl_run(scored_model, tmp_path, tool):
    source = source_file(tmp_path / "in.jsonl")
    settings = {"split_chars": 100, "batch_size": 3}  # the longer texts run as pieces
    summary = predict(str(scored_model), source, tmp_path / "plain.jsonl", **settings)
    assert summary.split
    plain = read_output(tmp_path / "plain.jsonl", "jsonl")
    out = tmp_path / f"out.{tool}"
    predict(str(scored_model), source, out, format=tool, **settings)
    written = read_output(out, tool)
    assert len(written) == len(plain)
    for mine, theirs in zip(written, plain):
        expected = spans_of(theirs, "jsonl")
        if tool == "doccano":
            expected = [(s, e, label, None) for s, e, label, _ in expected]
        assert spans_of(mine, tool) == expected
    first = written[0]
    if tool == "label-studio":
        assert first["data"] == {"id": 0, "meta": {"batch": "b1"}, "text": plain[0]["text"]}
        prediction = first["predictions"][0]
        assert prediction["model_version"] == "xx_news_ner-0.2.0" and prediction["score"] == 0.35
    elif tool == "prodigy":
        assert first["meta"] == {"score": 0.35, "batch": "b1"} and first["id"] == 0
        person = first["spans"][0]
        assert first["tokens"][person["token_start"]]["start"] == person["start"]
        assert first["tokens"][person["token_end"]]["end"] == person["end"]
    else:
        assert first["id"] == 0 and first["meta"] == {"batch": "b1"}
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["in.jsonl", "plain.jsonl", f"out.{tool}"])


def test_predict_format_resumes_an_interrupted_run(scored_model, tmp_path, monkeypatch):
    source = source_file(tmp_path / "in.jsonl", 20)
    predict(str(scored_model), source, tmp_path / "ref.json", format="label-studio", batch_size=2)
    calls = []

    def interrupting(fields, entities):
        calls.append(1)
        if len(calls) == 9:
            raise Interrupted(15)
        return record_json(fields, entities)

    monkeypatch.setattr("spacy_bert_ner.inference.output.record_json", interrupting)
    out = tmp_path / "out.json"
    with pytest.raises(Interrupted):
        predict(str(scored_model), source, out, format="label-studio", batch_size=2)
    assert not out.exists() and part_paths(out)[0].exists()
    monkeypatch.undo()
    summary = predict(str(scored_model), source, out, format="label-studio", batch_size=2, resume=True)
    assert summary.resumed == 8 and out.read_bytes() == (tmp_path / "ref.json").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "out.json", "ref.json"]


def test_predict_rejects_an_unknown_format(scored_model, tmp_path):
    with pytest.raises(UserError, match="--format 'brat'"):
        predict(str(scored_model), source_file(tmp_path / "in.jsonl"), tmp_path / "o", format="brat")


def test_predict_cli_takes_format(tmp_path):
    nlp = spacy.blank("xx")  # the command runs in a process of its own, without the test's scorer
    nlp.add_pipe("entity_ruler").add_patterns([{"label": "PER", "pattern": "Søren Kierkegaard"},
                                               {"label": "LOC", "pattern": "Aarhus"}])
    nlp.to_disk(tmp_path / "model")
    source = source_file(tmp_path / "in.jsonl", 3)
    result = run_cli("predict", tmp_path / "model", source, tmp_path / "out.jsonl", "--format", "doccano")
    assert result.returncode == 0, result.stderr
    assert [len(r["label"]) for r in read_output(tmp_path / "out.jsonl", "doccano")] == [2, 4, 6]


def accept_predictions(tasks):
    """What an annotator who submits each pre-annotation unchanged leaves in a Label Studio export."""
    return [{"id": i + 1, "data": task["data"], "predictions": task["predictions"],
             "annotations": [{"id": i + 1, "result": task["predictions"][0]["result"], "was_cancelled": False,
                              "ground_truth": False, "created_at": "2024-06-01T10:00:00Z"}]}
            for i, task in enumerate(tasks)]


@pytest.mark.parametrize("tool", ["label-studio", "prodigy", "doccano"])
def test_predict_format_output_converts_back_to_the_same_entities(scored_model, tmp_path, tool):
    source = source_file(tmp_path / "in.jsonl", 6)
    predict(str(scored_model), source, tmp_path / "plain.jsonl")
    out = tmp_path / "pre.json"
    predict(str(scored_model), source, out, format=tool)
    if tool == "label-studio":
        out.write_text(json.dumps(accept_predictions(read_output(out, tool)), ensure_ascii=False), encoding="utf8")
    nlp = spacy.load(scored_model)
    docs, report = read_corpus(out, nlp, format=tool)  # a Prodigy task file has no answers to detect it by
    assert report.format == tool and len(docs) == 6
    plain = read_output(tmp_path / "plain.jsonl", "jsonl")
    assert [[(e.start_char, e.end_char, e.label_) for e in doc.ents] for doc in docs] == [
        [(e["start"], e["end"], e["label"]) for e in record["entities"]] for record in plain]


# A real Label Studio --------------------------------------------------------------------------------

LS_ENV = "SPACY_BERT_NER_INTEGRATION"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def label_studio_server(tmp_path):
    """`label-studio start` on a loopback port with its own data folder, user and token.

    LABEL_STUDIO_BIN names the executable (default: `label-studio` on PATH); install it with
    `pip install label-studio`, in a virtual environment of its own if its pins clash with ours."""
    binary = os.environ.get("LABEL_STUDIO_BIN") or shutil.which("label-studio")
    if not binary:
        pytest.skip("no label-studio executable: pip install label-studio, or set LABEL_STUDIO_BIN")
    import requests

    port, token = free_port(), "0123456789abcdef0123456789abcdef01234567"
    env = {**os.environ, "LABEL_STUDIO_BASE_DATA_DIR": str(tmp_path / "ls-data"), "LABEL_STUDIO_USERNAME": "ner@example.com",
           "LABEL_STUDIO_PASSWORD": "not-a-secret-42", "LABEL_STUDIO_USER_TOKEN": token,
           "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true", "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
           "DJANGO_DB": "sqlite", "SENTRY_DSN": "", "FRONTEND_SENTRY_DSN": ""}
    log = (tmp_path / "ls.log").open("w")
    server = subprocess.Popen([binary, "start", "--no-browser", "--internal-host", "127.0.0.1", "--port", str(port),
                               "--enable-legacy-api-token"],
                              env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 600
        while time.time() < deadline:
            if server.poll() is not None:
                pytest.fail(f"label-studio exited with {server.returncode}: {(tmp_path / 'ls.log').read_text()[-3000:]}")
            try:
                if requests.get(f"{url}/health", timeout=5).ok:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(2)
        else:
            pytest.fail("label-studio did not answer within 10 minutes")
        yield url, {"Authorization": f"Token {token}"}
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.mark.integration
@pytest.mark.skipif(not os.environ.get(LS_ENV), reason=f"starts a real Label Studio: set {LS_ENV}=1")
def test_label_studio_imports_predictions_and_its_export_converts_back(label_studio_server, scored_model, tmp_path):
    """predict --format label-studio -> a new NER project -> import -> each pre-annotation submitted as
    the annotation -> JSON export -> convert: the entities predict found."""
    import requests

    from spacy_bert_ner.readers.annotation_tools import label_studio_config

    url, headers = label_studio_server
    source = source_file(tmp_path / "in.jsonl", 5)
    predict(str(scored_model), source, tmp_path / "plain.jsonl")
    tasks_file = tmp_path / "tasks.json"
    predict(str(scored_model), source, tasks_file, format="label-studio")
    response = requests.post(f"{url}/api/projects/", headers=headers, timeout=60, json={
        "title": "NER review", "label_config": label_studio_config(["PER", "LOC"])})
    assert response.status_code == 201, response.text
    project = response.json()["id"]
    response = requests.post(f"{url}/api/projects/{project}/import", headers=headers, timeout=120,
                             json=json.loads(tasks_file.read_text(encoding="utf8")))
    assert response.status_code == 201, response.text
    predictions = requests.get(f"{url}/api/predictions/", headers=headers, timeout=60, params={"project": project}).json()
    predictions = predictions["results"] if isinstance(predictions, dict) else predictions
    assert len(predictions) == 5
    for prediction in predictions:  # an annotator submits each pre-annotation unchanged
        assert prediction["model_version"] == "xx_news_ner-0.2.0" and prediction["score"] == 0.35
        response = requests.post(f"{url}/api/tasks/{prediction['task']}/annotations/", headers=headers, timeout=60,
                                 json={"result": prediction["result"], "was_cancelled": False})
        assert response.status_code == 201, response.text
    response = requests.get(f"{url}/api/projects/{project}/export", headers=headers, timeout=120,
                            params={"exportType": "JSON"})
    assert response.status_code == 200, response.text
    export = tmp_path / "export.json"
    export.write_bytes(response.content)
    docs, report = read_corpus(export, spacy.load(scored_model))
    assert report.format == "label-studio" and not report.skipped
    plain = read_output(tmp_path / "plain.jsonl", "jsonl")
    by_text = {doc.text: [(e.start_char, e.end_char, e.label_) for e in doc.ents] for doc in docs}
    assert by_text == {record["text"]: [(e["start"], e["end"], e["label"]) for e in record["entities"]]
                       for record in plain}
