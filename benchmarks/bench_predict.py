"""Inference speed and memory of `spacy-bert-ner predict`, beside its ceiling and the usual alternative.

    python benchmarks/bench_predict.py MODEL [--data FILE.iob2] [--encoder DIR] [--batch-size N]
        [--repeat N] [--gpu-id N] [--skip-hf] [--output benchmarks/results/predict.json]

On the sentences of a UNER IOB2 file (default: the Danish DDT test split), one sentence per
document, it measures in separate processes, so each peak RSS is its own:

- `predict`: the real command on a plain text file (reading, nlp.pipe, doc_cleaner, writing),
  with the pipeline's own encoder arithmetic (fp32 unless it was packaged otherwise);
- `predict_int8`, `predict_bf16`: the same command with `--cpu-inference int8` / `bf16` (CPU
  only; bf16 is fast only where the CPU has native bf16, `cpu_bf16` in the results says).
  `predict_int8` switches a pipeline saved without an int8 graph at load, with an empty
  `$SPACY_BERT_NER_CACHE` (a new machine or container): the graph is built then;
  `predict_int8_warm` the same with the graph already cached; `predict_int8_stored` a copy of the
  pipeline saved set to int8, which stores the graph as `package --cpu-inference int8` does,
  loaded with an empty cache (a wheel on a new machine). Every other method gets an empty cache;
  none of them reads it;
- `bare_forward`: the encoder alone, Hugging Face tokenizer + model forward in batches of the
  same size, sorted by length in the same windows as `predict` (least padding), no decoding:
  the ceiling any pipeline on this encoder can reach;
- `hf_pipeline`: transformers' `pipeline("token-classification", aggregation_strategy="first")`
  as a user calls it, on `--hf-model` (a fine-tuned token-classification checkpoint, e.g. the
  harness's hf_recipe snapshot) or else on the encoder with a randomly initialised head for the
  model's labels (a fine-tuned head of the same shape costs the same time).

Words are the corpus tokens; `--docs N` cycles the sentences to N documents (10,000 shows whether
memory stays flat). `words_per_s` counts processing only; `load_s` is reported apart.
`peak_rss_mb` includes loading (spacy-transformers' from_disk holds several copies of the
weights for a moment); `rss_loaded_mb` is the resident memory once loaded, `rss_tenth_mb` after a
tenth of the run's time, `rss_end_mb` after the run: flat memory is `rss_end_mb` close to
`rss_tenth_mb`.
Timings on a shared or busy machine vary: compare figures from one run, use --repeat (rounds
over all methods; the median run of each is kept) and look at `words_per_cpu_s`, the same
throughput per CPU second, which a busy machine disturbs less.
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

from spacy_bert_ner.jsonfiles import write_json

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "uner_danish_ddt" / "da_ddt-ud-test.iob2"
METHODS = ("predict", "predict_int8", "predict_int8_warm", "predict_int8_stored", "predict_bf16", "bare_forward",
           "hf_pipeline")
CPU_INFERENCE = {"predict_int8": "int8", "predict_int8_warm": "int8", "predict_bf16": "bf16"}


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


def current_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def batches(items: List[str], size: int):
    for i in range(0, len(items), size):
        yield items[i:i + size]


class Clock:
    """Wall and CPU seconds (all threads of this process) of a block: CPU time is less
    disturbed than wall time when other jobs share the cores."""

    def __enter__(self) -> "Clock":
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def timings(load: Clock, run: Clock) -> Dict[str, float]:
    return {"load_s": load.wall, "run_s": run.wall, "run_cpu_s": run.cpu}


class RssSampler:
    """Resident memory twice a second from a thread, for the memory at points of a run."""

    def __init__(self):
        import threading

        self.samples: List[Tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self.samples.append((time.perf_counter(), current_rss_mb()))

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def at(self, moment: float) -> float:
        """The last sample taken before `moment` (perf_counter), or the first."""
        before = [rss for when, rss in self.samples if when <= moment]
        return before[-1] if before else (self.samples[0][1] if self.samples else float("nan"))


def run_predict(args, cpu_inference=None) -> Dict[str, Any]:
    import spacy_bert_ner.inference.predict as predict_module

    load_pipeline = predict_module.load_pipeline
    load = Clock()

    def timed_load(*a, **kw):  # split model loading from processing in the real command
        with load:
            return load_pipeline(*a, **kw)

    predict_module.load_pipeline = timed_load
    with tempfile.TemporaryDirectory() as tmp, RssSampler() as rss, Clock() as total:
        summary = predict_module.predict(args.model, Path(args.texts), Path(tmp) / "out.jsonl",
                                         batch_size=args.batch_size, gpu_id=args.gpu_id,
                                         cpu_inference=cpu_inference)
        end = time.perf_counter()
    total.wall, total.cpu = total.wall - load.wall, total.cpu - load.cpu
    loaded = end - total.wall
    memory = {"rss_loaded_mb": round(rss.at(loaded), 1), "rss_tenth_mb": round(rss.at(loaded + total.wall / 10), 1)}
    return {**timings(load, total), **memory, "docs": summary.docs, "entities": summary.entities}


def _torch_device(gpu_id: int):
    import torch

    return torch.device(f"cuda:{gpu_id}" if gpu_id >= 0 else "cpu")


def run_bare_forward(args, texts: List[str]) -> Dict[str, Any]:
    import torch
    from transformers import AutoModel, AutoTokenizer

    from spacy_bert_ner.inference.batching import SORT_BATCHES, by_length

    device = _torch_device(args.gpu_id)
    with Clock() as load:
        tokenizer = AutoTokenizer.from_pretrained(args.encoder)
        model = AutoModel.from_pretrained(args.encoder).to(device).eval()
    ordered = [text for text, _ in by_length(((t, None) for t in texts), args.batch_size * SORT_BATCHES)]
    with Clock() as run, torch.inference_mode():
        for batch in batches(ordered, args.batch_size):
            enc = tokenizer(batch, padding=True, truncation=True, max_length=512, return_tensors="pt")
            model(**enc.to(device)).last_hidden_state.cpu()
    return {**timings(load, run), "docs": len(texts)}


def run_hf_pipeline(args, texts: List[str]) -> Dict[str, Any]:
    from transformers import AutoModelForTokenClassification, AutoTokenizer, pipeline

    id2label = dict(enumerate(args.bio_labels))
    with Clock() as load:
        if args.hf_model:
            model = AutoModelForTokenClassification.from_pretrained(args.hf_model)
        else:
            model = AutoModelForTokenClassification.from_pretrained(
                args.encoder, num_labels=len(id2label), id2label=id2label,
                label2id={label: i for i, label in id2label.items()})
        tokenizer = AutoTokenizer.from_pretrained(args.hf_model or args.encoder)
        tagger = pipeline("token-classification", model=model, tokenizer=tokenizer,
                          aggregation_strategy="first", device=args.gpu_id if args.gpu_id >= 0 else -1)
    with Clock() as run:
        entities = sum(len(ents) for ents in tagger(texts, batch_size=args.batch_size))
    return {**timings(load, run), "docs": len(texts), "entities": entities}


def child(args) -> None:
    """Run one method in this process and print its figures as JSON."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    texts = Path(args.texts).read_text(encoding="utf8").splitlines()
    if args.child.startswith("predict"):
        result = run_predict(args, CPU_INFERENCE.get(args.child))
    elif args.child == "bare_forward":
        result = run_bare_forward(args, texts)
    else:
        result = run_hf_pipeline(args, texts)
    import torch

    result["peak_rss_mb"] = round(peak_rss_mb(), 1)  # loading a saved pipeline can dominate it
    result["rss_end_mb"] = round(current_rss_mb(), 1)
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


