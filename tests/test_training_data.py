"""Nothing lost before training: every training token reaches a batch, and what cannot is refused."""
import json
from collections import Counter
from pathlib import Path

import pytest
import spacy
from spacy.tokens import Doc, DocBin
from spacy.util import load_config, registry, resolve_dot_names

from spacy_bert_ner.errors import UserError
from spacy_bert_ner.readers import read_corpus
from spacy_bert_ner.training.train import tokenizer_pipeline, train
from spacy_bert_ner.training.corpus_checks import check_corpora

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "ner_trf.cfg"


def record(first: int, n_tokens: int, sentence_every: int = 0) -> dict:
    """A JSONL record of n unique tokens (t<first>, t<first+1>, ...), a PER entity every 7 tokens
    (two tokens long), and a sentence end every `sentence_every` tokens (0: no punctuation at all)."""
    words, spans, pos = [], [], 0
    for i in range(n_tokens):
        word = f"t{first + i}"
        if sentence_every and i % sentence_every == sentence_every - 1:
            word += "."
        if i % 7 == 0 and i + 1 < n_tokens and not (sentence_every and i % sentence_every == sentence_every - 1):
            spans.append([pos, pos + len(word) + 1 + len(f"t{first + i + 1}"), "PER"])
        words.append(word)
        pos += len(word) + 1
    return {"text": " ".join(words), "spans": spans}


@pytest.fixture(scope="module")
def long_records(tmp_path_factory) -> Path:
    """Records of 50, 749 (no sentence boundary) and 3,000 tokens (sentences of 200), as DocBins."""
    out = tmp_path_factory.mktemp("long-records")
    records = [record(0, 50), record(1000, 749), record(5000, 3000, sentence_every=200)]
    (out / "train.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf8")
    docs, report = read_corpus(out / "train.jsonl", "da")
    assert [len(doc) for doc in docs] == [50, 749, 3000 + 15]  # "t5199." is two tokens
    DocBin(docs=docs).to_disk(out / "train.spacy")
    DocBin(docs=docs[:1]).to_disk(out / "dev.spacy")
    return out


def config_for(corpus: Path, **overrides):
    return load_config(CONFIG, overrides={"paths.train": str(corpus / "train.spacy"),
                                          "paths.dev": str(corpus / "dev.spacy"), **overrides}, interpolate=True)


def test_the_jsonl_reader_marks_sentences_from_the_text_or_a_sentences_field(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text(json.dumps({"text": "Anna bor i St. Louis. Hun er glad."}) + "\n"
                    + json.dumps({"text": "Anna bor her hun er glad", "sentences": [[0, 12], [13, 24]]}) + "\n",
                    encoding="utf8")
    docs, report = read_corpus(path, "da")
    assert [[s.text for s in doc.sents] for doc in docs] == [["Anna bor i St. Louis.", "Hun er glad."],
                                                             ["Anna bor her", "hun er glad"]]
    assert report.sentences == 4


def test_every_training_token_reaches_a_batch_exactly_once_per_epoch(long_records):
    """The config's own reader, augmenter and batcher, as `spacy train` runs them over one epoch."""
    config = config_for(long_records)
    nlp = tokenizer_pipeline(config)
    corpus = resolve_dot_names(config, ["corpora.train"])[0]
    batcher = registry.resolve({"b": config["training"]["batcher"]})["b"]
    seen = Counter(t.text for batch in batcher(corpus(nlp)) for eg in batch for t in eg.reference)
    gold = Counter(t.text for doc in DocBin().from_disk(long_records / "train.spacy").get_docs(nlp.vocab) for t in doc)
    assert seen == gold
    examples = list(corpus(nlp))
    assert max(len(eg) for eg in examples) <= 128  # every piece fits the transformer's window
    entities = Counter((e.text, e.label_) for eg in examples for e in eg.reference.ents)
    assert sum(entities.values()) == sum(len(doc.ents) for doc in DocBin().from_disk(
        long_records / "train.spacy").get_docs(nlp.vocab))
    check = check_corpora(nlp, config)
    assert (check.documents_cut, check.documents_whole) == (2, 1)
    assert check.batched_tokens == check.tokens == sum(gold.values())


def test_training_refuses_to_start_when_the_batcher_would_discard_tokens(long_records):
    """Whole documents of 749 and 3,000 tokens with spaCy's discard_oversize: training would never see them."""
    config = config_for(long_records, **{"corpora.train.augmenter": None, "training.batcher.discard_oversize": True})
    with pytest.raises(UserError, match=r"3764 of 3814 training tokens would be discarded.*"
                                        r"training\.batcher\.discard_oversize = false"):
        check_corpora(tokenizer_pipeline(config), config)
    kept_whole = config_for(long_records, **{"corpora.train.augmenter": None})  # discard_oversize = false
    check = check_corpora(tokenizer_pipeline(kept_whole), kept_whole)
    assert check.over_batch == 2 and check.batched_tokens == check.tokens


def test_training_refuses_to_start_when_max_length_would_skip_tokens(long_records):
    config = config_for(long_records, **{"corpora.train.max_length": 100})
    with pytest.raises(UserError, match=r"corpora\.train\.max_length = 0"):
        check_corpora(tokenizer_pipeline(config), config)


def test_misaligned_entities_stop_training_above_the_threshold(tmp_path):
    """Gold tokens glued together ("B.T.." at a sentence end is one Danish token) are counted and refused."""
    nlp = spacy.blank("da")
    doc = Doc(nlp.vocab, words=["Jeg", "læser", "B.T.", "."], spaces=[True, True, False, False],
              ents=["O", "O", "B-ORG", "O"])
    ok = Doc(nlp.vocab, words=["Anna", "læser", "Politiken", "."], spaces=[True, True, False, False],
             ents=["B-PER", "O", "B-ORG", "O"])
    DocBin(docs=[doc, ok]).to_disk(tmp_path / "train.spacy")
    DocBin(docs=[ok]).to_disk(tmp_path / "dev.spacy")
    config = config_for(tmp_path)
    with pytest.raises(UserError, match=r"1 of 3 training entities .*'B\.T\.' ORG in the token\(s\) 'B\.T\.\.'.*"
                                        r"--checks\.max_misaligned 0\.334"):
        check_corpora(tokenizer_pipeline(config), config, 0.0)
    assert check_corpora(tokenizer_pipeline(config), config, 0.34).misaligned == 1


@pytest.mark.slow
def test_a_jsonl_corpus_of_long_records_trains(long_records, tiny_transformer, tmp_path):
    overrides = {"paths.train": str(long_records / "train.spacy"), "paths.dev": str(long_records / "dev.spacy"),
                 "components.transformer.model.name": str(tiny_transformer), "training.max_steps": 4,
                 "training.eval_frequency": 2, "training.optimizer.learn_rate.warmup_steps": 1,
                 "initialize.after_init.freeze_word_embeddings": False}
    best = train(CONFIG, tmp_path / "out", -1, overrides)
    assert (best / "config.cfg").is_file()
