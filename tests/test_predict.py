"""Batch prediction: input shapes, malformed lines, exact offsets, atomic output, the CLI."""
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import spacy
from spacy.training import Example

from spacy_bert_ner.errors import UserError
from spacy_bert_ner.inference.loading import load_pipeline
from spacy_bert_ner.inference.output import record_json
from spacy_bert_ner.inference.predict import predict
from spacy_bert_ner.inference.resume import input_fingerprint, part_paths
from spacy_bert_ner.inference.signals import Interrupted

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
        {"start": 0, "end": 17, "label": "PER", "text": "Søren Kierkegaard", "score": None},
        {"start": 26, "end": 32, "label": "LOC", "text": "Aarhus", "score": None},
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

    def fail(fields, entities):
        raise RuntimeError("disk full")

    monkeypatch.setattr("spacy_bert_ner.inference.output.record_json", fail)
    with pytest.raises(RuntimeError):
        predict(str(model), tmp_path / "in.txt", tmp_path / "out.jsonl")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt", "out.jsonl"]  # part file removed
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


def test_json_that_cannot_be_written_back_is_skipped(model, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join([
        '{"text": "Aarhus", "x": NaN}',                 # 1: not JSON, and not writable as JSON
        '{"text": "Aarhus", "x": 1e999}',               # 2: infinite
        '{"text": "Aarhus", "x": ' + "9" * 5000 + '}',  # 3: more digits than Python converts
        "[" * 100_000,                                   # 4: nested too deeply
        '{"text": "Aarhus \\ud800"}',                   # 5: an unpaired surrogate
        '{"text": "\\ud83d\\ude00 Aarhus"}',            # 6: a pair: one character, kept
    ]), encoding="utf8")
    summary = predict(str(model), src, tmp_path / "out.jsonl")
    assert [m.split(": ")[0] for m in summary.skipped] == [f"{src}:{n}" for n in range(1, 6)]
    assert "nested too deeply" in summary.skipped[3] and "surrogate" in summary.skipped[4]
    (record,) = read_jsonl(tmp_path / "out.jsonl")
    assert record["text"] == "\U0001F600 Aarhus" and entities(record) == [("Aarhus", "LOC")]
    assert_offsets_exact(record)


def long_document(n_sentences: int) -> str:
    return "".join(f"Søren Kierkegaard {i} boede i Aarhus. " for i in range(n_sentences))


def test_document_over_max_length_is_split_not_fatal(model, tmp_path, capsys):
    """The E088 case: a document longer than the pipeline's max_length ends no run."""
    nlp = load_pipeline(str(model))
    nlp.max_length = 2000
    text = long_document(100)  # 3,690 characters
    (tmp_path / "in.txt").write_text(f"Aarhus\n{text}\nMoskva og Москва\n", encoding="utf8")
    summary = predict(nlp, tmp_path / "in.txt", tmp_path / "out.jsonl")
    out = read_jsonl(tmp_path / "out.jsonl")
    assert [len(r["entities"]) for r in out] == [1, 200, 1]
    assert_offsets_exact(out[1])
    whole = spacy.blank("xx")
    whole.add_pipe("entity_ruler").add_patterns(PATTERNS)
    assert [(e["start"], e["end"]) for e in out[1]["entities"]] == [(e.start_char, e.end_char) for e in whole(text).ents]
    assert (summary.docs, summary.split, summary.too_long) == (3, 1, [])
    assert "Ran 1 documents longer than 2,000 characters as overlapping pieces" in capsys.readouterr().out


@pytest.mark.parametrize("n_process", [1, 2])
def test_split_documents_get_the_entities_of_a_whole_run(model, tmp_path, n_process):
    lines = [json.dumps({"n": i, "text": long_document(i % 13)}) for i in range(30)]
    (tmp_path / "in.jsonl").write_text("\n".join(lines), encoding="utf8")
    predict(str(model), tmp_path / "in.jsonl", tmp_path / "whole.jsonl")
    summary = predict(str(model), tmp_path / "in.jsonl", tmp_path / "split.jsonl", split_chars=150,
                      batch_size=4, n_process=n_process)
    assert read_jsonl(tmp_path / "split.jsonl") == read_jsonl(tmp_path / "whole.jsonl")
    assert summary.split == sum(len(long_document(i % 13)) > 150 for i in range(30))