def measure_once(method: str, args, texts_path: Path, bio_labels: List[str], cache: Path) -> Dict[str, Any]:
    """One method in a process of its own, with `cache` as its $SPACY_BERT_NER_CACHE."""
    model = args.stored_model if method == "predict_int8_stored" else args.model
    cmd = [sys.executable, __file__, model, "--child", method, "--texts", str(texts_path),
           "--encoder", args.encoder, "--batch-size", str(args.batch_size), "--gpu-id", str(args.gpu_id),
           "--bio-labels", ",".join(bio_labels)] + (["--hf-model", args.hf_model] if args.hf_model else [])
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "SPACY_BERT_NER_CACHE": str(cache)}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        sys.exit(f"{method} failed:\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def median_run(runs: List[Dict[str, Any]], n_words: int) -> Dict[str, Any]:
    """The run with the median wall time, plus the spread and CPU-time throughput."""
    result = dict(sorted(runs, key=lambda r: r["run_s"])[len(runs) // 2])
    result["run_s_all"] = [round(r["run_s"], 3) for r in runs]
    result["words_per_s"] = round(n_words / result["run_s"], 1)
    result["words_per_cpu_s"] = round(n_words / statistics.median(r["run_cpu_s"] for r in runs), 1)
    for key in ("load_s", "run_s", "run_cpu_s"):
        result[key] = round(result[key], 3)
    return result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="Trained pipeline directory (e.g. training/model-best).")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="UNER IOB2 file to take sentences from.")
    parser.add_argument("--encoder", help="Encoder for the bare pass and the HF pipeline (default: the model's).")
    parser.add_argument("--batch-size", type=int, help="Documents per batch for all methods (default: the model's).")
    parser.add_argument("--repeat", type=int, default=1, help="Rounds over all methods; the median run is kept.")
    parser.add_argument("--gpu-id", type=int, default=-1)
    parser.add_argument("--skip-hf", action="store_true", help="Leave out the HF pipeline.")
    parser.add_argument("--methods", type=lambda s: s.split(","), default=list(METHODS),
                        help=f"Comma-separated, of {','.join(METHODS)} (default: all).")
    parser.add_argument("--docs", type=int, default=0, help="Cycle the sentences to this many documents.")
    parser.add_argument("--hf-model", help="Fine-tuned token-classification checkpoint for the HF pipeline "
                                           "(default: the encoder with a random head).")
    parser.add_argument("--note", default="", help="Free text kept in the results, e.g. what the model is.")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "predict.json")
    parser.add_argument("--child", choices=METHODS, help=argparse.SUPPRESS)
    parser.add_argument("--texts", help=argparse.SUPPRESS)
    parser.add_argument("--bio-labels", type=lambda s: s.split(","), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)

    from spacy_bert_ner.training.hooks import native_bf16_cpu

    if not (Path(args.model) / "config.cfg").is_file():
        sys.exit(f"Not a pipeline directory: {args.model} (train one first, e.g. `spacy project run all`).")
    if not args.data.is_file():
        sys.exit(f"Data not found: {args.data}")
    encoder, model_batch_size, bio_labels = model_info(args.model)
    args.encoder = args.encoder or encoder
    args.batch_size = args.batch_size or model_batch_size
    texts, n_words = read_sentences(args.data)
    if args.docs:
        words = [len(text.split()) for text in texts]  # the cycled copies' share of the corpus words
        texts = [texts[i % len(texts)] for i in range(args.docs)]
        n_words = round(n_words * sum(words[i % len(words)] for i in range(args.docs)) / sum(words))
    unknown = set(args.methods) - set(METHODS)
    if unknown:
        sys.exit(f"Unknown --methods: {', '.join(sorted(unknown))}")
    methods = [m for m in METHODS if m in args.methods and not (args.skip_hf and m == "hf_pipeline")
               and not (args.gpu_id >= 0 and (m in CPU_INFERENCE or m == "predict_int8_stored"))]
    runs: Dict[str, List[Dict[str, Any]]] = {m: [] for m in methods}
    with tempfile.TemporaryDirectory() as tmp:
        texts_path = Path(tmp) / "texts.txt"
        texts_path.write_text("\n".join(texts) + "\n", encoding="utf8")
        warm = Path(tmp) / "warm-cache"
        if "predict_int8_warm" in methods:  # the graph cached by an earlier load
            build = ("import sys; from spacy_bert_ner.inference.loading import load_pipeline; "
                     "load_pipeline(sys.argv[1], cpu_inference='int8')")
            subprocess.run([sys.executable, "-c", build, args.model], check=True,
                           env={**os.environ, "SPACY_BERT_NER_CACHE": str(warm)})
        if "predict_int8_stored" in methods:  # saved set to int8: the graph stored with it
            args.stored_model = str(Path(tmp) / "stored")
            save = ("import sys; from spacy_bert_ner.inference.loading import load_pipeline; "
                    "load_pipeline(sys.argv[1], cpu_inference='int8').to_disk(sys.argv[2])")
            subprocess.run([sys.executable, "-c", save, args.model, args.stored_model], check=True,
                           env={**os.environ, "SPACY_BERT_NER_CACHE": str(Path(tmp) / "save-cache")})
        for round_ in range(args.repeat):  # round-robin, so a busy spell hits every method alike
            for i, method in enumerate(methods):
                print(f"Round {round_ + 1}/{args.repeat}: {method} ...", flush=True)
                cache = warm if method == "predict_int8_warm" else Path(tmp) / f"empty-{round_}-{i}"
                runs[method].append(measure_once(method, args, texts_path, bio_labels, cache))
    results = {method: median_run(method_runs, n_words) for method, method_runs in runs.items()}
    ratios = {}
    for mine in [m for m in methods if m.startswith("predict")]:
        for other in [m for m in methods if m != mine]:
            ratios[f"{mine}_over_{other}_words_per_s"] = round(
                results[mine]["words_per_s"] / results[other]["words_per_s"], 3)
        if "predict" in results and mine != "predict":
            for key in ("load_s", "peak_rss_mb", "rss_end_mb"):
                ratios[f"{mine}_over_predict_{key}"] = round(results[mine][key] / results["predict"][key], 3)
    report = {
        "note": args.note, "model": str(args.model), "encoder": str(args.encoder), "hf_model": args.hf_model,
        "data": str(args.data),
        "docs": len(texts), "words": n_words, "batch_size": args.batch_size, "repeat": args.repeat,
        "device": f"cuda:{args.gpu_id}" if args.gpu_id >= 0 else f"cpu ({os.cpu_count()} cores visible)",
        "machine": platform.platform(), "cpu_bf16": native_bf16_cpu(), "results": results, "ratios": ratios,
    }
    write_json(args.output, report)
    print(f"\n{len(texts)} docs, {n_words} words, batch size {args.batch_size}, {report['device']}")
    print(f"{'method':<20}{'words/s':>10}{'words/CPU s':>13}{'run s':>9}{'load s':>9}"
          f"{'peak RSS MB':>13}{'tenth RSS MB':>14}{'end RSS MB':>12}")
    for method, r in results.items():
        print(f"{method:<20}{r['words_per_s']:>10.0f}{r['words_per_cpu_s']:>13.0f}{r['run_s']:>9.2f}"
              f"{r['load_s']:>9.2f}{r['peak_rss_mb']:>13.0f}{r.get('rss_tenth_mb', float('nan')):>14.0f}"
              f"{r['rss_end_mb']:>12.0f}")
    for name, value in ratios.items():
        print(f"{name}: {value:.2f}")
    print(f"Wrote {args.output}")


if __name__ == "__main__":
    main()
