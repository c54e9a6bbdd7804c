"""Inference speed and memory of `spacy-bert-ner predict`, beside its ceiling and the usual alternative.

    python benchmarks/bench_predict.py MODEL [--data FILE.iob2] [--encoder DIR] [--batch-size N]
        [--repeat N] [--gpu-id N] [--skip-hf] [--output benchmarks/results/predict.json]

On the sentences of a UNER IOB2 file (default: the Danish DDT test split), one sentence per
document, it measures in separate processes, so each peak RSS is its own:

- `predict`: the real command on a plain text file (reading, nlp.pipe, doc_cleaner, writing);
- `bare_forward`: the encoder alone, Hugging Face tokenizer + model forward in batches of the
  same size, no decoding: the ceiling any pipeline on this encoder can reach;
- `hf_pipeline`: transformers' `pipeline("token-classification", aggregation_strategy="first")`
  on the same encoder with a token-classification head for the model's labels. The head is
  randomly initialised: a fine-tuned head of the same shape costs the same time.

Words are the corpus tokens. `words_per_s` counts processing only; `load_s` is reported apart.
Timings on a shared or busy machine vary: compare figures from one run, and use --repeat
(the median run is kept).
"""
import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "uner_danish_ddt" / "da_ddt-ud-test.iob2"
METHODS = ("predict", "bare_forward", "hf_pipeline")


def read_sentences(path: Path) -> Tuple[List[str], int]:
    """Sentence texts (from `# text = ` or the joined tokens) and the number of tokens."""
    texts, tokens, n_words, text = [], [], 0, None
    for line in path.read_text(encoding="utf8").splitlines() + [""]:
        if line.startswith("# text = "):
            text = line[len("# text = "):]
        elif line.startswith("#"):
            continue
        elif not line.strip():
            if tokens:
                texts.append(text if text is not None else " ".join(tokens))
                n_words += len(tokens)
            tokens, text = [], None
        else:
            tokens.append(line.split("\t")[1])
    return texts, n_words


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def batches(items: List[str], size: int):
    for i in range(0, len(items), size):
        yield items[i:i + size]


def run_predict(args) -> Dict[str, Any]:
    import spacy_bert_ner.predict as predict_module

    load = predict_module.load_pipeline
    timing: Dict[str, float] = {}

    def timed_load(*a, **kw):  # split model loading from processing in the real command
        start = time.perf_counter()
        nlp = load(*a, **kw)
        timing["load_s"] = time.perf_counter() - start
        return nlp

    predict_module.load_pipeline = timed_load
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        summary = predict_module.predict(args.model, Path(args.texts), Path(tmp) / "out.jsonl",
                                         batch_size=args.batch_size, gpu_id=args.gpu_id)
        total = time.perf_counter() - start
    return {"load_s": timing["load_s"], "run_s": total - timing["load_s"],
            "docs": summary.docs, "entities": summary.entities}


def _torch_device(gpu_id: int):
    import torch

    return torch.device(f"cuda:{gpu_id}" if gpu_id >= 0 else "cpu")


def run_bare_forward(args, texts: List[str]) -> Dict[str, Any]:
    import torch
    from transformers import AutoModel, AutoTokenizer

    device = _torch_device(args.gpu_id)
    start = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(args.encoder)
    model = AutoModel.from_pretrained(args.encoder).to(device).eval()
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    with torch.inference_mode():
        for batch in batches(texts, args.batch_size):
            enc = tokenizer(batch, padding=True, truncation=True, max_length=512, return_tensors="pt")
            model(**enc.to(device)).last_hidden_state.cpu()
    return {"load_s": load_s, "run_s": time.perf_counter() - start, "docs": len(texts)}


def run_hf_pipeline(args, texts: List[str]) -> Dict[str, Any]:
    from transformers import AutoModelForTokenClassification, AutoTokenizer, pipeline

    start = time.perf_counter()
    id2label = dict(enumerate(args.bio_labels))
    model = AutoModelForTokenClassification.from_pretrained(
        args.encoder, num_labels=len(id2label), id2label=id2label,
        label2id={label: i for i, label in id2label.items()})
    tagger = pipeline("token-classification", model=model, tokenizer=AutoTokenizer.from_pretrained(args.encoder),
                      aggregation_strategy="first", device=args.gpu_id if args.gpu_id >= 0 else -1)
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    entities = sum(len(ents) for ents in tagger(texts, batch_size=args.batch_size))
    return {"load_s": load_s, "run_s": time.perf_counter() - start, "docs": len(texts), "entities": entities}