def test_max_chars_skips_long_documents_and_counts_them_by_line(model, tmp_path, capsys):
    src = tmp_path / "in.txt"
    src.write_text(f"Aarhus\n{long_document(3)}\nAarhus\n", encoding="utf8")
    summary = predict(str(model), src, tmp_path / "out.jsonl", max_chars=50)
    assert [r["text"] for r in read_jsonl(tmp_path / "out.jsonl")] == ["Aarhus", "Aarhus"]
    assert summary.too_long == [f"{src}:2: 108 characters, above --max-chars 50"]
    captured = capsys.readouterr()
    assert f"Skipped {src}:2: 108 characters" in captured.err
    assert "Skipped 1 documents longer than --max-chars 50" in captured.out
    with pytest.raises(UserError, match="all 3 records were skipped"):
        predict(str(model), src, tmp_path / "none.jsonl", max_chars=5, split_chars=100)
    assert not list(tmp_path.glob("*none*"))


def interrupt_at(monkeypatch, call: int, signum=signal.SIGTERM):
    """Make the `call`-th output record raise Interrupted, as a signal during the run would."""
    calls = []
    real = record_json

    def interrupting(fields, entities):
        calls.append(1)
        if len(calls) == call:
            raise Interrupted(signum)
        return real(fields, entities)

    monkeypatch.setattr("spacy_bert_ner.inference.output.record_json", interrupting)


def mixed_input(path: Path) -> None:
    """JSONL with malformed lines before and after the interruption, and long documents."""
    lines = []
    for i in range(60):
        lines.append("{broken" if i % 9 == 4 else json.dumps({"n": i, "text": long_document(i % 7)}))
    path.write_text("\n".join(lines) + "\n", encoding="utf8")


@pytest.mark.parametrize("n_process", [1, 2])
def test_interrupted_run_keeps_its_part_file_and_resume_completes_it(model, tmp_path, monkeypatch,
                                                                     capsys, n_process):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    mixed_input(src)
    settings = {"split_chars": 120, "max_chars": 200, "batch_size": 2, "n_process": n_process}
    reference = predict(str(model), src, tmp_path / "ref.jsonl", **settings)
    capsys.readouterr()
    interrupt_at(monkeypatch, 25)
    with pytest.raises(Interrupted):
        predict(str(model), src, out, **settings)
    part, sidecar = part_paths(out)
    assert not out.exists() and part.exists() and sidecar.exists()
    assert len(part.read_text(encoding="utf8").splitlines()) == 24
    message = " ".join(capsys.readouterr().out.split())
    assert f"Interrupted by SIGTERM after 24 documents; {out} was not written" in message
    assert f"kept in {part}: rerun the same command with --resume" in message
    with part.open("a", encoding="utf8") as f:
        f.write('{"n": 99, "text": "killed mid-wri')  # a kill during a write leaves half a line
    monkeypatch.undo()
    with pytest.raises(UserError, match="pass --resume to continue it"):
        predict(str(model), src, out, **settings)
    summary = predict(str(model), src, out, resume=True, **settings)
    assert out.read_bytes() == (tmp_path / "ref.jsonl").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "out.jsonl", "ref.jsonl"]
    assert summary.resumed == 24
    for name in ("docs", "entities", "skipped", "too_long", "split"):
        assert getattr(summary, name) == getattr(reference, name), name


