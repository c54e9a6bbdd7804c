"""Languages written without spaces: the tokenizer follows the language, and a missing segmenter is named."""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
from spacy.tokens import DocBin
from spacy.util import load_config

from spacy_bert_ner.errors import UserError
from spacy_bert_ner.readers import read_corpus
from spacy_bert_ner.training.train import tokenizer_pipeline, train

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "ner_trf.cfg"
ZH = ROOT / "tests" / "fixtures" / "zh_ner.iob2"


@pytest.mark.parametrize("lang,tokenizer", [("zh", "spacy.zh.ChineseTokenizer"), ("da", "spacy.Tokenizer.v1")])
def test_the_configs_tokenizer_follows_the_language(lang, tokenizer):
    config = load_config(CONFIG, overrides={"nlp.lang": lang}, interpolate=True)
    nlp = tokenizer_pipeline(config)
    assert nlp.config["nlp"]["tokenizer"]["@tokenizers"] == tokenizer
    named = load_config(CONFIG, overrides={"nlp.lang": "zh", "nlp.tokenizer": {"@tokenizers": "spacy.Tokenizer.v1"}},
                        interpolate=True)
    assert tokenizer_pipeline(named).config["nlp"]["tokenizer"]["@tokenizers"] == "spacy.Tokenizer.v1"


@pytest.mark.skipif(importlib.util.find_spec("sudachipy") is not None, reason="sudachipy is installed here")
def test_a_language_whose_segmenter_is_missing_stops_with_what_to_install(tmp_path, demo_corpus, tiny_transformer):
    overrides = {"nlp.lang": "ja", "paths.train": str(demo_corpus / "train.spacy"),
                 "paths.dev": str(demo_corpus / "dev.spacy"), "components.transformer.model.name": str(tiny_transformer)}
    with pytest.raises(UserError, match=r"nlp\.lang 'ja'.*sudachipy.*pip install 'spacy-bert-ner\[ja\]'"):
        train(CONFIG, tmp_path / "out", -1, overrides)
    assert not (tmp_path / "out").exists()


def test_a_chinese_corpus_converts_with_no_spaces_and_every_entity_aligned():
    docs, report = read_corpus(ZH, "zh")
    assert [len(d.ents) for d in docs] == [9, 9, 9] and report.to_dict()["misaligned"] == 0
    assert " " not in "".join(d.text for d in docs)
    tokens = spacy.blank("zh").make_doc(docs[0].text)
    assert len(tokens) == len(docs[0].text)  # one token per character


@pytest.mark.slow
def test_a_chinese_pipeline_trains_packages_and_finds_entities_at_character_offsets(tmp_path):
    """Trained on the Chinese fixture with a tiny encoder whose vocabulary is its characters, the
    packaged wheel tokenizes new Chinese text by character and returns exact character offsets."""
    from conftest import _load_script

    from spacy_bert_ner.inference.packaging import package

    docs, _ = read_corpus(ZH, "zh")
    DocBin(docs=docs).to_disk(tmp_path / "train.spacy")
    DocBin(docs=docs[:1]).to_disk(tmp_path / "dev.spacy")
    encoder = _load_script("build_tiny_transformer").build(tmp_path / "encoder", [ZH], vocab_size=300)
    overrides = {"nlp.lang": "zh", "paths.train": str(tmp_path / "train.spacy"), "paths.dev": str(tmp_path / "dev.spacy"),
                 "components.transformer.model.name": str(encoder), "training.max_steps": 150,
                 "training.eval_frequency": 50, "training.optimizer.learn_rate.initial_rate": 2e-3,
                 "training.optimizer.learn_rate.warmup_steps": 10, "training.batcher.size": 2000,
                 "initialize.after_init.encoder_lr_scale": 1.0, "initialize.after_init.freeze_word_embeddings": False}
    best = train(CONFIG, tmp_path / "model", -1, overrides)
    wheel = package(best, tmp_path / "pk", "chinese_ner", "0.1.0")
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
                   check=True)
    texts = ["王小明住在北京。", "周杰和李华在上海见面。"]
    script = (
        "import json, sys, spacy\n"
        f"sys.path.insert(0, {str(site)!r})\n"
        "nlp = spacy.load('zh_chinese_ner')\n"
        f"docs = list(nlp.pipe({texts!r}))\n"
        "print(json.dumps({'tokens': [len(d) for d in docs], 'ents': [[(e.start_char, e.end_char, e.label_, e.text)"
        " for e in d.ents] for d in docs]}, ensure_ascii=False))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env={"HF_HUB_OFFLINE": "1", "PATH": ""})
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["tokens"] == [len(t) for t in texts]
    assert out["ents"][0] == [[0, 3, "PER", "王小明"], [5, 7, "LOC", "北京"]]  # a training sentence
    for text, ents in zip(texts, out["ents"]):
        assert all(text[start:end] == span for start, end, _, span in ents)


def test_gold_words_cut_by_the_chinese_tokenizer_make_the_report_say_which_score_to_trust():
    """Chinese gold words are several characters, the pipeline's tokens one each: the gold-token
    score would feed the model tokens it never trained on, and evaluate says so; on Danish it does not."""
    from spacy_bert_ner.evaluation.report import gold_tokens_unlike_training
    from spacy_bert_ner.evaluation.runner import tokenizer_against_gold

    docs, _ = read_corpus(ZH, "zh")
    misaligned, split = tokenizer_against_gold(spacy.blank("zh"), docs)
    assert misaligned["count"] == 0
    words = [token.text for doc in docs for token in doc]
    assert split["of"] == len(words) and split["count"] == sum(len(w) > 1 for w in words) > 0
    assert "trust the raw-text score" in gold_tokens_unlike_training({"gold_tokens_split": split})
    da = spacy.blank("da")
    danish = [da("Anna bor i Aarhus."), da("Lego ligger i Billund.")]
    _, plain = tokenizer_against_gold(da, danish)
    assert plain == {"count": 0, "of": sum(map(len, danish)), "examples": []}
    assert gold_tokens_unlike_training({"gold_tokens_split": plain}) is None
