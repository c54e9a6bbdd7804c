"""Benchmark `trim-vocab` on multilingual-e5-small with UNER Danish (DDT), on CPU.

Trims the encoder twice: to all three splits (as the project workflow does) and to train+dev
only, to see how text the trim never saw fares. Reports pieces kept, size on disk before and
after, time taken and peak memory, and checks on the test sentences that the trimmed tokenizer
gives the same pieces and the trimmed model the same last hidden states as the original.

    HF_HUB_OFFLINE=1 python benchmarks/bench_trim_vocab.py [--encoder DIR] [--data DIR] [--n-hidden 128]

Writes benchmarks/results/trim_vocab.json.
"""
import argparse
import json
import os
import platform
import resource
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List

from spacy_bert_ner.jsonfiles import write_json

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ENCODER = Path.home() / ".cache" / "spacy_bert_ner" / "multilingual-e5-small"
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "uner_danish_ddt"
RESULTS = ROOT / "benchmarks" / "results" / "trim_vocab.json"


def test_sentences(path: Path) -> List[str]:
    from spacy_bert_ner.readers import read_corpus

    docs, _ = read_corpus(path)
    return [sent.text for doc in docs for sent in doc.sents]


def compare(original: Path, trimmed: Path, sentences: List[str], n_hidden: int) -> Dict[str, Any]:
    """Segmentation and unknown tokens on all sentences; hidden states on the first n_hidden."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    old_tok = AutoTokenizer.from_pretrained(original, use_fast=True)
    new_tok = AutoTokenizer.from_pretrained(trimmed, use_fast=True)
    old_pieces = [old_tok.tokenize(s) for s in sentences]
    new_pieces = [new_tok.tokenize(s) for s in sentences]
    result: Dict[str, Any] = {
        "sentences": len(sentences),
        "identical_segmentation": sum(a == b for a, b in zip(old_pieces, new_pieces)),
        "pieces_original": sum(map(len, old_pieces)),
        "pieces_trimmed": sum(map(len, new_pieces)),
        "unknown_original": sum(p.count(old_tok.unk_token) for p in old_pieces),
        "unknown_trimmed": sum(p.count(new_tok.unk_token) for p in new_pieces),
    }
    same = [s for s, a, b in zip(sentences, old_pieces, new_pieces) if a == b][:n_hidden]
    old_model, new_model = AutoModel.from_pretrained(original).eval(), AutoModel.from_pretrained(trimmed).eval()
    worst = 0.0
    with torch.no_grad():
        for i in range(0, len(same), 16):
            batch = same[i: i + 16]
            old_h = old_model(**old_tok(batch, padding=True, return_tensors="pt")).last_hidden_state
            new_h = new_model(**new_tok(batch, padding=True, return_tensors="pt")).last_hidden_state
            worst = max(worst, (old_h - new_h).abs().max().item())
    result["hidden_state_sentences"] = len(same)
    result["hidden_state_max_abs_diff"] = worst
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--encoder", type=Path, default=DEFAULT_ENCODER)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--n-hidden", type=int, default=128, help="Test sentences to compare hidden states on.")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    splits = {s: args.data / f"da_ddt-ud-{s}.iob2" for s in ("train", "dev", "test")}
    if not args.encoder.is_dir() or not all(p.exists() for p in splits.values()):
        sys.exit(f"Needs the encoder at {args.encoder} and UNER Danish at {args.data}")
    import torch

    from spacy_bert_ner.training.vocab_trim import dir_size, trim_vocab

    torch.set_num_threads(max(1, (os.cpu_count() or 2) // 2))
    sentences = test_sentences(splits["test"])
    runs = {"all_splits": ["train", "dev", "test"], "train_dev_only": ["train", "dev"]}
    results: Dict[str, Any] = {
        "encoder": str(args.encoder.name),
        "corpus": "UNER Danish DDT",
        "machine": f"{platform.machine()} CPU, {os.cpu_count()} cores (shared), torch threads {torch.get_num_threads()}",
        "size_before_bytes": dir_size(args.encoder),
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name, use in runs.items():
            out = Path(tmp) / name
            report = trim_vocab(args.encoder, out, [splits[s] for s in use])
            results[name] = {
                "trimmed_to": use,
                "original_pieces": report.original_pieces,
                "original_embedding_rows": report.original_embedding_rows,
                "kept_pieces": report.kept_pieces,
                "kept_used": report.kept_used,
                "kept_single_char": report.kept_single_char,
                "kept_special": report.kept_special,
                "seconds": report.seconds,
                "size_after_bytes": dir_size(out),
                "size_ratio": round(dir_size(out) / results["size_before_bytes"], 3),
                "corpus_texts_segmented_identically": f"{report.texts_segmented_identically}/{sum(report.texts.values())}",
                "test_sentences": compare(args.encoder, out, sentences, args.n_hidden),
            }
            print(name, json.dumps(results[name], indent=2))
    results["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    write_json(RESULTS, results)
    print(f"Wrote {RESULTS}")


if __name__ == "__main__":
    main()