def test_resume_refuses_another_input_or_settings(model, tmp_path, monkeypatch):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    mixed_input(src)
    interrupt_at(monkeypatch, 10)
    with pytest.raises(Interrupted):
        predict(str(model), src, out, batch_size=2)
    monkeypatch.undo()
    with pytest.raises(UserError, match="another --max-chars"):
        predict(str(model), src, out, resume=True, max_chars=100)
    lines = src.read_text(encoding="utf8").split("\n")
    lines[2] = json.dumps({"n": 2, "text": "Aarhus"})
    src.write_text("\n".join(lines), encoding="utf8")
    with pytest.raises(UserError, match=r"another input \(size, first MB\)"):
        predict(str(model), src, out, resume=True)
    part, sidecar = part_paths(out)
    sidecar.write_text(json.dumps({**json.loads(sidecar.read_text()), "input": input_fingerprint(src)}))
    with pytest.raises(UserError, match=r"\.part:3: does not belong to this input \(.*in.jsonl:3 holds another"):
        predict(str(model), src, out, resume=True)
    assert part.exists() and not out.exists()  # the earlier run's documents are never deleted


@pytest.mark.slow
def test_resume_refuses_another_cpu_inference(trained, tmp_path, monkeypatch):
    """Scores depend on the encoder's arithmetic: one OUTPUT is never written with two."""
    src, out = tmp_path / "in.txt", tmp_path / "out.jsonl"
    src.write_text("Mette Frederiksen bor i Aarhus.\n" * 8, encoding="utf8")
    interrupt_at(monkeypatch, 3)
    with pytest.raises(Interrupted):
        predict(str(trained), src, out, batch_size=2, cpu_inference="int8")
    monkeypatch.undo()
    with pytest.raises(UserError, match=r"another --cpu-inference \(int8, now None\)"):
        predict(str(trained), src, out, resume=True, batch_size=2)
    summary = predict(str(trained), src, out, resume=True, batch_size=2, cpu_inference="int8")
    assert summary.resumed == 2 and len(read_jsonl(out)) == 8


def test_interrupted_before_any_document_leaves_nothing(model, tmp_path, monkeypatch, capsys):
    (tmp_path / "in.txt").write_text("Aarhus\nAarhus\n", encoding="utf8")
    interrupt_at(monkeypatch, 1, signal.SIGINT)
    with pytest.raises(Interrupted) as stop:
        predict(str(model), tmp_path / "in.txt", tmp_path / "out.jsonl")
    assert stop.value.signum == signal.SIGINT
    assert [p.name for p in tmp_path.iterdir()] == ["in.txt"]
    assert "Interrupted by SIGINT before any document was done" in " ".join(capsys.readouterr().out.split())
    monkeypatch.undo()
    predict(str(model), tmp_path / "in.txt", tmp_path / "out.jsonl", resume=True)
    assert "No part file" in capsys.readouterr().out
    assert len(read_jsonl(tmp_path / "out.jsonl")) == 2