def child(args) -> None:
    """Run one method in this process and print its figures as JSON."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    texts = Path(args.texts).read_text(encoding="utf8").splitlines()
    if args.child == "predict":
        result = run_predict(args)
    elif args.child == "bare_forward":
        result = run_bare_forward(args, texts)
    else:
        result = run_hf_pipeline(args, texts)
    import torch

    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    result["torch_threads"] = torch.get_num_threads()
    if args.gpu_id >= 0:
        result["gpu_peak_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    print("RESULT " + json.dumps(result))


def model_info(model: str) -> Tuple[str, int, List[str]]:
    """Encoder name, [nlp] batch_size and BIO labels of a saved pipeline."""
    from spacy.util import load_config, load_meta

    config = load_config(Path(model) / "config.cfg")
    encoders = [c["model"]["name"] for c in config["components"].values()
                if c.get("factory") == "transformer"]
    if not encoders:
        sys.exit(f"{model} has no transformer component: pass --encoder to compare against one.")
    meta = load_meta(Path(model) / "meta.json")
    labels = {label for labels in meta.get("labels", {}).values() for label in labels}
    types = sorted({label[2:] if label[:2] in ("B-", "I-", "L-", "U-") else label for label in labels} - {"O"})
    bio = ["O"] + [f"{p}-{t}" for t in types for p in "BI"]
    return encoders[0], int(config["nlp"].get("batch_size", 64)), bio


def measure(method: str, args, texts_path: Path, bio_labels: List[str]) -> Dict[str, Any]:
    cmd = [sys.executable, __file__, args.model, "--child", method, "--texts", str(texts_path),
           "--encoder", args.encoder, "--batch-size", str(args.batch_size), "--gpu-id", str(args.gpu_id),
           "--bio-labels", ",".join(bio_labels)]
    runs = []
    for _ in range(args.repeat):
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
        lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
        if proc.returncode != 0 or not lines:
            sys.exit(f"{method} failed:\n{proc.stderr[-3000:]}")
        runs.append(json.loads(lines[-1][len("RESULT "):]))
    runs.sort(key=lambda r: r["run_s"])
    result = runs[len(runs) // 2]
    result["run_s_all"] = [round(r["run_s"], 3) for r in runs]
    return result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="Trained pipeline directory (e.g. training/model-best).")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="UNER IOB2 file to take sentences from.")
    parser.add_argument("--encoder", help="Encoder for the bare pass and the HF pipeline (default: the model's).")
    parser.add_argument("--batch-size", type=int, help="Documents per batch for all methods (default: the model's).")
    parser.add_argument("--repeat", type=int, default=1, help="Runs per method; the median is kept.")
    parser.add_argument("--gpu-id", type=int, default=-1)
    parser.add_argument("--skip-hf", action="store_true", help="Leave out the HF pipeline.")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "predict.json")
    parser.add_argument("--child", choices=METHODS, help=argparse.SUPPRESS)
    parser.add_argument("--texts", help=argparse.SUPPRESS)
    parser.add_argument("--bio-labels", type=lambda s: s.split(","), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)

    if not (Path(args.model) / "config.cfg").is_file():
        sys.exit(f"Not a pipeline directory: {args.model} (train one first, e.g. `spacy project run all`).")
    if not args.data.is_file():
        sys.exit(f"Data not found: {args.data}")
    encoder, model_batch_size, bio_labels = model_info(args.model)
    args.encoder = args.encoder or encoder
    args.batch_size = args.batch_size or model_batch_size
    texts, n_words = read_sentences(args.data)
    methods = [m for m in METHODS if not (args.skip_hf and m == "hf_pipeline")]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        texts_path = Path(tmp) / "texts.txt"
        texts_path.write_text("\n".join(texts) + "\n", encoding="utf8")
        for method in methods:
            print(f"Measuring {method} ...", flush=True)
            results[method] = measure(method, args, texts_path, bio_labels)
    for result in results.values():
        result["words_per_s"] = round(n_words / result["run_s"], 1)
        result["load_s"], result["run_s"] = round(result["load_s"], 3), round(result["run_s"], 3)
    ratios = {"predict_over_bare_forward": round(results["predict"]["words_per_s"]
                                                 / results["bare_forward"]["words_per_s"], 3)}
    if "hf_pipeline" in results:
        ratios["predict_over_hf_pipeline"] = round(results["predict"]["words_per_s"]
                                                   / results["hf_pipeline"]["words_per_s"], 3)
    report = {
        "model": str(args.model), "encoder": str(args.encoder), "data": str(args.data),
        "docs": len(texts), "words": n_words, "batch_size": args.batch_size, "repeat": args.repeat,
        "device": f"cuda:{args.gpu_id}" if args.gpu_id >= 0 else f"cpu ({os.cpu_count()} cores visible)",
        "machine": platform.platform(), "results": results, "ratios": ratios,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf8")
    print(f"\n{len(texts)} docs, {n_words} words, batch size {args.batch_size}, {report['device']}")
    print(f"{'method':<14}{'words/s':>10}{'run s':>9}{'load s':>9}{'peak RSS MB':>13}")
    for method, r in results.items():
        print(f"{method:<14}{r['words_per_s']:>10.0f}{r['run_s']:>9.2f}{r['load_s']:>9.2f}{r['peak_rss_mb']:>13.0f}")
    print("ratios: " + ", ".join(f"{k} {v:.2f}" for k, v in ratios.items()))
    print(f"Wrote {args.output}")


if __name__ == "__main__":
    main()
