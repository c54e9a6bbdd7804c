"""Vocabulary trimming on tiny local encoders of each tokenizer kind: the trimmed tokenizer splits
text made of kept pieces the same way, the trimmed model computes the same hidden states, unseen
words of the same script get no unknown token, and the output loads like any Hugging Face model."""
import json
from pathlib import Path
from typing import List

import pytest

from spacy_bert_ner.training.vocab_trim import KEPT_IDS_FILE, TRIM_INFO_FILE, read_texts, trim_vocab

KINDS = ("wordpiece", "unigram", "bpe")


def _train_words(demo_dir: Path) -> List[str]:
    return read_texts(demo_dir / "train.iob2")


def _build(kind: str, out: Path, texts: List[str]) -> Path:
    """A tiny random encoder with a tokenizer of `kind` trained on `texts`, saved with save_pretrained."""
    import torch
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import (BertConfig, BertModel, BertTokenizerFast, PreTrainedTokenizerFast,
                              RobertaConfig, RobertaModel, RobertaTokenizerFast)

    torch.manual_seed(0)
    size = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
    if kind == "wordpiece":
        tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
        tok.normalizer = normalizers.BertNormalizer(lowercase=False)
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.decoder = decoders.WordPiece()
        specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        tok.train_from_iterator(texts, trainers.WordPieceTrainer(vocab_size=900, special_tokens=specials))
        fast = BertTokenizerFast(tokenizer_object=tok, do_lower_case=False)
        model = BertModel(BertConfig(vocab_size=tok.get_vocab_size(), **size))
    elif kind == "unigram":  # as XLM-R and multilingual-e5: Metaspace + Unigram, a BERT body
        specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
        tok = Tokenizer(models.Unigram())
        tok.normalizer = normalizers.NFKC()
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        tok.decoder = decoders.Metaspace()
        tok.train_from_iterator(texts, trainers.UnigramTrainer(vocab_size=900, special_tokens=specials,
                                                               unk_token="<unk>"))
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
            special_tokens=[("<s>", tok.token_to_id("<s>")), ("</s>", tok.token_to_id("</s>"))])
        fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>",
                                       unk_token="<unk>", sep_token="</s>", cls_token="<s>",
                                       pad_token="<pad>", mask_token="<mask>")
        model = BertModel(BertConfig(vocab_size=tok.get_vocab_size(), pad_token_id=1, **size))
    else:  # byte-level BPE as RoBERTa and GPT-2
        specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        tok.train_from_iterator(texts, trainers.BpeTrainer(
            vocab_size=900, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
        tok.post_processor = processors.RobertaProcessing(("</s>", tok.token_to_id("</s>")),
                                                          ("<s>", tok.token_to_id("<s>")))
        fast = RobertaTokenizerFast(tokenizer_object=tok)
        model = RobertaModel(RobertaConfig(vocab_size=tok.get_vocab_size(), pad_token_id=1,
                                           max_position_embeddings=514, **size))
    fast.save_pretrained(out)
    model.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def trimmed(demo_dir, tmp_path_factory):
    """{kind: (original dir, trimmed dir, trimming texts)}; trimmed to part of the dev split, given
    once as a column file and once as plain text."""
    train = _train_words(demo_dir)
    dev = read_texts(demo_dir / "dev.iob2")
    root = tmp_path_factory.mktemp("trim")
    plain = root / "extra.txt"
    plain.write_text("\n".join(dev[:5]) + "\n", encoding="utf8")
    result = {}
    for kind in KINDS:
        original = _build(kind, root / f"{kind}-original", train)
        out = root / f"{kind}-trimmed"
        trim_vocab(original, out, [demo_dir / "dev.iob2", plain])
        result[kind] = (original, out, dev)
    return result


def _tokenizers(original: Path, out: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(original, use_fast=True), AutoTokenizer.from_pretrained(out, use_fast=True)


@pytest.mark.parametrize("kind", KINDS)
def test_trimmed_is_smaller_and_records_the_trim(trimmed, kind):
    original, out, _ = trimmed[kind]
    old_tok, new_tok = _tokenizers(original, out)
    info = json.loads((out / TRIM_INFO_FILE).read_text())
    kept = json.loads((out / KEPT_IDS_FILE).read_text())
    assert len(new_tok) == len(kept) == info["kept_pieces"] < len(old_tok) == info["original_pieces"]
    assert info["original_encoder"] == str(original)
    assert info["texts_segmented_identically"] == sum(info["texts"].values())
    old_vocab = {i: p for p, i in old_tok.get_vocab().items()}
    new_vocab = {i: p for p, i in new_tok.get_vocab().items()}
    assert [old_vocab[i] for i in kept] == [new_vocab[i] for i in range(len(kept))]
    assert set(old_tok.all_special_tokens) <= set(new_tok.get_vocab())


@pytest.mark.parametrize("kind", KINDS)
def test_same_segmentation_and_hidden_states_on_kept_text(trimmed, kind):
    import torch
    from transformers import AutoModel

    original, out, texts = trimmed[kind]
    old_tok, new_tok = _tokenizers(original, out)
    for text in texts:
        assert new_tok.tokenize(text) == old_tok.tokenize(text), text
    old_model, new_model = AutoModel.from_pretrained(original).eval(), AutoModel.from_pretrained(out).eval()
    assert new_model.get_input_embeddings().weight.shape[0] == len(new_tok)
    batch = texts[:16]
    old_in = old_tok(batch, padding=True, return_tensors="pt")
    new_in = new_tok(batch, padding=True, return_tensors="pt")
    assert torch.equal(old_in["attention_mask"], new_in["attention_mask"])
    with torch.no_grad():
        old_h = old_model(**old_in).last_hidden_state
        new_h = new_model(**new_in).last_hidden_state
    assert (old_h - new_h).abs().max().item() <= 1e-5


@pytest.mark.parametrize("kind", KINDS)
def test_unseen_words_get_no_unknown(trimmed, demo_dir, kind):
    original, out, texts = trimmed[kind]
    old_tok, new_tok = _tokenizers(original, out)
    seen = {w for t in texts for w in t.split()}
    unseen = sorted({w for t in read_texts(demo_dir / "test.iob2") for w in t.split()} - seen)
    unseen += ["Æblegrødskonkurrencerne", "Østerbrogade", "ukendteordøæå", "ÅRHUSIANERNE"]
    assert len(unseen) > 100
    changed = 0
    for word in unseen:
        old_ids, new_ids = old_tok.encode(word, add_special_tokens=False), new_tok.encode(word, add_special_tokens=False)
        if old_tok.unk_token_id not in old_ids:
            assert new_tok.unk_token_id not in new_ids, (word, new_tok.tokenize(word))
        changed += old_tok.tokenize(word) != new_tok.tokenize(word)
    assert changed > 0  # the trim really dropped pieces these words used


def test_tied_output_embeddings_and_bias_follow_the_trim(trimmed, tmp_path):
    """A masked-LM head (decoder tied to the word embeddings, own bias) keeps its rows in step."""
    import torch
    from transformers import AutoModelForMaskedLM, BertConfig, BertForMaskedLM

    original, _, texts = trimmed["wordpiece"]
    config = BertConfig.from_pretrained(original)
    torch.manual_seed(1)
    mlm = BertForMaskedLM(config)
    with torch.no_grad():
        mlm.cls.predictions.bias.normal_()
    src = tmp_path / "mlm"
    mlm.save_pretrained(src)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        (src / name).write_bytes((original / name).read_bytes())
    out = tmp_path / "mlm-trimmed"
    (tmp_path / "t.txt").write_text("\n".join(texts), encoding="utf8")
    trim_vocab(src, out, [tmp_path / "t.txt"])
    kept = json.loads((out / KEPT_IDS_FILE).read_text())
    old_tok, new_tok = _tokenizers(src, out)
    old_model, new_model = AutoModelForMaskedLM.from_pretrained(src).eval(), AutoModelForMaskedLM.from_pretrained(out).eval()
    assert new_model.get_output_embeddings().weight.data_ptr() == new_model.get_input_embeddings().weight.data_ptr()
    with torch.no_grad():
        old_logits = old_model(**old_tok(texts[:4], padding=True, return_tensors="pt")).logits
        new_logits = new_model(**new_tok(texts[:4], padding=True, return_tensors="pt")).logits
    assert (old_logits[..., kept] - new_logits).abs().max().item() <= 1e-5


def test_spacy_transformers_loads_the_trimmed_dir(trimmed):
    """By path, as a training config names it: same wordpieces and outputs as the original."""
    import numpy
    import spacy

    original, out, texts = trimmed["unigram"]
    outputs = []
    for name in (original, out):
        nlp = spacy.blank("da")
        nlp.add_pipe("transformer", config={"model": {"name": str(name)}})
        nlp.initialize()
        outputs.append(nlp(texts[0])._.trf_data)
    assert outputs[0].wordpieces.strings == outputs[1].wordpieces.strings
    old_h, new_h = (o.model_output.last_hidden_state for o in outputs)
    assert numpy.abs(old_h - new_h).max() <= 1e-5


def test_cli_takes_a_glob_of_texts_and_reports_bad_ones(trimmed, demo_dir, tmp_path):
    from typer.testing import CliRunner

    from spacy_bert_ner.cli import app

    original = trimmed["bpe"][0]
    runner = CliRunner()
    result = runner.invoke(app, ["trim-vocab", str(original), str(tmp_path / "out"), "--text",
                                 str(demo_dir / "dev.iob2"), str(demo_dir / "test.iob2"), "--keep-top", "50"])
    assert result.exit_code == 0, result.output
    info = json.loads((tmp_path / "out" / TRIM_INFO_FILE).read_text())
    assert list(info["texts"]) == [str(demo_dir / "dev.iob2"), str(demo_dir / "test.iob2")]
    assert info["kept_top"] == 50 and info["kept_merge_path"] > 0
    assert "kept" in result.output
    missing = runner.invoke(app, ["trim-vocab", str(original), str(tmp_path / "x"), "--text", str(tmp_path / "no.iob2")])
    assert missing.exit_code != 0
    assert "no.iob2" in str(missing.exception) and "not found" in str(missing.exception)


def test_read_texts_takes_docbins_and_refuses_empty_files(demo_dir, tmp_path):
    import spacy
    from spacy.tokens import DocBin

    from spacy_bert_ner.errors import CorpusError

    texts = read_texts(demo_dir / "dev.iob2")
    nlp = spacy.blank("da")
    DocBin(docs=[nlp.make_doc(t) for t in texts]).to_disk(tmp_path / "dev.spacy")
    assert read_texts(tmp_path / "dev.spacy") == texts
    DocBin().to_disk(tmp_path / "empty.spacy")
    with pytest.raises(CorpusError, match="empty.spacy: no text"):
        read_texts(tmp_path / "empty.spacy")


def test_prepare_encoder_trims_by_default_copies_with_no_trim_and_takes_no_value(tiny_transformer, demo_dir, tmp_path):
    """`--trim/--no-trim` is a typer boolean: what project.yml's trim_vocab var (trim or no-trim) switches."""
    from typer.testing import CliRunner

    from spacy_bert_ner.cli import app

    runner = CliRunner()
    texts = ["--text", str(demo_dir / "dev.iob2")]
    trimmed = runner.invoke(app, ["prepare-encoder", str(tiny_transformer), str(tmp_path / "t"), *texts])
    copied = runner.invoke(app, ["prepare-encoder", str(tiny_transformer), str(tmp_path / "c"), *texts, "--no-trim"])
    assert trimmed.exit_code == 0 and copied.exit_code == 0, trimmed.output + copied.output
    assert (tmp_path / "t" / KEPT_IDS_FILE).is_file() and not (tmp_path / "c" / KEPT_IDS_FILE).exists()
    assert "Trimmed" in trimmed.output and "Copied" in copied.output
    value = runner.invoke(app, ["prepare-encoder", str(tiny_transformer), str(tmp_path / "v"), "--trim", "false"])
    assert value.exit_code == 2 and not (tmp_path / "v").exists()
