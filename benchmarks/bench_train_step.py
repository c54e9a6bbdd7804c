"""Training words/s of a config's update step, variant beside variant, in one run.

    python -m benchmarks.bench_train_step --encoder DIR --train TRAIN.spacy [--config configs/ner_trf.cfg]
        [--lang da] [--steps 30] [--repeat 2] [--output benchmarks/results/train_step.json]

A few minutes instead of a harness run's quarter hour: it times `nlp.update` plus every
component's `finish_update`, as `spacy train` takes a step, over the same number of batches from
the config's own train reader and batcher, with no evaluation. Variants:

- `documents_fp32`: whole converted documents, float32 (the configs before sentence chunks and
  bf16 autocast);
- `documents_bf16`, `chunks_fp32`: one of the two changes;
- `chunks_bf16`: the configs' defaults on a CPU with native bf16;
- `sentences_fp32`, `sentences_bf16`: single sentences (`max_sentences = 1`) instead of chunks.
- `chunks_bf16_glibc_default`: `chunks_bf16` with glibc's own allocator behaviour (its dynamic
  mmap threshold, no trimming): what the configs' memory settings cost in speed;
  `chunks_bf16_mmap256k` (blocks from 256 KB up mapped) and `chunks_bf16_trim_every_step`, the
  settings' stricter values.

Each variant runs in its own process, `--repeat` rounds in turn; the median words/s of each is kept
and divided by `documents_fp32`'s. Only the step time is measured, so these ratios are the upper
bound of what a harness run (which adds evaluation and checkpoints) shows.
"""
import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict

from spacy_bert_ner.jsonfiles import write_json

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = {
    "documents_fp32": {"corpora.train.augmenter": None, "initialize.after_init.bf16_on_cpu": False},
    "documents_bf16": {"corpora.train.augmenter": None, "initialize.after_init.bf16_on_cpu": True},
    "chunks_fp32": {"initialize.after_init.bf16_on_cpu": False},
    "chunks_bf16": {"initialize.after_init.bf16_on_cpu": True},
    "sentences_fp32": {"corpora.train.augmenter.max_sentences": 1, "initialize.after_init.bf16_on_cpu": False},
    "sentences_bf16": {"corpora.train.augmenter.max_sentences": 1, "initialize.after_init.bf16_on_cpu": True},
    "chunks_bf16_glibc_default": {"initialize.after_init.bf16_on_cpu": True, "initialize.before_init.threshold_mb": 0,
                                  "training.before_update": None},
    "chunks_bf16_mmap256k": {"initialize.after_init.bf16_on_cpu": True, "initialize.before_init.threshold_mb": 0.25},
    "chunks_bf16_trim_every_step": {"initialize.after_init.bf16_on_cpu": True,
                                    "training.before_update.every_steps": 1},
}
WARMUP_STEPS = 3


def training_steps(config: Path, encoder: str, train: Path, dev: Path, lang: str, overrides: Dict[str, Any]):
    """The pipeline, its resolved [training] block, the training examples (augmenter applied, in
    corpus order) and a function taking one step as `spacy train` does: `[training.before_update]`,
    `nlp.update`, every component's `finish_update` and the schedules' step. Shared with memory_probe and gpu_check."""
    from spacy.training.initialize import init_nlp
    from spacy.util import load_config, registry

    config_overrides = {"paths.train": str(train), "paths.dev": str(dev), "nlp.lang": lang,
                        "components.transformer.model.name": encoder, **overrides}
    nlp = init_nlp(load_config(config, overrides=config_overrides, interpolate=False))
    config = nlp.config.interpolate()
    training = registry.resolve(config["training"], validate=False)
    corpus = registry.resolve({"corpus": config["corpora"]["train"]})["corpus"]
    examples = list(corpus(nlp))
    optimizer = training["optimizer"]
    trainable = [proc for _, proc in nlp.pipeline if getattr(proc, "is_trainable", False)]
    before_update, steps = training["before_update"], [0]

    def step(batch, epoch: int = 0):
        if before_update:
            before_update(nlp, {"step": steps[0], "epoch": epoch})
        steps[0] += 1
        nlp.update(batch, sgd=False, drop=training["dropout"])
        for proc in trainable:
            proc.finish_update(optimizer)
        optimizer.step_schedules()

    return nlp, training, examples, step


def measure(config: Path, encoder: str, train: Path, lang: str, steps: int, overrides: Dict[str, Any]) -> Dict[str, Any]:
    """Time `steps` training steps after a few untimed ones; runs in the child process."""
    nlp, training, examples, step = training_steps(config, encoder, train, train, lang, overrides)
    random.Random(0).shuffle(examples)
    batches = list(training["batcher"](examples))[:WARMUP_STEPS + steps]
    for batch in batches[:WARMUP_STEPS]:
        step(batch)
    timed = batches[WARMUP_STEPS:]
    words = sum(len(eg.reference) for batch in timed for eg in batch)
    start = time.perf_counter()
    for batch in timed:
        step(batch)
    seconds = time.perf_counter() - start
    return {"steps": len(timed), "words": words, "seconds": round(seconds, 2),
            "words_per_s": round(words / seconds, 1), "bf16": getattr(
                nlp.get_pipe("transformer").model.layers[0].shims[0], "bf16_training", False)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoder", required=True, help="encoder directory or Hub name (a trimmed one, as trained)")
    parser.add_argument("--train", type=Path, required=True, help="training DocBin, converted with sentence boundaries")
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "ner_trf.cfg")
    parser.add_argument("--lang", default="da")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "train_step.json")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = measure(args.config, args.encoder, args.train, args.lang, args.steps, VARIANTS[args.child])
        print("RESULT " + json.dumps(result), flush=True)
        return
    variants = args.variants.split(",")
    runs: Dict[str, list] = {name: [] for name in variants}
    for round_ in range(args.repeat):
        for name in variants:
            cmd = [sys.executable, "-m", "benchmarks.bench_train_step", "--child", name, "--encoder", args.encoder,
                   "--train", str(args.train), "--config", str(args.config), "--lang", args.lang,
                   "--steps", str(args.steps)]
            out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1",
                                 "TOKENIZERS_PARALLELISM": "false"})
            lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
            if out.returncode != 0 or not lines:
                sys.exit(f"{name} failed ({out.returncode}):\n{out.stderr[-3000:]}")
            runs[name].append(json.loads(lines[-1][len("RESULT "):]))
            print(f"round {round_ + 1} {name:15s} {runs[name][-1]['words_per_s']:7.1f} words/s", flush=True)
    from spacy_bert_ner.training.hooks import native_bf16_cpu

    median = {name: statistics.median(r["words_per_s"] for r in results) for name, results in runs.items()}
    base = median.get("documents_fp32")
    results = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join(sys.argv),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "native_bf16": native_bf16_cpu()},
        "config": str(args.config), "encoder": args.encoder, "train": str(args.train),
        "variants": {name: {"words_per_s": median[name], "ratio_to_documents_fp32":
                            round(median[name] / base, 2) if base else None, "runs": runs[name]}
                     for name in variants},
    }
    write_json(args.output, results)
    for name in variants:
        ratio = results["variants"][name]["ratio_to_documents_fp32"]
        print(f"{name:15s} {median[name]:7.1f} words/s" + (f"  {ratio:.2f}x documents_fp32" if ratio else ""))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
