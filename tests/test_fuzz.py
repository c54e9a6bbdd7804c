"""Fuzzing predict and convert with hostile input: never a traceback, every record accounted for.

A fixed seed (derandomize) and a bounded number of examples keep a run short; set FUZZ_EXAMPLES
for a longer search, e.g. FUZZ_EXAMPLES=1000 python -m pytest tests/test_fuzz.py.
"""
import json
import os
import tempfile
from pathlib import Path

import pytest
import spacy
from hypothesis import HealthCheck, given, settings, strategies as st
from spacy.tokens import DocBin

from spacy_bert_ner.errors import UserError
from spacy_bert_ner.inference.loading import load_pipeline
from spacy_bert_ner.inference.predict import predict
from spacy_bert_ner.readers.convert import convert

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "30"))
FUZZ = settings(derandomize=True, max_examples=EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Text that breaks naive code: line separators str.splitlines() splits at, NUL, CR, combining
# marks, astral characters, right-to-left and CJK script, lone full stops.
HOSTILE = "ab Aarhus Москва 李白住在北京。\u2028\u2029\x85\x0b\x0c\x1c\x00\r\t \u0301\U0001F600\u05d0.!?#-\ufeff"
TEXT = st.one_of(st.text(alphabet=HOSTILE, max_size=60), st.text(max_size=20),
                 st.builds(lambda word, n: (word + " ") * n, st.sampled_from(["Aarhus", "x", "Hansen."]),
                           st.integers(0, 300)),
                 st.just("y" * 3000))  # one very long token
JSON_VALUE = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
                          | st.text(alphabet=HOSTILE, max_size=10),
                          lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                          max_leaves=8)
SPECIAL_JSON_LINES = [b'{"text": "Aarhus", "x": NaN}', b'{"text": "a", "n": 1e999}', b"[" * 5000,
                      b'{"text": "a", "n": ' + b"9" * 5000 + b"}", b'{"text": "\\ud800 Aarhus"}',
                      b'{"text": "\\ud83d\\ude00 Aarhus"}', b'{"text": "a"', b"{}", b'{"text": null}']


def json_line():
    record = st.builds(lambda text, extra: json.dumps({**extra, "text": text}, ensure_ascii=False),
                       TEXT, st.dictionaries(st.sampled_from(["id", "entities", "meta"]), JSON_VALUE, max_size=2))
    return st.one_of(record.map(lambda line: line.encode("utf8")),
                     JSON_VALUE.map(lambda value: json.dumps(value).encode("utf8")),
                     st.sampled_from(SPECIAL_JSON_LINES), st.binary(max_size=30))


def text_line():
    return st.one_of(TEXT.map(lambda text: text.replace("\n", " ").encode("utf8")), st.binary(max_size=30))


@st.composite
def input_file(draw, line):
    lines = draw(st.lists(line, max_size=12))
    endings = draw(st.lists(st.sampled_from([b"\n", b"\r\n", b"\r\r\n"]), min_size=len(lines), max_size=len(lines)))
    data = b"".join(text + end for text, end in zip(lines, endings))
    if lines and draw(st.booleans()):
        data = data[:-len(endings[-1])]  # no newline at the end
    return (b"\xef\xbb\xbf" if draw(st.booleans()) else b"") + data


def record_lines(data: bytes, jsonl: bool):
    """(line number, raw line) of each line that holds a record, by the documented rules."""
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    for number, raw in enumerate(lines, 1):
        raw = raw[3:] if number == 1 and raw.startswith(b"\xef\xbb\xbf") else raw
        raw = raw.rstrip(b"\r\n")
        try:
            blank = not raw.decode("utf8").strip()
        except UnicodeDecodeError:
            blank = False
        if not (jsonl and blank):
            yield number, raw


def line_number(message: str, path: Path) -> int:
    assert message.startswith(f"{path}:"), message
    return int(message[len(str(path)) + 1:].split(":")[0])


@pytest.fixture(scope="module")
def nlp(trained):
    """The tiny pipeline with [CLS] ... [SEP] around each span, as real BERT tokenizers add them.

    The tiny tokenizer adds none, so a batch of whitespace-only documents has no wordpiece at
    all, on which spacy-transformers 1.4 fails (ValueError: Buffer has wrong number of
    dimensions); with special tokens every span has some, as with any pretrained encoder.
    """
    from tokenizers.processors import TemplateProcessing

    nlp = load_pipeline(str(trained))
    tokenizer = nlp.get_pipe("transformer").model.tokenizer
    tokenizer.backend_tokenizer.post_processor = TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[(t, tokenizer.convert_tokens_to_ids(t)) for t in ("[CLS]", "[SEP]")])
    return nlp


