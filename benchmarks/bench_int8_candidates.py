"""The candidates for fast CPU inference of the encoder, side by side on its bare forward pass.

    python benchmarks/bench_int8_candidates.py ENCODER [--data FILE.iob2] [--docs 300]
        [--candidates fp32,bf16,torch_int8,torch_int8_tensor,torch_int8_keep_down,torchao_int8,ort_int8,
                      ort_int8_unfused,ort_fp32,ort_fp32_fused]
        [--output benchmarks/results/int8_candidates.json]

What chose `cpu_inference` (components/encoder.py): words/s of the encoder alone (Hugging Face
tokenizer + model forward, batches of 64 sentences sorted by length, 2 torch threads) and the
cosine of each token's last hidden state to float32's (mean and minimum), one process, the
median of --rounds timed passes taken round-robin:

- `bf16`: torch.autocast on the CPU;
- `torch_int8`: torch.ao dynamic quantization of every Linear, one weight scale per output
  channel; `torch_int8_tensor`: one scale per matrix (PyTorch's default);
  `torch_int8_keep_down`: per channel, the feed-forward down-projections left in float32 (the
  layers where int8 costs torch.ao the most accuracy);
- `torchao_int8`: torchao's Int8DynamicActivationInt8WeightConfig (needs `pip install torchao`);
- `ort_int8`: what `cpu_inference = "int8"` runs (components/int8.py): the encoder exported with
  torch.onnx, ONNX Runtime's transformer fusions, its dynamic int8 quantization per channel;
  `ort_int8_unfused`: the same without the fusions; `ort_fp32`, `ort_fp32_fused`: float32 graphs,
  unfused and fused (all need `pip install 'spacy-bert-ner[int8]'`).

A pretrained encoder's hidden states are the proxy here; the F1 of a fine-tuned pipeline in each
setting is `evaluate --cpu-inference` (BENCHMARKS.md has both).
"""
import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, List

import torch

from spacy_bert_ner.jsonfiles import write_json

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.bench_predict import DEFAULT_DATA, read_sentences  # noqa: E402
from benchmarks.harness import machine  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CANDIDATES = ("fp32", "bf16", "torch_int8", "torch_int8_tensor", "torch_int8_keep_down", "torchao_int8",
              "ort_int8", "ort_int8_unfused", "ort_fp32", "ort_fp32_fused")


def load(encoder: str):
    from transformers import AutoModel

    return AutoModel.from_pretrained(encoder).eval()


def torch_int8(encoder: str, per_channel: bool = True, keep_down: bool = False) -> Callable:
    from torch.ao.quantization import default_dynamic_qconfig, per_channel_dynamic_qconfig, quantize_dynamic

    model = load(encoder)
    qconfig = per_channel_dynamic_qconfig if per_channel else default_dynamic_qconfig
    spec = {name: qconfig for name, module in model.named_modules() if isinstance(module, torch.nn.Linear)
            and not (keep_down and module.in_features > module.out_features)}
    quantized = quantize_dynamic(model, spec, dtype=torch.qint8)
    return lambda batch: quantized(**batch).last_hidden_state


def build(name: str, encoder: str, tmp: Path) -> Callable:
    if name == "fp32":
        model = load(encoder)
        return lambda b: model(**b).last_hidden_state
    if name == "bf16":
        model = load(encoder)

        def forward(b):
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return model(**b).last_hidden_state.float()
        return forward
    if name == "torch_int8":
        return torch_int8(encoder)
    if name == "torch_int8_tensor":
        return torch_int8(encoder, per_channel=False)
    if name == "torch_int8_keep_down":
        return torch_int8(encoder, keep_down=True)
    if name == "torchao_int8":
        from torchao.quantization import Int8DynamicActivationInt8WeightConfig, quantize_

        model = load(encoder)
        quantize_(model, Int8DynamicActivationInt8WeightConfig())
        return lambda b: model(**b).last_hidden_state
    if name.startswith("ort_"):
        from spacy_bert_ner.components.int8 import (build_int8_onnx, export_onnx, fuse_transformer, quantize_int8,
                                                    session)

        model, names = load(encoder), ["input_ids", "attention_mask"]
        if name == "ort_int8":
            graph = build_int8_onnx(model, names)
        else:
            exported = tmp / "encoder.onnx"
            if not exported.exists():
                export_onnx(model, names, exported)
            path = fuse_transformer(exported, model, names, tmp / "encoder.fused.onnx") if "fused" in name else exported
            graph = (quantize_int8(path, tmp / "encoder.int8.onnx") if "int8" in name else path).read_bytes()
        runner = session(graph)
        return lambda b: torch.from_numpy(runner.run(["last_hidden_state"], {n: b[n].numpy() for n in names})[0])
    raise SystemExit(f"Unknown candidate {name!r}; choose from {', '.join(CANDIDATES)}.")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("encoder", help="Encoder directory (e.g. the e5-small from ../shared/tools).")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--docs", type=int, default=300, help="Sentences to run (the first N).")
    parser.add_argument("--candidates", default=",".join(CANDIDATES))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5, help="Timed passes of each candidate, round-robin; the median is kept.")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "int8_candidates.json")
    args = parser.parse_args(argv)
    from transformers import AutoTokenizer

    torch.set_num_threads(args.threads)
    texts = read_sentences(args.data)[0][:args.docs]
    n_words = sum(len(t.split()) for t in texts)
    tokenizer = AutoTokenizer.from_pretrained(args.encoder)
    ordered = sorted(texts, key=len)
    batches = [tokenizer(ordered[i:i + 64], return_tensors="pt", padding=True, truncation=True, max_length=512)
               for i in range(0, len(ordered), 64)]

    def run(forward: Callable) -> List[torch.Tensor]:
        with torch.inference_mode():
            return [forward(b).float() for b in batches]

    names = ["fp32"] + [c for c in args.candidates.split(",") if c and c != "fp32"]
    forwards, seconds, cosines, reference = {}, {}, {}, None
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            try:
                forwards[name] = build(name, args.encoder, Path(tmp))
            except ImportError as err:
                print(f"{name}: skipped ({err})", flush=True)
                continue
            outputs = run(forwards[name])  # also the warm-up
            reference = outputs if name == "fp32" else reference
            cosines[name] = torch.cat([torch.nn.functional.cosine_similarity(o.flatten(0, 1), r.flatten(0, 1), dim=-1)
                                       for o, r in zip(outputs, reference)])
        for round_ in range(args.rounds):  # round-robin: a slow spell of a shared machine hits all alike
            for name, forward in forwards.items():
                start = time.perf_counter()
                run(forward)
                seconds.setdefault(name, []).append(time.perf_counter() - start)
            print(f"round {round_ + 1}/{args.rounds}", flush=True)
    results = {}
    for name in forwards:
        median = statistics.median(seconds[name])
        results[name] = {"words_per_s": round(n_words / median), "cos_mean": round(cosines[name].mean().item(), 4),
                         "cos_min": round(cosines[name].min().item(), 4),
                         "words_per_s_all": [round(n_words / t) for t in seconds[name]]}
        results[name]["over_fp32"] = round(results[name]["words_per_s"] / results["fp32"]["words_per_s"], 2)
        print(name, {k: v for k, v in results[name].items() if k != "words_per_s_all"}, flush=True)
    report = {"encoder": args.encoder, "data": str(args.data), "docs": len(texts), "words": n_words,
              "threads": args.threads, "rounds": args.rounds, "machine": machine(),
              "results": results}
    write_json(args.output, report)
    print(f"Wrote {args.output}")


if __name__ == "__main__":
    main()
