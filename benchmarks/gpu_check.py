"""GPU check: training and `predict` words/s and peak GPU memory of the project's pipeline, one run.

    python -m benchmarks.gpu_check --gpu-id 0 --corpus gpu_bundle/corpus \
        --encoder-shape gpu_bundle/encoder_shape --output $OUT/gpu_check.json
    python -m benchmarks.gpu_check --gpu-id -1 --size tiny --demo-steps 6 --seconds 1 ...  # CPU dry run

scripts/gpu_check.sh runs this (with the bundle of scripts/gpu_bundle.sh on a machine without
spaCy); the test suite runs its CPU dry run, so the device run takes the code path tested here.
Each phase is written to the output as soon as it ends, so a run stopped by a time limit keeps
the phases it finished; a phase that fails is recorded with its error and the run exits 1.

- `environment`: device, library versions and where they were imported from, and any version
  requirement of the pipeline's libraries that the installed versions do not meet.
- `demo`: `spacy-bert-ner train` (the real command: corpus checks, mixed precision on a GPU) of
  --config on the shipped demo corpus with a base-size (768 wide, 12 layers, 12 heads) randomly
  initialised BERT whose WordPiece vocabulary is trained on that corpus; training words/s from the
  training log, then nlp.pipe words/s at batch 64. The check this script has always made.
- `train_<B>` for each padded batch size B (--batches, 2,000 and 8,000): the config's training
  step, as `spacy train` takes it (benchmarks.bench_train_step.training_steps: `nlp.update` and
  every `finish_update`, mixed precision on a GPU as `train` sets it), on the corpus (UNER Danish),
  for --seconds after warm-up steps; words/s and peak GPU memory. The encoder has the config and
  tokenizer of --encoder-shape (the trimmed multilingual-e5-small) and random weights: the same
  sequence lengths and arithmetic as the trained encoder, so the same speed, but no F-score.
- `predict_<N>` for each batch size N (--predict-batches, 64 and 256): the real `predict` (JSONL
  in, nlp.pipe, JSONL out) of the pipeline of the first train phase, saved and loaded as `predict`
  loads it, on the test texts repeated to fill about --seconds.

Words are corpus tokens. GPU memory: torch's peak allocation in the phase (thinc's cupy arrays are
allocated through torch: the config's `[training] gpu_allocator = "pytorch"`, which the first
training sets for the rest of the run), cupy's own pool (so nearly empty) and the device's used
memory at the end of the phase.
"""
import argparse
import gc
import importlib.util
import json
import os
import platform
import random
import resource
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "assets" / "demo"
SIZES = {"base": dict(hidden=768, layers=12, heads=12), "tiny": dict(hidden=64, layers=2, heads=2)}
WARMUP_STEPS = 3
# The benchmark corpora have a few gold entities inside a token of the Danish tokenizer
# (benchmarks.harness.MAX_MISALIGNED; the demo corpus 2 of 618).
MAX_MISALIGNED = 0.02
LIBRARIES = ("spacy", "thinc", "spacy-transformers", "transformers", "tokenizers", "huggingface-hub",
             "torch", "cupy-cuda13x", "cupy-cuda12x", "numpy", "pydantic")
MiB = 2 ** 20


