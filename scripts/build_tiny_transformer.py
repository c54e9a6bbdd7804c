"""Build a tiny, randomly initialised BERT with a WordPiece vocabulary trained on a corpus.

The Hugging Face Hub is out of reach offline, so the demo workflow and the tests use
this instead of a pretrained encoder. It saves with `save_pretrained`, so spacy-transformers
loads the directory exactly as it loads a Hub name.

    python scripts/build_tiny_transformer.py OUT_DIR CORPUS_FILE... [--vocab-size 2000]

Corpus files are CoNLL-style column files (token in the second column of UNER files, the
first otherwise) or plain text; only the words matter.
"""
import argparse
import sys
from pathlib import Path
from typing import Iterable, Iterator, List


def corpus_words(paths: Iterable[Path]) -> Iterator[str]:
    """Yield one line of words per sentence from column files or plain text."""
    for path in paths:
        sentence: List[str] = []
        for line in Path(path).read_text(encoding="utf8").splitlines():
            if line.startswith("# text = "):
                yield line[len("# text = "):]
                sentence = []
                continue
            if not line.strip():
                if sentence:
                    yield " ".join(sentence)
                sentence = []
                continue
            if line.startswith("#"):
                continue
            cols = line.split("\t") if "\t" in line else line.split()
            sentence.append(cols[1] if len(cols) >= 3 and cols[0].isdigit() else cols[0])
        if sentence:
            yield " ".join(sentence)


def build(out_dir: Path, corpus: List[Path], vocab_size: int = 2000, hidden: int = 64,
          layers: int = 2, heads: int = 2, seed: int = 0) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import BertConfig, BertModel, BertTokenizerFast

    torch.manual_seed(seed)
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=False)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=specials)
    tok.train_from_iterator(corpus_words(corpus), trainer=trainer)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    fast = BertTokenizerFast(tokenizer_object=tok, do_lower_case=False, model_max_length=512)
    fast.save_pretrained(out_dir)
    config = BertConfig(vocab_size=tok.get_vocab_size(), hidden_size=hidden, num_hidden_layers=layers,
                        num_attention_heads=heads, intermediate_size=hidden * 4,
                        max_position_embeddings=512)
    BertModel(config).save_pretrained(out_dir)
    return out_dir


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("corpus", type=Path, nargs="+")
    parser.add_argument("--vocab-size", type=int, default=2000)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    args = parser.parse_args(argv)
    missing = [str(p) for p in args.corpus if not p.exists()]
    if missing:
        sys.exit(f"Corpus file not found: {', '.join(missing)}")
    out = build(args.out_dir, args.corpus, args.vocab_size, args.hidden, args.layers)
    print(f"Wrote a tiny random BERT to {out}")


if __name__ == "__main__":
    main()
