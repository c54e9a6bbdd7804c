"""Every command reads .spacy files through one reader, with one error for a file that is not a DocBin."""
import pytest
import spacy
from spacy.tokens import DocBin

from spacy_bert_ner.errors import CorpusError
from spacy_bert_ner.evaluation.runner import read_gold
from spacy_bert_ner.readers.docbin import read_docbin
from spacy_bert_ner.readers.export import export
from spacy_bert_ner.training.vocab_trim import read_texts


@pytest.fixture
def foreign(tmp_path):
    path = tmp_path / "train.spacy"
    path.write_text("Anna\tB-PER\nbor\tO\n", encoding="utf8")  # a CoNLL file given the wrong suffix
    return path


def test_reads_every_doc_with_its_entities(tmp_path):
    nlp = spacy.blank("da")
    doc = nlp("Anna bor i Aarhus")
    doc.ents = [doc.char_span(0, 4, "PER"), doc.char_span(11, 17, "LOC")]
    path = tmp_path / "x.spacy"
    DocBin(docs=[doc, nlp("Ingen")]).to_disk(path)
    docs = read_docbin(path, nlp.vocab)
    assert [d.text for d in docs] == ["Anna bor i Aarhus", "Ingen"]
    assert [(e.text, e.label_) for e in docs[0].ents] == [("Anna", "PER"), ("Aarhus", "LOC")]


@pytest.mark.parametrize("read", [
    lambda path: read_docbin(path, spacy.blank("da").vocab),
    lambda path: read_gold(path, spacy.blank("da")),
    lambda path: export(path, path.with_suffix(".iob2")),
    lambda path: read_texts(path),
], ids=["read_docbin", "evaluate", "export", "trim-vocab"])
def test_a_foreign_file_names_itself_and_keeps_the_cause(foreign, read):
    with pytest.raises(CorpusError, match="not a readable spaCy DocBin") as info:
        read(foreign)
    assert info.value.path == str(foreign)
    assert isinstance(info.value.__cause__, ValueError)  # DocBin's E1014, for --verbose


def test_a_missing_file_says_where_to_get_one(tmp_path):
    with pytest.raises(CorpusError, match="not found.*convert") as info:
        read_docbin(tmp_path / "nope.spacy", spacy.blank("da").vocab)
    assert info.value.path.endswith("nope.spacy")
