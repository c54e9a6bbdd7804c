"""The shipped demo corpus is exactly what its generator writes, and valid input for convert."""
from spacy_bert_ner.readers import read_corpus

from conftest import DEMO, _load_script


def test_shipped_demo_corpus_matches_its_generator(tmp_path):
    _load_script("make_demo_corpus").main(["--out", str(tmp_path)])
    for name in ("train.iob2", "dev.iob2", "test.iob2", "README.md"):
        assert (tmp_path / name).read_bytes() == (DEMO / name).read_bytes(), name


def test_demo_corpus_converts_cleanly_with_all_four_labels():
    for split in ("train", "dev", "test"):
        docs, report = read_corpus(DEMO / f"{split}.iob2", "da")
        data = report.to_dict()
        assert data["repaired"] == 0 and data["dropped"] == 0
        # The only problems: names like "Varde Å" at a sentence end, which the Danish tokenizer keeps
        # whole with the full stop ("Å." is one of its abbreviations): counted, a few per thousand.
        assert set(data["problem_counts"]) <= {"entity inside a token of the tokenizer"}
        assert data["misaligned"] == sum(data["problem_counts"].values()) <= 0.01 * sum(data["entities"].values())
        assert set(data["entities"]) == {"PER", "ORG", "LOC", "MISC"}
        assert all(doc.text.strip() for doc in docs)
