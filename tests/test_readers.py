"""IOB2 column files -> Docs: tokens, spans, text, sentences, documents, and bad input."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
from spacy.tokens import DocBin
from spacy.vocab import Vocab

from spacy_bert_ner.errors import CorpusError
from spacy_bert_ner.readers import read_corpus

FIXTURES = Path(__file__).parent / "fixtures" / "readers"


def ents(doc):
    return [(e.text, e.label_) for e in doc.ents]


def test_uner_tokens_entities_text_and_documents():
    docs, report = read_corpus(FIXTURES / "uner.iob2", "da")
    assert len(docs) == 2  # two `# newdoc` markers
    first, second = docs
    assert [t.text for t in first][:5] == ["Anna", "Hansen", "bor", "i", "København"]
    assert ents(first) == [("Anna Hansen", "PER"), ("København", "LOC"), ("Aarhus", "LOC"), ("Novo Nordisk A/S", "ORG")]
    # Whitespace comes from `# text`: no space before the comma or the full stop.
    assert first.text == "Anna Hansen bor i København, ikke i Aarhus. Novo Nordisk A/S og #DKpol. "
    assert [s.text for s in first.sents] == ["Anna Hansen bor i København, ikke i Aarhus.", "Novo Nordisk A/S og #DKpol."]
    assert all(t.ent_iob_ in ("B", "I", "O") for t in first)  # O is annotated, not missing
    # The orphan I-ORG starts a new span, counted as repaired.
    assert ents(second) == [("EU", "ORG")]
    assert report.repaired == {"ORG": 1}
    assert report.problems[0]["line"] == 29
    assert (report.documents, report.sentences, report.tokens) == (2, 3, 21)
    assert report.entities == {"PER": 1, "LOC": 2, "ORG": 2}


def test_two_columns_hashtag_token_and_grouping():
    docs, report = read_corpus(FIXTURES / "two_col.iob2", Vocab(), n_sents=2)
    assert [len(list(d.sents)) for d in docs] == [2, 1]
    assert [t.text for t in docs[0]][5:7] == ["#oslo", "Regjeringen"]
    assert ents(docs[0]) == [("Peter", "PER"), ("Oslo", "LOC"), ("Regjeringen", "ORG")]
    assert ents(docs[1]) == [("Kari Nordmann", "PER")]
    assert report.to_dict()["entities"] == {"PER": 2, "LOC": 1, "ORG": 1}


def test_label_map_drops_are_counted():
    docs, report = read_corpus(FIXTURES / "uner.iob2", "xx", label_map={"LOC": "O", "ORG": "INST"})
    assert ents(docs[0]) == [("Anna Hansen", "PER"), ("Novo Nordisk A/S", "INST")]
    data = report.to_dict()
    assert data["dropped"] == 2 and data["entities"] == {"PER": 1, "INST": 2}


@pytest.mark.parametrize(
    "name,line,words",
    [
        ("missing.iob2", None, "not found"),
        ("empty.iob2", None, "empty"),
        ("malformed.iob2", 3, "expected 2 columns"),
        ("badtag.iob2", 2, "Q-XYZ"),
    ],
)
def test_bad_input_names_file_and_line(name, line, words):
    with pytest.raises(CorpusError) as err:
        read_corpus(FIXTURES / name)
    assert err.value.line == line
    assert err.value.path.endswith(name)
    assert words in str(err.value)


def test_convert_cli_writes_docbins_and_report(tmp_path):
    report = tmp_path / "report.json"
    args = [sys.executable, "-m", "spacy_bert_ner", "convert", str(FIXTURES / "uner.iob2"),
            str(FIXTURES / "two_col.iob2"), "--output", str(tmp_path / "out"), "--lang", "da", "--report", str(report)]
    result = subprocess.run(args, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "uner.iob2" in result.stdout and "repaired" in result.stdout
    data = json.loads(report.read_text())
    uner = data[str(FIXTURES / "uner.iob2")]
    assert {k: uner[k] for k in ("sentences", "tokens", "entities", "repaired", "dropped")} == {
        "sentences": 3, "tokens": 21, "entities": {"LOC": 2, "ORG": 2, "PER": 1}, "repaired": 1, "dropped": 0
    }
    assert uner["problems"][0]["line"] == 29
    docs = list(DocBin().from_disk(tmp_path / "out" / "uner.spacy").get_docs(Vocab()))
    assert ents(docs[1]) == [("EU", "ORG")]


def test_convert_cli_bad_input_is_one_message(tmp_path):
    args = [sys.executable, "-m", "spacy_bert_ner", "convert", str(FIXTURES / "malformed.iob2"), "-o", str(tmp_path)]
    result = subprocess.run(args, capture_output=True, text=True)
    assert result.returncode == 1
    assert "malformed.iob2:3:" in result.stderr and "Traceback" not in result.stderr
