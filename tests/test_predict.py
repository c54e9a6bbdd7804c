"""Batch prediction: input shapes, malformed lines, exact offsets, atomic output, the CLI."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
from spacy.training import Example

from spacy_bert_ner.errors import UserError
from spacy_bert_ner.predict import load_pipeline, predict

PATTERNS = [
    {"label": "PER", "pattern": "Søren Kierkegaard"},
    {"label": "LOC", "pattern": "Aarhus"},
    {"label": "LOC", "pattern": "Αθήνα"},
    {"label": "LOC", "pattern": "Москва"},
    {"label": "ORG", "pattern": "Ærø Øl"},
]


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    """A blank multi-language pipeline with an entity ruler, saved like a trained model."""
    nlp = spacy.blank("xx")
    nlp.add_pipe("entity_ruler").add_patterns(PATTERNS)
    path = tmp_path_factory.mktemp("ruler") / "model"
    nlp.to_disk(path)
    return path


@pytest.fixture(scope="module")
def zh_model(tmp_path_factory) -> Path:
    """Chinese with character segmentation: entities inside text without spaces."""
    nlp = spacy.blank("zh")
    nlp.add_pipe("entity_ruler").add_patterns([{"label": "LOC", "pattern": "北京"},
                                               {"label": "PER", "pattern": "李白"}])
    path = tmp_path_factory.mktemp("zh") / "model"
    nlp.to_disk(path)
    return path


def read_jsonl(path: Path):
    return [json.loads(line) for line in path.read_text(encoding="utf8").splitlines()]


def entities(record):
    return [(e["text"], e["label"]) for e in record["entities"]]


def assert_offsets_exact(record):
    for ent in record["entities"]:
        assert record["text"][ent["start"]:ent["end"]] == ent["text"]


def test_plain_text_one_document_per_line_blank_lines_kept(model, tmp_path):
    (tmp_path / "in.txt").write_text("Søren Kierkegaard boede i Aarhus.\n\nIngen navne her.\r\n",
                                     encoding="utf8")
    summary = predict(str(model), tmp_path / "in.txt", tmp_path / "out.jsonl")
    out = read_jsonl(tmp_path / "out.jsonl")
    assert [r["text"] for r in out] == ["Søren Kierkegaard boede i Aarhus.", "", "Ingen navne her."]
    assert out[0]["entities"] == [
        {"start": 0, "end": 17, "label": "PER", "text": "Søren Kierkegaard"},
        {"start": 26, "end": 32, "label": "LOC", "text": "Aarhus"},
    ]
    assert (summary.docs, summary.entities, summary.skipped) == (3, 2, [])


def test_jsonl_passes_fields_through(model, tmp_path):
    lines = [{"id": 7, "text": "Ærø Øl i Aarhus", "meta": {"src": "x"}}, {"text": "intet", "id": 8}]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf8")
    predict(str(model), tmp_path / "in.jsonl", tmp_path / "out.jsonl")
    out = read_jsonl(tmp_path / "out.jsonl")
    assert [(r["id"], r.get("meta")) for r in out] == [(7, {"src": "x"}), (8, None)]
    assert entities(out[0]) == [("Ærø Øl", "ORG"), ("Aarhus", "LOC")]
    assert out[1]["entities"] == []


def test_malformed_lines_reported_with_line_numbers_and_skipped(model, tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    src.write_bytes(b'{"text": "Aarhus", "id": 1}\n'
                    b'{"text": "Aarhus"\n'          # 2: bad JSON
                    b'\n'                           # 3: blank, no record
                    b'{"body": "Aarhus"}\n'         # 4: no text field
                    b'{"text": 5}\n'                # 5: text not a string
                    b'["Aarhus"]\n'                 # 6: not an object
                    b'{"text": "\xff Aarhus"}\n'    # 7: not UTF-8
                    b'{"text": "Aarhus", "id": 8}\n')
    summary = predict(str(model), src, tmp_path / "out.jsonl")
    assert [r["id"] for r in read_jsonl(tmp_path / "out.jsonl")] == [1, 8]
    assert [m.split(": ")[0] for m in summary.skipped] == [f"{src}:{n}" for n in (2, 4, 5, 6, 7)]
    assert "no 'text' field (fields: body)" in summary.skipped[1]
    captured = capsys.readouterr()
    assert f"{src}:4: no 'text' field" in captured.err
    assert "Skipped 5 malformed records" in captured.out


def test_all_lines_malformed_is_an_error_and_leaves_no_output(model, tmp_path):
    (tmp_path / "in.jsonl").write_text('{"body": "x"}\n{"body": "y"}\n', encoding="utf8")
    with pytest.raises(UserError, match="all 2 records were skipped"):
        predict(str(model), tmp_path / "in.jsonl", tmp_path / "out.jsonl")
    assert list(tmp_path.iterdir()) == [tmp_path / "in.jsonl"]


@pytest.mark.parametrize("name", ["in.txt", "in.jsonl"])
def test_empty_input_writes_empty_output(model, tmp_path, name):
    (tmp_path / name).write_text("", encoding="utf8")
    summary = predict(str(model), tmp_path / name, tmp_path / "out" / "pred.jsonl")
    assert (tmp_path / "out" / "pred.jsonl").read_text() == ""
    assert summary.docs == 0
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["pred.jsonl"]


def test_folder_of_txt_files_passes_file_name(model, tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "b.txt").write_text("Москва\nи Αθήνα\n", encoding="utf8")
    (folder / "a.txt").write_text("\ufeffAarhus", encoding="utf8")
    (folder / "notes.md").write_text("Aarhus", encoding="utf8")
    (folder / "bad.txt").write_bytes(b"\xff\xfe Aarhus")
    summary = predict(str(model), folder, tmp_path / "out.jsonl")
    out = read_jsonl(tmp_path / "out.jsonl")
    assert [(r["file"], entities(r)) for r in out] == [
        ("a.txt", [("Aarhus", "LOC")]), ("b.txt", [("Москва", "LOC"), ("Αθήνα", "LOC")])]
    assert out[1]["text"] == "Москва\nи Αθήνα\n"
    assert len(summary.skipped) == 1 and summary.skipped[0].startswith(str(folder / "bad.txt"))


def test_offsets_are_code_points_in_non_latin_text(model, zh_model, tmp_path):
    texts = ["Ærø Øl købte øl hos Søren Kierkegaard",
             "Η Αθήνα και η Μόσχα", "Москва — столица", "🎉🎉 Søren Kierkegaard, e\u0301 Aarhus"]
    (tmp_path / "in.txt").write_text("\n".join(texts), encoding="utf8")
    predict(str(model), tmp_path / "in.txt", tmp_path / "out.jsonl")
    out = read_jsonl(tmp_path / "out.jsonl")
    for record in out:
        assert_offsets_exact(record)
    assert [(e["start"], e["end"]) for e in out[0]["entities"]] == [(0, 6), (20, 37)]
    assert [(e["start"], e["end"]) for e in out[1]["entities"]] == [(2, 7)]
    assert [(e["start"], e["end"]) for e in out[2]["entities"]] == [(0, 6)]
    assert [(e["start"], e["end"]) for e in out[3]["entities"]] == [(3, 20), (25, 31)]

    (tmp_path / "zh.txt").write_text("李白住在北京。", encoding="utf8")
    predict(str(zh_model), tmp_path / "zh.txt", tmp_path / "zh.jsonl")
    (record,) = read_jsonl(tmp_path / "zh.jsonl")
    assert [(e["start"], e["end"], e["text"]) for e in record["entities"]] == [(0, 2, "李白"), (4, 6, "北京")]
    assert "李白" in (tmp_path / "zh.jsonl").read_text(encoding="utf8")  # not \\u escaped


def test_several_processes_keep_order_and_fields(model, tmp_path):
    lines = [json.dumps({"n": i, "text": f"{i} Aarhus"}) for i in range(40)]
    (tmp_path / "in.jsonl").write_text("\n".join(lines), encoding="utf8")
    predict(str(model), tmp_path / "in.jsonl", tmp_path / "out.jsonl", batch_size=4, n_process=2)
    out = read_jsonl(tmp_path / "out.jsonl")
    assert [r["n"] for r in out] == list(range(40))
    assert all(entities(r) == [("Aarhus", "LOC")] for r in out)


def test_length_sorted_batches_keep_input_order_across_windows(model, tmp_path):
    """Documents are batched by length within windows (batch_size x 16); output keeps input order."""
    lengths = [(i * 37) % 23 for i in range(100)]  # mixed lengths, not sorted
    lines = [json.dumps({"n": i, "text": "x " * n + "Aarhus"}) for i, n in enumerate(lengths)]
    lines.insert(50, "{broken")
    (tmp_path / "in.jsonl").write_text("\n".join(lines), encoding="utf8")
    summary = predict(str(model), tmp_path / "in.jsonl", tmp_path / "out.jsonl", batch_size=2)
    out = read_jsonl(tmp_path / "out.jsonl")
    assert [r["n"] for r in out] == list(range(100))
    assert [r["text"] for r in out] == ["x " * n + "Aarhus" for n in lengths]
    assert all(entities(r) == [("Aarhus", "LOC")] and r["entities"][0]["start"] == 2 * n
               for r, n in zip(out, lengths))
    assert len(summary.skipped) == 1 and ":51:" in summary.skipped[0]


def test_existing_output_untouched_when_run_fails(model, tmp_path, monkeypatch):
    (tmp_path / "in.txt").write_text("Aarhus\nAarhus\n", encoding="utf8")
    (tmp_path / "out.jsonl").write_text("old\n", encoding="utf8")

    def fail(doc, fields):
        raise KeyboardInterrupt

    monkeypatch.setattr("spacy_bert_ner.predict.doc_to_json", fail)
    with pytest.raises(KeyboardInterrupt):
        predict(str(model), tmp_path / "in.txt", tmp_path / "out.jsonl")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt", "out.jsonl"]
    assert (tmp_path / "out.jsonl").read_text() == "old\n"


def test_missing_model_input_and_json_input_are_user_errors(model, tmp_path):
    (tmp_path / "in.txt").write_text("Aarhus\n", encoding="utf8")
    (tmp_path / "in.json").write_text('[{"text": "Aarhus"}]', encoding="utf8")
    with pytest.raises(UserError, match="Model not found"):
        predict(str(tmp_path / "nope"), tmp_path / "in.txt", tmp_path / "out.jsonl")
    with pytest.raises(UserError, match="no config.cfg"):
        predict(str(tmp_path), tmp_path / "in.txt", tmp_path / "out.jsonl")
    with pytest.raises(UserError, match="Input not found"):
        predict(str(model), tmp_path / "missing.txt", tmp_path / "out.jsonl")
    with pytest.raises(UserError, match="rename it to .jsonl"):
        predict(str(model), tmp_path / "in.json", tmp_path / "out.jsonl")


def test_cli_reports_user_error_without_traceback(tmp_path):
    (tmp_path / "in.txt").write_text("Aarhus\n", encoding="utf8")
    result = subprocess.run([sys.executable, "-m", "spacy_bert_ner", "predict", str(tmp_path / "nope"),
                             str(tmp_path / "in.txt"), str(tmp_path / "out.jsonl")],
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: Model not found") and "Traceback" not in result.stderr


def test_transformer_pipeline_gets_doc_cleaner(tiny_transformer, tmp_path):
    nlp = spacy.blank("da")
    nlp.add_pipe("transformer", config={"model": {"name": str(tiny_transformer)}})
    ruler = nlp.add_pipe("entity_ruler")
    nlp.initialize(lambda: [Example.from_dict(nlp.make_doc("Jeg bor i Aarhus"), {})])
    ruler.add_patterns([{"label": "LOC", "pattern": "Aarhus"}])  # initialize() clears patterns
    nlp.to_disk(tmp_path / "model")
    loaded = load_pipeline(str(tmp_path / "model"))
    assert loaded.pipe_names[-1] == "doc_cleaner"
    assert loaded("Jeg bor i Aarhus")._.trf_data is None
    (tmp_path / "in.txt").write_text("Jeg bor i Aarhus\nog du?\n", encoding="utf8")
    predict(str(tmp_path / "model"), tmp_path / "in.txt", tmp_path / "out.jsonl")
    assert [entities(r) for r in read_jsonl(tmp_path / "out.jsonl")] == [[("Aarhus", "LOC")], []]