class Check:
    """The figures so far, written to the output file after every phase."""

    def __init__(self, output: Path, args: argparse.Namespace):
        self.output = output
        self.gpu_id = args.gpu_id
        self.results: Dict[str, Any] = {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                                        "command": " ".join(sys.argv), "settings": {
                                            k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
                                        "phases": {}}
        self.failed: List[str] = []

    def phase(self, name: str, run: Callable[[], Dict[str, Any]]) -> Optional[Dict[str, Any]]:
        print(f"gpu_check: {name} ...", flush=True)
        reset_peak_memory(self.gpu_id)
        start = time.perf_counter()
        try:
            figures = run()
        except Exception:  # recorded and reported: the later phases still run
            figures = {"error": traceback.format_exc(limit=-8)}
            self.failed.append(name)
            print(figures["error"], file=sys.stderr, flush=True)
        else:
            figures.update(gpu_memory(self.gpu_id))
        figures["phase_seconds"] = round(time.perf_counter() - start, 1)
        figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        self.results["phases"][name] = figures
        self.write()
        return None if "error" in figures else figures

    def write(self) -> None:
        self.output.parent.mkdir(parents=True, exist_ok=True)
        self.output.write_text(json.dumps(self.results, indent=2, default=str) + "\n", encoding="utf8")


def synchronize(gpu_id: int) -> None:
    if gpu_id >= 0:
        import torch

        torch.cuda.synchronize(gpu_id)


def reset_peak_memory(gpu_id: int) -> None:
    gc.collect()
    if gpu_id >= 0:
        import torch

        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(gpu_id)


def gpu_memory(gpu_id: int) -> Dict[str, float]:
    if gpu_id < 0:
        return {}
    import torch

    free, total = torch.cuda.mem_get_info(gpu_id)
    figures = {"gpu_peak_allocated_mb": round(torch.cuda.max_memory_allocated(gpu_id) / MiB, 1),
               "gpu_peak_reserved_mb": round(torch.cuda.max_memory_reserved(gpu_id) / MiB, 1),
               "gpu_device_used_mb": round((total - free) / MiB, 1)}
    try:
        import cupy

        figures["cupy_pool_mb"] = round(cupy.get_default_memory_pool().total_bytes() / MiB, 1)
    except ImportError:
        pass
    return figures


def environment(gpu_id: int) -> Dict[str, Any]:
    """Versions, their folders, the device; stops at once, saying what to do, without torch, cupy or
    the project's libraries."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        import spacy_transformers  # noqa: F401
        import torch

        import spacy_bert_ner  # noqa: F401
    except ImportError as err:
        sys.exit(f"gpu_check: {err}. Install the project here (python -m pip install -e .), or, on a machine "
                 "without spaCy, make the bundle with scripts/gpu_bundle.sh DIR and run with BUNDLE=DIR.")
    figures: Dict[str, Any] = {"python": platform.python_version(), "machine": platform.platform(),
                               "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads()}
    for name in LIBRARIES:
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            continue
        figures[name] = f"{dist.version} ({dist.locate_file('')})"
    figures["version_conflicts"] = version_conflicts()
    if gpu_id >= 0:
        if not torch.cuda.is_available():
            sys.exit(f"gpu_check: torch {torch.__version__} sees no CUDA device. Install a CUDA build of "
                     "torch, or run with --gpu-id -1 (GPU_ID=-1) for a CPU dry run.")
        if importlib.util.find_spec("cupy") is None:
            sys.exit("gpu_check: cupy is not installed (thinc's GPU ops, needed by spacy.require_gpu); "
                     "install the wheel for your CUDA, e.g. pip install cupy-cuda12x")
        props = torch.cuda.get_device_properties(gpu_id)
        figures.update(device=props.name, capability=f"{props.major}.{props.minor}",
                       gpu_memory_mb=round(props.total_memory / MiB), cuda=torch.version.cuda)
        try:
            figures["thinc_torch_round_trip"] = thinc_round_trip(gpu_id)
        except Exception:
            figures["thinc_torch_round_trip_error"] = traceback.format_exc(limit=-4)
    else:
        figures["device"] = "cpu"
    return figures


def thinc_round_trip(gpu_id: int) -> str:
    """What every training step does: a cupy array to torch (dlpack) and back. A cupy or torch
    version that thinc cannot pair fails here in a second, not after minutes of setup."""
    import torch
    from thinc.api import get_current_ops, require_gpu, torch2xp, xp2torch

    require_gpu(gpu_id)
    ops = get_current_ops()
    doubled = torch2xp(xp2torch(ops.xp.ones((2, 3), dtype="float32")) * 2)
    if float(doubled.sum()) != 12.0 or not isinstance(doubled, ops.xp.ndarray):
        raise RuntimeError(f"cupy -> torch -> cupy gave {doubled!r}")
    return f"ok ({type(ops).__name__}, torch {torch.__version__}, cupy {ops.xp.__version__})"


def version_conflicts() -> List[str]:
    """Requirements of the pipeline's libraries that the versions found first on sys.path miss:
    on a device whose own packages are partly shadowed by a carried bundle, the likely failure."""
    from importlib.metadata import PackageNotFoundError, distribution, version

    from packaging.requirements import Requirement

    conflicts = []
    for name in ("spacy", "thinc", "spacy-transformers", "transformers", "tokenizers", "huggingface-hub",
                 "pydantic", "weasel", "confection"):
        try:
            requires = distribution(name).requires or []
        except PackageNotFoundError:
            conflicts.append(f"{name} is not installed")
            continue
        for line in requires:
            req = Requirement(line)
            if req.marker and not req.marker.evaluate({"extra": ""}):
                continue
            try:
                found = version(req.name)
            except PackageNotFoundError:
                conflicts.append(f"{name} needs {req}: not installed")
                continue
            if req.specifier and not req.specifier.contains(found, prereleases=True):
                conflicts.append(f"{name} needs {req}: found {found}")
    return conflicts


def _load_builder():
    spec = importlib.util.spec_from_file_location("build_tiny_transformer", ROOT / "scripts" / "build_tiny_transformer.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def wordpiece_encoder(out: Path, corpus_files: List[Path], size: str) -> Dict[str, Any]:
    """A random BERT of SIZES[size] with a WordPiece vocabulary trained on the corpus files."""
    _load_builder().build(out, corpus_files, vocab_size=30000 if size == "base" else 1500, **SIZES[size])
    return describe_encoder(out, f"{size}-size random-init BERT, WordPiece vocabulary trained on "
                                 f"{', '.join(p.name for p in corpus_files)}")


def shaped_encoder(out: Path, shape: Path, size: str) -> Dict[str, Any]:
    """Random weights in the architecture of shape/config.json, with its tokenizer; `tiny` keeps the
    vocabulary and tokenizer but shrinks the layers (for the dry run)."""
    import torch
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    config = AutoConfig.from_pretrained(shape)
    if size == "tiny":
        hidden = SIZES["tiny"]["hidden"]
        config.update(dict(hidden_size=hidden, num_hidden_layers=SIZES["tiny"]["layers"],
                           num_attention_heads=SIZES["tiny"]["heads"], intermediate_size=4 * hidden))
    torch.manual_seed(0)
    AutoModel.from_config(config).save_pretrained(out)
    AutoTokenizer.from_pretrained(shape).save_pretrained(out)
    return describe_encoder(out, f"random-init weights in the shape of {shape}" + (" (shrunk: tiny)" if size == "tiny" else ""))


def describe_encoder(path: Path, what: str) -> Dict[str, Any]:
    config = json.loads((Path(path) / "config.json").read_text())
    return {"what": what, "model_type": config["model_type"], "hidden": config["hidden_size"],
            "layers": config["num_hidden_layers"], "heads": config["num_attention_heads"],
            "vocab": config["vocab_size"]}


def train_encoder(args: argparse.Namespace, corpus: Path, out: Path) -> Dict[str, Any]:
    """The train phases' encoder: --encoder-shape with random weights, or else a WordPiece BERT."""
    if args.encoder_shape is not None:
        return shaped_encoder(out, args.encoder_shape, args.size)
    import spacy
    from spacy.tokens import DocBin

    texts = out.parent / "corpus-texts.txt"  # `# text = ` lines: the words build_tiny_transformer reads
    vocab = spacy.blank(args.lang).vocab
    docs = DocBin().from_disk(corpus / "train.spacy").get_docs(vocab)
    texts.write_text("".join(f"# text = {doc.text}\n" for doc in docs), encoding="utf8")
    return wordpiece_encoder(out, [texts], args.size)


def corpus_splits(corpus: Path, work: Path) -> Path:
    """A folder with train/dev/test.spacy: `corpus` itself, or its *train/*dev/*test .iob2 converted."""
    if (corpus / "train.spacy").is_file():
        return corpus
    from spacy_bert_ner.readers.convert import convert

    files = {split: sorted(corpus.glob(f"*{split}.iob2")) for split in ("train", "dev", "test")}
    if any(len(found) != 1 for found in files.values()):
        sys.exit(f"gpu_check: {corpus} holds neither train/dev/test.spacy nor one *train.iob2, *dev.iob2 and "
                 f"*test.iob2 each (found {({k: [p.name for p in v] for k, v in files.items()})})")
    out = work / f"corpus-{corpus.name}"
    convert([found[0] for found in files.values()], out, "da")
    for split, found in files.items():
        (out / f"{found[0].stem}.spacy").rename(out / f"{split}.spacy")
    return out


def mixed_precision(nlp) -> bool:
    return bool(nlp.config["components"]["transformer"]["model"]["mixed_precision"])


def log_speed(log_path: Path) -> Dict[str, Any]:
    """Training words/s over the intervals between evaluations, as the logger counts them (the
    steps that evaluate are left out, so an interval needs a step without evaluation); the first
    interval, which holds the warm-up, is reported beside the others."""
    log = [json.loads(line) for line in log_path.read_text().splitlines()]
    intervals = [(b["words"] - a["words"], b["words_per_second"]) for a, b in zip(log, log[1:])
                 if b["words_per_second"] is not None]
    if not intervals:
        raise RuntimeError(f"{log_path} has no interval with a step between two evaluations: use at least 6 steps")
    steady = intervals[1:] or intervals
    words = sum(n for n, _ in steady)
    return {"train_words": words, "train_words_per_second": round(words / sum(n / wps for n, wps in steady), 1),
            "interval_words_per_second": [wps for _, wps in intervals], "steps": log[-1]["step"],
            "final_dev_ents_f": log[-1]["other_scores"]["ents_f"]}


def demo_phase(args: argparse.Namespace, work: Path) -> Dict[str, Any]:
    from spacy.tokens import DocBin

    from spacy_bert_ner.inference.loading import load_pipeline
    from spacy_bert_ner.training.train import train

    splits = [DEMO / f"{split}.iob2" for split in ("train", "dev", "test")]
    encoder = wordpiece_encoder(work / "demo-encoder", splits, args.size)
    corpus = corpus_splits(DEMO, work)
    out = work / "demo-training"
    overrides = {
        "paths.train": str(corpus / "train.spacy"), "paths.dev": str(corpus / "dev.spacy"),
        "paths.training_log": str(work / "demo-training-log.jsonl"),
        "components.transformer.model.name": str(work / "demo-encoder"),
        "training.max_steps": args.demo_steps, "training.eval_frequency": max(2, args.demo_steps // 3),
        "training.patience": 0, "training.batcher.size": 2000, "checks.max_misaligned": MAX_MISALIGNED,
        # a random-init encoder learns its embeddings too, at the heads' rate
        "initialize.after_init.encoder_lr_scale": 1.0, "initialize.after_init.freeze_word_embeddings": False,
    }
    train(args.config, out, args.gpu_id, overrides)
    figures = {"encoder": encoder, "config": str(args.config), "batch_padded_words": 2000,
               **log_speed(work / "demo-training-log.jsonl")}
    nlp = load_pipeline(str(out / "model-last"), args.gpu_id)
    figures["mixed_precision"] = mixed_precision(nlp)
    texts = [doc.text for doc in DocBin().from_disk(corpus / "test.spacy").get_docs(nlp.vocab)] * 20
    list(nlp.pipe(texts[:256], batch_size=64))  # warm-up: CUDA kernels, allocator
    synchronize(args.gpu_id)
    start = time.perf_counter()
    words = sum(len(doc) for doc in nlp.pipe(texts, batch_size=64))
    synchronize(args.gpu_id)
    figures.update(inference_words=words, inference_batch_size=64,
                   inference_words_per_second=round(words / (time.perf_counter() - start), 1))
    return figures


def batch_stream(batcher, examples: List[Any], seed: int = 0) -> Iterator[List[Any]]:
    """The batcher's batches over shuffled epochs, without end (as spaCy's train loop makes them)."""
    rng = random.Random(seed)
    while True:
        rng.shuffle(examples)
        yield from batcher(examples)


def train_phase(args: argparse.Namespace, corpus: Path, encoder: Path, batch: int,
                save_to: Optional[Path]) -> Dict[str, Any]:
    from spacy.util import load_config
    from thinc.api import require_gpu, set_gpu_allocator

    from benchmarks.bench_train_step import training_steps
    from spacy_bert_ner.training.train import precision_overrides

    config = load_config(args.config)
    overrides: Dict[str, Any] = {"training.batcher.size": batch}
    overrides.update(precision_overrides(config, args.gpu_id, overrides))
    if args.gpu_id >= 0:  # as spacy train sets up the device
        set_gpu_allocator(config["training"]["gpu_allocator"])
        require_gpu(args.gpu_id)
    start = time.perf_counter()
    nlp, training, examples, step = training_steps(args.config, str(encoder), corpus / "train.spacy",
                                                   corpus / "dev.spacy", args.lang, overrides)
    figures: Dict[str, Any] = {"batch_padded_words": batch, "init_seconds": round(time.perf_counter() - start, 1),
                               "train_examples": len(examples),
                               "mixed_precision": mixed_precision(nlp)}
    batches = batch_stream(training["batcher"], examples)
    for _ in range(WARMUP_STEPS):
        step(next(batches))
    synchronize(args.gpu_id)
    steps = words = padded = 0
    start = time.perf_counter()
    while steps < args.max_steps and (steps == 0 or time.perf_counter() - start < args.seconds):
        docs = next(batches)
        step(docs)
        steps += 1
        words += sum(len(eg.reference) for eg in docs)
        padded += max(len(eg.predicted) for eg in docs) * len(docs)
    synchronize(args.gpu_id)
    seconds = time.perf_counter() - start
    figures.update(steps=steps, seconds=round(seconds, 2), words=words, padded_words=padded,
                   words_per_step=round(words / steps, 1), padding_share=round(1 - words / padded, 3),
                   words_per_second=round(words / seconds, 1))
    if save_to is not None:
        nlp.to_disk(save_to)
    return figures


def predict_phase(args: argparse.Namespace, corpus: Path, model: Path, batch_size: int) -> Dict[str, Any]:
    from spacy.tokens import DocBin

    from spacy_bert_ner.inference.loading import load_pipeline
    from spacy_bert_ner.inference.predict import predict

    if not model.exists():
        raise RuntimeError(f"no pipeline at {model}: the first train phase failed")
    nlp = load_pipeline(str(model), args.gpu_id)  # as `predict MODEL` loads it
    docs = list(DocBin().from_disk(corpus / "test.spacy").get_docs(nlp.vocab))
    work = model.parent

    def run(n_docs: int) -> float:
        """Seconds `predict` takes over the first n_docs of the test texts, repeated."""
        chosen = [docs[i % len(docs)] for i in range(n_docs)]
        src, out = work / f"predict-{batch_size}.jsonl", work / f"predicted-{batch_size}.jsonl"
        src.write_text("".join(json.dumps({"text": d.text}, ensure_ascii=False) + "\n" for d in chosen), encoding="utf8")
        out.unlink(missing_ok=True)
        synchronize(args.gpu_id)
        start = time.perf_counter()
        summary = predict(nlp, src, out, batch_size=batch_size, gpu_id=args.gpu_id)
        synchronize(args.gpu_id)
        seconds = time.perf_counter() - start
        if summary.docs != n_docs:
            raise RuntimeError(f"predict wrote {summary.docs} of {n_docs} documents")
        return seconds

    first = min(batch_size, len(docs))
    warmup = run(first)  # CUDA kernels, allocator
    pace = first / run(first)  # documents a second, to size the timed run
    n_docs = max(len(docs), int(pace * args.seconds))
    seconds = run(n_docs)
    words = sum(len(docs[i % len(docs)]) for i in range(n_docs))
    return {"batch_size": batch_size, "docs": n_docs, "words": words, "seconds": round(seconds, 2),
            "words_per_second": round(words / seconds, 1), "warmup_docs": first,
            "warmup_seconds": round(warmup, 2),
            "mixed_precision": mixed_precision(nlp)}


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gpu-id", type=int, default=0, help="GPU to run on; -1 for the CPU dry run")
    parser.add_argument("--size", choices=SIZES, default="base",
                        help="base: the sizes to measure; tiny: 2-layer encoders for a dry run")
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "ner_trf.cfg")
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "data" / "uner_danish_ddt",
                        help="folder with train/dev/test.spacy, or with *train/*dev/*test.iob2 to convert")
    parser.add_argument("--lang", default="da")
    parser.add_argument("--encoder-shape", type=Path,
                        help="encoder folder whose config and tokenizer the train phases use, with random "
                             "weights (default: a base-size BERT with a WordPiece vocabulary of the corpus)")
    parser.add_argument("--demo-steps", type=int, default=150, help="steps of the demo phase's training")
    parser.add_argument("--batches", default="2000,8000", help="padded words per batch of the train phases")
    parser.add_argument("--predict-batches", default="64,256", help="documents per batch of the predict phases")
    parser.add_argument("--seconds", type=float, default=30.0,
                        help="timed seconds of each train phase and, roughly, of each predict phase")
    parser.add_argument("--max-steps", type=int, default=100000, help="at most this many timed steps a train phase")
    parser.add_argument("--work", type=Path, help="work folder (default: a new temporary one)")
    parser.add_argument("--output", type=Path, default=Path(os.environ.get("OUT", ".")) / "gpu_check.json")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if args.work is None:
        import tempfile

        args.work = Path(tempfile.mkdtemp(prefix="gpu_check."))
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    print(f"gpu_check: work folder {work}, figures to {args.output}", flush=True)
    check = Check(args.output, args)
    check.results["environment"] = environment(args.gpu_id)
    check.write()
    if "thinc_torch_round_trip_error" in check.results["environment"]:
        sys.exit("gpu_check: thinc cannot pass arrays between cupy and torch on this GPU, so no phase can run:\n"
                 + check.results["environment"]["thinc_torch_round_trip_error"])

    check.phase("demo", lambda: demo_phase(args, work))
    corpus = corpus_splits(args.corpus, work)
    encoder = work / "encoder"
    check.phase("encoder", lambda: train_encoder(args, corpus, encoder))
    model = work / "model"
    for i, batch in enumerate(int(b) for b in args.batches.split(",")):
        check.phase(f"train_{batch}", lambda: train_phase(args, corpus, encoder, batch, model if i == 0 else None))
    for batch_size in (int(b) for b in args.predict_batches.split(",")):
        check.phase(f"predict_{batch_size}", lambda: predict_phase(args, corpus, model, batch_size))
    summarize(check.results)
    check.write()
    print(f"gpu_check: figures in {args.output}")
    if check.failed:
        sys.exit(f"gpu_check: failed phases: {', '.join(check.failed)} (errors in {args.output})")


def summarize(results: Dict[str, Any]) -> None:
    """One line per phase, and the headline figures under `summary`."""
    phases = results["phases"]
    summary: Dict[str, Any] = {"device": results["environment"].get("device")}
    for name, figures in phases.items():
        if "error" in figures:
            print(f"gpu_check: {name:12s} FAILED")
            continue
        speed = figures.get("train_words_per_second", figures.get("words_per_second"))
        if speed is None:
            continue
        memory = figures.get("gpu_peak_allocated_mb")
        summary[f"{name}_words_per_second"] = speed
        line = f"gpu_check: {name:12s} {speed:>10,.0f} words/s"
        if memory is not None:
            summary[f"{name}_gpu_peak_allocated_mb"] = memory
            line += f", GPU peak {memory:,.0f} MB"
        print(line)
    results["summary"] = summary


if __name__ == "__main__":
    main()