@pytest.mark.slow
def test_cli_text_line_over_a_million_characters(model, tmp_path):
    """The issue's case: a line of 1,080,000 characters used to end the run with E088."""
    line = "Jeg bor i Aarhus. " * 60_000
    (tmp_path / "in.txt").write_text(f"Aarhus\n{line}\nAarhus\n", encoding="utf8")
    result = subprocess.run([sys.executable, "-m", "spacy_bert_ner", "predict", str(model),
                             str(tmp_path / "in.txt"), str(tmp_path / "out.jsonl")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    out = read_jsonl(tmp_path / "out.jsonl")
    assert [len(r["entities"]) for r in out] == [1, 60_000, 1]
    assert [e["start"] for e in out[1]["entities"]] == [18 * i + 10 for i in range(60_000)]
    assert "Ran 1 documents longer than 1,000,000 characters" in " ".join(result.stdout.split())


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM], ids=["SIGTERM"])
def test_signal_stops_the_cli_with_a_message_and_resume_finishes_it(trained, demo_dir, tmp_path, signum):
    """SIGTERM, what kill and schedulers send; SIGINT takes the same handler (its message and
    status are asserted in process by test_interrupted_before_any_document_leaves_nothing)."""
    sentences = [line[len("# text = "):] for line in (demo_dir / "test.iob2").read_text(encoding="utf8").splitlines()
                 if line.startswith("# text = ")]
    src = tmp_path / "in.txt"
    src.write_text("".join(sentences[i % len(sentences)] + "\n" for i in range(1000)), encoding="utf8")
    out = tmp_path / "out" / "pred.jsonl"
    part, sidecar = part_paths(out)
    command = [sys.executable, "-m", "spacy_bert_ner", "predict", str(trained), str(src), str(out), "-b", "16"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while not (part.exists() and part.stat().st_size > 0):  # the first documents are written
        assert process.poll() is None, process.communicate()
        time.sleep(0.02)
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 128 + signum, stderr
    assert "Traceback" not in stderr
    message = " ".join(stdout.split())
    done = int(re.search(rf"Interrupted by {signum.name} after (\d+) documents; {re.escape(str(out))} was "
                         rf"not written\. The \d+ documents are kept in {re.escape(str(part))}: rerun the same "
                         r"command with --resume to continue\.", message).group(1))
    assert sorted(p.name for p in out.parent.iterdir()) == [part.name, sidecar.name]  # no OUTPUT
    assert 0 < done == len(part.read_bytes().splitlines()) < 1000

    resumed = subprocess.run(command + ["--resume"], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert "Wrote 1000 documents" in resumed.stdout and f"({done} of them read back" in " ".join(resumed.stdout.split())
    assert [p.name for p in out.parent.iterdir()] == ["pred.jsonl"]
    predict(str(trained), src, tmp_path / "whole.jsonl", batch_size=16)
    assert_same_predictions(read_jsonl(out), read_jsonl(tmp_path / "whole.jsonl"))


def assert_same_predictions(got, expected):
    """The same records and entities in the same order, scores equal to float noise: the resumed
    run batches its documents from another offset, and padding a document beside others moves
    the encoder's output in the last digits."""
    assert len(got) == len(expected)
    for mine, theirs in zip(got, expected):
        assert without_scores(mine) == without_scores(theirs)
        assert [e["score"] for e in mine["entities"]] == pytest.approx([e["score"] for e in theirs["entities"]],
                                                                        abs=1e-4)


def without_scores(record):
    return {**record, "entities": [{**e, "score": None} for e in record["entities"]]}


def test_min_score_needs_a_scoring_pipeline(tmp_path, model):
    """A rule-based pipeline scores nothing: --min-score stops with what to do, before any output."""
    source = tmp_path / "in.txt"
    source.write_text("Søren Kierkegaard bor i Aarhus.\n", encoding="utf8")
    with pytest.raises(UserError, match="--min-score needs entity scores"):
        predict(str(model), source, tmp_path / "out.jsonl", min_score=0.5)
    assert not (tmp_path / "out.jsonl").exists() and not list(tmp_path.glob(".out.jsonl*"))


@pytest.mark.slow
def test_scores_in_the_output_and_min_score_leaves_out_the_low_ones(tmp_path, trained):
    """Each entity carries the pipeline's score; --min-score keeps exactly those at or above it."""
    import spacy

    spacy.load(trained).to_disk(tmp_path / "scored")  # the configs' pipeline scores its entities
    source = tmp_path / "in.txt"
    source.write_text("\n".join(["Mette Frederiksen besøgte Novo Nordisk i Kalundborg.",
                                  "Anna bor i Aarhus og arbejder hos Lego.", "Peter mødte Maria i Odense."]) + "\n",
                      encoding="utf8")
    predict(str(tmp_path / "scored"), source, tmp_path / "all.jsonl")
    every = [e for line in (tmp_path / "all.jsonl").read_text().splitlines() for e in json.loads(line)["entities"]]
    assert every and all(0.0 <= e["score"] <= 1.0 for e in every)
    threshold = sorted(e["score"] for e in every)[len(every) // 2]
    summary = predict(str(tmp_path / "scored"), source, tmp_path / "high.jsonl", min_score=threshold)
    high = [e for line in (tmp_path / "high.jsonl").read_text().splitlines() for e in json.loads(line)["entities"]]
    assert high == [e for e in every if e["score"] >= threshold]
    assert summary.below_min_score == len(every) - len(high) > 0
