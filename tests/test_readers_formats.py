"""Each format, tag scheme and option of the readers, on small fixtures written for them."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
from spacy.tokens import DocBin
from spacy.vocab import Vocab

from spacy_bert_ner.errors import CorpusError, UserError
from spacy_bert_ner.readers import read_corpus
from spacy_bert_ner.readers.convert import split_docs
from spacy_bert_ner.readers.export import docs_to_text

FIXTURES = Path(__file__).parent / "fixtures" / "readers"


def ents(docs):
    return [(e.text, e.label_) for doc in docs for e in doc.ents]


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "spacy_bert_ner", *map(str, args)], capture_output=True, text=True)


def test_conll2003_four_columns_docstart():
    docs, report = read_corpus(FIXTURES / "conll2003.txt")
    assert report.layout == "4 columns, token in column 1, tag in column 4"  # not the chunk column
    assert len(docs) == 2 and [len(list(d.sents)) for d in docs] == [2, 1]
    assert ents(docs) == [("EU", "ORG"), ("German", "MISC"), ("Peter Blackburn", "PER"), ("BRUSSELS", "LOC")]


def test_conll2002_latin1_needs_encoding():
    with pytest.raises(CorpusError) as err:
        read_corpus(FIXTURES / "conll2002_latin1.txt")
    assert err.value.line == 6 and "--encoding latin-1" in str(err.value)
    docs, report = read_corpus(FIXTURES / "conll2002_latin1.txt", encoding="latin-1")
    assert report.layout == "3 columns, token in column 1, tag in column 3"
    assert ents(docs) == [("Leeuw van Vlaanderen", "ORG"), ("Köln", "LOC"), ("José", "PER")]


def test_tab_separated_two_columns():
    docs, _ = read_corpus(FIXTURES / "conll2002_2col.txt")
    assert ents(docs) == [("Lola", "PER"), ("Madrid", "LOC")]


@pytest.mark.parametrize(
    "name,scheme,expected",
    [
        ("iob1.txt", "iob1", [("Peter Blackburn", "PER"), ("John Smith", "PER"), ("Mary", "PER"), ("New York", "LOC")]),
        ("bioes.txt", "bioes", [("Anna", "PER"), ("New York", "LOC"), ("Det Danske Bank", "ORG")]),
        ("bilou.txt", "bilou", [("Anna", "PER"), ("New York", "LOC"), ("Det Danske Bank", "ORG")]),
    ],
)
def test_schemes_are_detected_and_decoded(name, scheme, expected):
    docs, report = read_corpus(FIXTURES / name)
    assert report.scheme == scheme
    assert ents(docs) == expected
    assert not report.repaired


def test_forced_scheme_counts_repairs_and_rejects_foreign_tags():
    docs, report = read_corpus(FIXTURES / "iob1.txt", scheme="iob2")
    assert len(ents(docs)) == 4 and report.repaired == {"PER": 2, "LOC": 1}
    with pytest.raises(CorpusError) as err:
        read_corpus(FIXTURES / "bioes.txt", scheme="iob2")
    assert err.value.line == 1 and "'S-PER' is not valid in IOB2" in str(err.value)


def test_broken_bioes_spans_are_repaired_not_lost():
    docs, report = read_corpus(FIXTURES / "bioes_broken.txt")
    assert ents(docs) == [("Dan", "PER"), ("New", "LOC"), ("Peace Corps", "ORG")]
    assert report.repaired == {"LOC": 1, "ORG": 1}
    assert [p["line"] for p in report.problems] == [3, 7]


def test_conllu_spaceafter_misc_name_newdoc_and_empty_nodes():
    docs, report = read_corpus(FIXTURES / "udpipe.conllu")
    assert report.format == "conllu" and report.layout.endswith("MISC name=")
    (doc,) = docs
    assert doc.text == "Dommer Finn Eilertsen avstår, sa «NRK». Vi bor i Oslo. "
    assert ents(docs) == [("Finn Eilertsen", "PER"), ("NRK", "ORG"), ("Oslo", "GPE_LOC")]
    assert report.tokens == 15  # the empty node 3.1 is not a token


def test_conllu_multiword_tokens_keep_the_surface_text_and_ne_key():
    """The text is what production sees: "na", not the syntactic words "em a"."""
    docs, report = read_corpus(FIXTURES / "mwt.conllu")
    assert [t.text for t in docs[0]] == ["Vivo", "na", "Lisboa", "."]
    assert docs[0].text == "Vivo na Lisboa. "
    assert ents(docs) == [("Lisboa", "LOC")]
    assert report.multiword_tokens == 1 and report.tokens == 4


def test_an_entity_edge_inside_a_multiword_token_widens_the_entity_and_is_reported(tmp_path):
    """`do` = `de o` with the entity starting at `o`: the entity covers `do`, with the line named;
    an entity that would then share the token with another is dropped and counted."""
    path = tmp_path / "edge.conllu"
    path.write_text("\n".join([
        "# text = Falou do Conselho e da Maria.",
        "1\tFalou\t_\t_\t_\t_\t_\t_\t_\tname=O",
        "2-3\tdo\t_\t_\t_\t_\t_\t_\t_\t_",
        "2\tde\t_\t_\t_\t_\t_\t_\t_\tname=O",
        "3\to\t_\t_\t_\t_\t_\t_\t_\tname=B-ORG",
        "4\tConselho\t_\t_\t_\t_\t_\t_\t_\tname=I-ORG",
        "5\te\t_\t_\t_\t_\t_\t_\t_\tname=O",
        "6-7\tda\t_\t_\t_\t_\t_\t_\t_\t_",
        "6\tde\t_\t_\t_\t_\t_\t_\t_\tname=B-LOC",
        "7\ta\t_\t_\t_\t_\t_\t_\t_\tname=B-PER",
        "8\tMaria\t_\t_\t_\t_\t_\t_\t_\tSpaceAfter=No|name=I-PER",
        "9\t.\t_\t_\t_\t_\t_\t_\t_\tname=O", "", ""]), encoding="utf8")
    docs, report = read_corpus(path, "pt")
    assert docs[0].text == "Falou do Conselho e da Maria. "
    assert ents(docs) == [("do Conselho", "ORG"), ("da", "LOC")]
    assert report.multiword_tokens == 2
    assert report.problem_counts == {"entity edge inside a multiword token": 2,
                                     "entity dropped in a multiword token": 1}
    assert report.dropped == {"PER": 1}
    assert [p["line"] for p in report.problems] == [3, 8, 8]


def test_conllx_tag_in_given_column():
    with pytest.raises(CorpusError, match="--tag-col"):
        read_corpus(FIXTURES / "tagcol.conllx")
    docs, report = read_corpus(FIXTURES / "tagcol.conllx", format="conllx", tag_col=10)
    assert ents(docs) == [("Kari", "PER"), ("NRK", "ORG")]


def test_hashtags_are_tokens_and_comments_are_not():
    docs, report = read_corpus(FIXTURES / "hashtags.txt")
    assert [t.text for t in docs[0]] == ["#oslo", "#2", "Oslo"]
    assert ents(docs) == [("#2", "PER"), ("Oslo", "LOC")]
    # In a file with token IDs a `#` line is never a token: it ends the sentence, reported.
    docs, report = read_corpus(FIXTURES / "comment_midsentence.iob2")
    assert ents(docs) == [("Peter", "PER")] and report.sentences == 1
    assert report.problems == [{"line": 2, "message": "comment inside a sentence: no blank line before it; the sentence ends here"}]


def test_a_file_whose_every_token_starts_with_a_hash_is_read(tmp_path):
    """Found by hypothesis: with no other token line, layout sniffing used to call it all comments."""
    path = tmp_path / "only_hashtags.iob2"
    path.write_text("# a comment\n#a\tB-PER\n#b\tO\n\n#c\tO\n", encoding="utf8")
    docs, report = read_corpus(path)
    assert [[t.text for t in doc] for doc in docs] == [["#a", "#b", "#c"]] and report.sentences == 2
    assert ents(docs) == [("#a", "PER")]
    path.write_text("# text = x\n# sent_id = 1\n\n", encoding="utf8")
    with pytest.raises(CorpusError, match="no token lines found"):
        read_corpus(path)


def test_jsonl_dict_and_list_spans_with_overlap_policy():
    docs, report = read_corpus(FIXTURES / "spans.jsonl", "da")
    assert len(docs) == 3
    assert ents(docs) == [("Anna Hansen", "PER"), ("København", "LOC"), ("Novo Nordisk A/S", "ORG"), ("Bagsværd", "LOC")]
    # The nested "Novo" is set aside from doc.ents (longest span wins) but kept in doc.spans.
    assert [(s.text, s.label_) for s in docs[1].spans["sc"]] == [
        ("Novo Nordisk A/S", "ORG"), ("Novo", "ORG"), ("Bagsværd", "LOC")
    ]
    assert report.set_aside == {"ORG": 1} and report.problems[0]["line"] == 2
    assert report.entities == {"PER": 1, "LOC": 2, "ORG": 1}


@pytest.mark.parametrize(
    "alignment,expected,repaired,dropped",
    [("contract", [], 0, 2), ("expand", [("Københavns", "LOC"), ("sluttede", "ORG")], 2, 0)],
)
def test_jsonl_alignment(alignment, expected, repaired, dropped):
    with pytest.raises(CorpusError) as err:
        read_corpus(FIXTURES / "misaligned.jsonl", "da")
    assert err.value.line == 1 and "'København'" in str(err.value) and "--alignment" in str(err.value)
    docs, report = read_corpus(FIXTURES / "misaligned.jsonl", "da", alignment=alignment)
    assert ents(docs) == expected
    assert sum(report.repaired.values()) == repaired and sum(report.dropped.values()) == dropped


def test_jsonl_own_tokens_keep_whitespace():
    docs, _ = read_corpus(FIXTURES / "tokens.jsonl", "xx")
    assert [t.text for t in docs[0]] == ["Hi", "Oslo", "!"] and docs[0].text == "Hi Oslo!"
    assert ents(docs) == [("Oslo", "LOC")]


def test_split_is_deterministic_by_document():
    docs, _ = read_corpus(FIXTURES / "uner.iob2", n_sents=1)
    docs = docs * 10  # 20 documents
    parts = split_docs(docs, [0.8, 0.1, 0.1], seed=3)
    assert [len(p) for p in parts.values()] == [16, 2, 2]
    again = split_docs(docs, [0.8, 0.1, 0.1], seed=3)
    assert all(a is b for name in parts for a, b in zip(parts[name], again[name]))


def test_convert_split_cli_and_export_round_trip(tmp_path):
    src = tmp_path / "corpus.iob2"
    src.write_text((FIXTURES / "uner.iob2").read_text() * 5, encoding="utf8")
    result = run_cli("convert", src, "-o", tmp_path / "out", "--split", "0.6,0.2,0.2", "--seed", "1",
                     "--report", tmp_path / "r.json", "--map", "LOC=O")
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "r.json").read_text())[str(src)]
    assert report["dropped"] == 10 and sum(s["documents"] for s in report["splits"].values()) == 10
    assert sum(sum(s["entities"].values()) for s in report["splits"].values()) == 15
    train = tmp_path / "out" / "corpus-train.spacy"
    result = run_cli("export", train, tmp_path / "train.iob2")
    assert result.returncode == 0, result.stderr
    original = list(DocBin().from_disk(train).get_docs(Vocab()))
    again, _ = read_corpus(tmp_path / "train.iob2")
    assert [d.to_json() for d in again] == [d.to_json() for d in original]


def test_export_plain_is_conlleval_style():
    docs, _ = read_corpus(FIXTURES / "uner.iob2")
    text, skipped = docs_to_text(docs, plain=True)
    assert text.startswith("-DOCSTART-\tO\n\nAnna\tB-PER\nHansen\tI-PER\n") and "#" not in text.split("#DKpol")[0]
    assert skipped == 0


@pytest.mark.parametrize(
    "content,line,words",
    [
        ('{"text": "Oslo", "spans": []}\n{"text": "Oslo", "spans": [\n', 2, "not valid JSON"),
        ('{"text": "Oslo", "spans": [[0, 9, "LOC"]]}\n', 1, "outside the text"),
        ('{"txt": "Oslo"}\n', 1, '"text"'),
        ('{"text": "Oslo", "spans": [{"start": 0, "label": "LOC"}]}\n', 1, "integer start and end"),
    ],
)
def test_jsonl_bad_records_name_their_line(tmp_path, content, line, words):
    path = tmp_path / "bad.jsonl"
    path.write_text(content, encoding="utf8")
    with pytest.raises(CorpusError) as err:
        read_corpus(path)
    assert err.value.line == line and words in str(err.value)


@pytest.mark.parametrize(
    "options,words",
    [({"format": "xml"}, "unknown format"), ({"encoding": "klingon"}, "unknown encoding"), ({"lang": "zz"}, "--lang")],
)
def test_bad_options_are_user_errors(options, words):
    with pytest.raises(UserError, match=words):
        read_corpus(FIXTURES / "two_col.iob2", **options)


def test_export_leaves_out_whitespace_tokens_and_counts_them(tmp_path):
    path = tmp_path / "nl.jsonl"
    path.write_text('{"text": "Oslo\\n\\nog Bergen", "spans": [[0, 4, "LOC"], [9, 15, "LOC"]]}\n', encoding="utf8")
    docs, _ = read_corpus(path, "da")
    text, skipped = docs_to_text(docs, plain=True)
    assert skipped == 1
    assert text.split("\n")[2:6] == ["Oslo\tB-LOC", "og\tO", "Bergen\tB-LOC", ""]
