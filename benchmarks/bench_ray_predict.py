"""How `predict --engine ray` scales on one machine, beside `predict` in one process.

    python benchmarks/bench_ray_predict.py MODEL [--data FILE.iob2] [--words 200000]
        [--output benchmarks/results/ray_predict.json]

The sentences of a UNER IOB2 file (default: the Danish DDT test split) repeated to about
`--words` words, one per line, are run by the real command, each run a process of its own timed
from start to exit, so loading and Ray's start count:

- `local`: `predict` in one process, torch with 2 threads;
- `ray_1`: `--engine ray --workers 1 --cpus-per-worker 1` (a local Ray started by the command);
- `ray_2`: `--engine ray --workers 2 --cpus-per-worker 1`.

Each also runs on the first 100 sentences, where the time is almost all start-up: `startup_s`.
`words_per_s` is over the whole run; `net_words_per_s` leaves out the start-up
((words - small words) / (seconds - small seconds)), the rate a long job settles at. Scaling
efficiency: net words/s of ray_2 over twice ray_1's; Ray's own cost: ray_1 against local, both
net, and the start-up difference. Runs alternate method by method in each round (--repeat), the
median kept, so a drift of the machine touches every method alike.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

from spacy_bert_ner.jsonfiles import write_json

from bench_predict import DEFAULT_DATA, read_sentences

ROOT = Path(__file__).resolve().parent.parent
METHODS = {
    "local": [],
    "ray_1": ["--engine", "ray", "--workers", "1", "--cpus-per-worker", "1"],
    "ray_2": ["--engine", "ray", "--workers", "2", "--cpus-per-worker", "1"],
}
SMALL = 100  # sentences of the start-up run


def timed_run(model: str, source: Path, output: Path, options: List[str], batch_size: int) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "spacy_bert_ner", "predict", model, str(source), str(output),
                    "--batch-size", str(batch_size), *options], check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    output.unlink()
    return seconds


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--words", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "ray_predict.json")
    args = parser.parse_args(argv)
    sentences, n_words = read_sentences(args.data)
    copies = max(1, round(args.words / n_words))
    small_words = sum(len(s.split()) for s in sentences[:SMALL]) * n_words / sum(len(s.split()) for s in sentences)
    runs: Dict[str, Dict[str, List[float]]] = {name: {"small": [], "large": []} for name in METHODS}
    with tempfile.TemporaryDirectory() as tmp:
        large, small = Path(tmp) / "large.txt", Path(tmp) / "small.txt"
        large.write_text("".join(s + "\n" for s in sentences * copies), encoding="utf8")
        small.write_text("".join(s + "\n" for s in sentences[:SMALL]), encoding="utf8")
        for round_ in range(args.repeat):
            for name, options in METHODS.items():
                for size, source in (("small", small), ("large", large)):
                    seconds = timed_run(args.model, source, Path(tmp) / "out.jsonl", options, args.batch_size)
                    runs[name][size].append(seconds)
                    print(f"round {round_ + 1} {name} {size}: {seconds:.1f} s", flush=True)
    words = n_words * copies
    results = {}
    for name, times in runs.items():
        small_s, large_s = statistics.median(times["small"]), statistics.median(times["large"])
        results[name] = {"seconds": round(large_s, 1), "startup_s": round(small_s, 1),
                         "words_per_s": round(words / large_s, 1),
                         "net_words_per_s": round((words - small_words) / (large_s - small_s), 1)}
    net = {name: r["net_words_per_s"] for name, r in results.items()}
    report = {
        "data": str(args.data), "model": args.model, "documents": len(sentences) * copies, "words": words,
        "batch_size": args.batch_size, "repeat": args.repeat, "cpus": os.cpu_count(),
        "machine": platform.processor() or platform.machine(), "methods": results,
        "scaling_efficiency_2_workers": round(net["ray_2"] / (2 * net["ray_1"]), 3),
        "ray_2_over_local_net": round(net["ray_2"] / net["local"], 3),
        "ray_1_over_local_net": round(net["ray_1"] / net["local"], 3),
        "ray_startup_extra_s": round(results["ray_1"]["startup_s"] - results["local"]["startup_s"], 1),
    }
    print(json.dumps(report, indent=2))
    write_json(args.output, report)


if __name__ == "__main__":
    main()