@pytest.mark.slow
@FUZZ
@given(st.data())
def test_predict_accounts_for_every_record_on_any_input(nlp, data):
    jsonl = data.draw(st.booleans(), label="jsonl")
    content = data.draw(input_file(json_line() if jsonl else text_line()), label="content")
    split_chars = data.draw(st.sampled_from([None, 100, 400]), label="split_chars")
    max_chars = data.draw(st.sampled_from([None, 40, 2000]), label="max_chars")
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / ("in.jsonl" if jsonl else "in.txt"), Path(tmp) / "out.jsonl"
        src.write_bytes(content)
        expected = dict(record_lines(content, jsonl))
        try:
            summary = predict(nlp, src, out, split_chars=split_chars, max_chars=max_chars, batch_size=4)
        except UserError as err:  # only when there were records and every one was skipped
            assert "No document to predict" in str(err) and expected
            assert [p.name for p in Path(tmp).iterdir()] == [src.name]
            return
        assert sorted(p.name for p in Path(tmp).iterdir()) == sorted([src.name, out.name])
        records = [json.loads(line) for line in out.read_text(encoding="utf8").split("\n")[:-1]]
        skipped = [line_number(m, src) for m in summary.skipped]
        too_long = [line_number(m, src) for m in summary.too_long]
        assert len(set(skipped + too_long)) == len(skipped) + len(too_long)
        assert set(skipped + too_long) <= set(expected)
        kept = [number for number in expected if number not in skipped + too_long]
        assert summary.docs == len(records) == len(kept)

        def text_of(number: int) -> str:
            line = expected[number].decode("utf8")
            return json.loads(line)["text"] if jsonl else line

        for number, record in zip(kept, records):
            assert record["text"] == text_of(number)
            text, previous_end = record["text"], 0
            assert max_chars is None or len(text) <= max_chars
            for ent in record["entities"]:
                assert previous_end <= ent["start"] < ent["end"] <= len(text)
                assert text[ent["start"]:ent["end"]] == ent["text"]
                previous_end = ent["end"]
        assert all(len(text_of(number)) > max_chars for number in too_long)


TAGS = ["O", "B-PER", "I-PER", "E-LOC", "S-ORG", "L-MISC", "U-X", "B-", "I-", "-", "BPER", "B-PER-X", "_", "0"]
FIELD = st.one_of(st.sampled_from(TAGS), st.text(alphabet=HOSTILE.replace("\r", "") + "=|_-", max_size=6),
                  st.integers(0, 20).map(str), st.just("z" * 2000))
COMMENTS = ["# text = Aarhus er en by", "# newdoc id = d1", "#", "# sent_id = 1", "-DOCSTART- -X- O O", "", " ",
            "\x00", "\ufeff"]


@st.composite
def column_line(draw):
    if draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from(COMMENTS))
    fields = draw(st.lists(FIELD, min_size=1, max_size=10))
    separators = draw(st.lists(st.sampled_from(["\t", " ", "  ", " \t"]), min_size=len(fields), max_size=len(fields)))
    return "".join(f + s for f, s in zip(fields, separators)).rstrip(" \t") if draw(st.booleans()) else \
        "\t".join(fields)


@st.composite
def column_file(draw):
    lines = draw(st.lists(column_line(), max_size=30))
    text = draw(st.sampled_from(["\n", "\r\n"])).join(lines) + draw(st.sampled_from(["", "\n"]))
    data = (b"\xef\xbb\xbf" if draw(st.booleans()) else b"") + text.encode("utf8")
    if draw(st.integers(0, 5)) == 0:  # a stray byte that is not UTF-8
        at = draw(st.integers(0, len(data)))
        data = data[:at] + b"\xff" + data[at:]
    return data


@FUZZ
@given(st.one_of(column_file(), input_file(json_line()), st.binary(max_size=200)),
       st.sampled_from(["in.iob2", "in.conllu", "in.txt", "in.jsonl"]))
def test_convert_gives_docs_or_a_clear_error_on_any_file(content, name):
    with tempfile.TemporaryDirectory() as tmp:
        path, output = Path(tmp) / name, Path(tmp) / "out"
        path.write_bytes(content)
        try:
            reports = convert([path], output, "xx", Path(tmp) / "report.json")
        except UserError as err:  # CorpusError included: one line that names the file
            assert str(path) in str(err) or "--" in str(err), str(err)
            assert not output.exists()
            return
        (report,) = reports.values()
        docs = list(DocBin().from_disk(output / "in.spacy").get_docs(spacy.blank("xx").vocab))
        assert len(docs) == report.documents
        assert sum(len(doc.ents) for doc in docs) == sum(report.entities.values())
        assert json.loads((Path(tmp) / "report.json").read_text(encoding="utf8"))[str(path)]["documents"] == len(docs)
