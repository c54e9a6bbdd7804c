"""What an encoder hands the NER head: per-layer output scale and how finely it cuts the language.

    python -m benchmarks.encoder_probe DIR [DIR ...] [--data FILE.iob2] [--sentences 256]

For each encoder, on the `# text =` sentences of a UNER IOB2 file (default: Danish dev):
the mean |gain| of each layer's output LayerNorm, the standard deviation of each hidden layer's
states over real (unpadded) pieces, pieces per word and unknown pieces. A head learns from the
last layer's states, so an unusually small last-layer scale slows it; many pieces per word mean
an encoder's vocabulary fits the language badly (and longer, slower sequences).
Writes benchmarks/results/encoder_probe.json.
"""
import argparse
from pathlib import Path
from typing import Any, Dict, List

from spacy_bert_ner.jsonfiles import write_json

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "uner_danish_ddt" / "da_ddt-ud-dev.iob2"


def sentences(path: Path, limit: int) -> List[str]:
    texts = [line[len("# text = "):] for line in path.read_text(encoding="utf8").splitlines()
             if line.startswith("# text = ")]
    return texts[:limit]


def probe(encoder: str, texts: List[str], batch_size: int = 32) -> Dict[str, Any]:
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer, model = AutoTokenizer.from_pretrained(encoder), AutoModel.from_pretrained(encoder).eval()
    gains = [round(p.abs().mean().item(), 3) for name, p in model.named_parameters()
             if name.endswith("output.LayerNorm.weight") and ".attention." not in name]
    states: List[List[Any]] = []
    pieces = unknown = 0
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            enc = tokenizer(texts[start:start + batch_size], padding=True, truncation=True, return_tensors="pt")
            mask = enc["attention_mask"].bool()
            hidden = model(**enc, output_hidden_states=True).hidden_states
            states.append([h[mask] for h in hidden])
            pieces += int(mask.sum())
            unknown += int((enc["input_ids"][mask] == tokenizer.unk_token_id).sum())
    stds = [round(torch.cat([batch[layer] for batch in states]).std().item(), 3) for layer in range(len(states[0]))]
    words = sum(len(text.split()) for text in texts)
    return {"layers": len(gains), "ffn_layernorm_abs_gain": gains, "hidden_std": stds,
            "last_over_median_std": round(stds[-1] / sorted(stds[1:-1])[len(stds[1:-1]) // 2], 3),
            "pieces_per_word": round(pieces / words, 3), "unknown_pieces": unknown, "vocab_size": len(tokenizer)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("encoders", nargs="+", help="Local encoder directories or Hub names.")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--sentences", type=int, default=256)
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "encoder_probe.json")
    args = parser.parse_args(argv)
    texts = sentences(args.data, args.sentences)
    if not texts:
        raise SystemExit(f"{args.data}: no '# text = ' lines to probe with")
    results = {Path(str(e)).name: {"path": str(e), **probe(str(e), texts)} for e in args.encoders}
    report = {"data": str(args.data), "sentences": len(texts), "encoders": results}
    write_json(args.output, report)
    for name, r in results.items():
        print(f"{name}: {r['layers']} layers, {r['pieces_per_word']} pieces/word, {r['unknown_pieces']} unknown")
        print(f"  output LayerNorm |gain| by layer: {r['ffn_layernorm_abs_gain']}")
        print(f"  hidden std by layer (embeddings first): {r['hidden_std']}; last / median {r['last_over_median_std']}")
    print(f"Wrote {args.output}")


if __name__ == "__main__":
    main()
