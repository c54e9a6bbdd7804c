"""Resident memory of a config's training steps, and how much of it the allocator only keeps.

    python -m benchmarks.memory_probe --encoder DIR --train TRAIN.spacy --dev DEV.spacy
        [--config configs/ner_trf.cfg] [--lang da] [--steps 400] [--every 50] [--eval-every 100]
        [--trim] [--output benchmarks/results/memory_probe.json]

The harness saw `ours`'s memory climb through a long run (2.6 GB at step 207, 5.6 GB at 3,519)
while the recipe's stayed flat. This runs the steps as `spacy train` takes them (`nlp.update`,
`finish_update`, dev evaluated every `--eval-every` steps) and reads VmRSS/VmHWM every `--every`
steps. With `--trim` it then calls glibc's `malloc_trim(0)` and reads again: what that hands
back was freed memory the allocator kept; what stays is in use. Run it once with and once
without `--trim` (and with environment variables such as MALLOC_MMAP_THRESHOLD_) to compare;
each run appends one record to the results file.

`--inspect` adds, at each reading, what holds the memory: glibc's own count of the bytes it has
handed out and not had back (`mallinfo2`: heap in use plus mmapped blocks) against what it keeps
free, the live torch tensors and their bytes, the Python objects by type (the types that grew most
since the first reading) and the vocabulary's size. Resident memory that grows while the bytes in
use stay flat is the allocator's; bytes in use that grow are a reference something keeps.
"""
import argparse
import collections
import ctypes
import gc
import json
import os
import random
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Dict, List
from xml.etree import ElementTree

from spacy_bert_ner.jsonfiles import write_json

from .bench_train_step import training_steps
from .time_marks import process_memory_mb

ROOT = Path(__file__).resolve().parent.parent


class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]


def live_tensors() -> List[Any]:
    """Every torch tensor the garbage collector reaches, after a collection."""
    import torch

    gc.collect()
    with warnings.catch_warnings():  # isinstance touches torch.distributed's deprecated reduce_op
        warnings.simplefilter("ignore", FutureWarning)
        return [obj for obj in gc.get_objects() if isinstance(obj, torch.Tensor)]


def arenas_mb() -> List[Dict[str, float]]:
    """Each malloc arena's size and the free bytes in it, from glibc's `malloc_info` (heap 0 is the
    main arena, the others belong to threads): which one grows."""
    libc = ctypes.CDLL("libc.so.6")
    libc.fopen.restype, libc.fopen.argtypes = ctypes.c_void_p, [ctypes.c_char_p, ctypes.c_char_p]
    libc.malloc_info.argtypes, libc.fclose.argtypes = [ctypes.c_int, ctypes.c_void_p], [ctypes.c_void_p]
    with tempfile.NamedTemporaryFile(suffix=".xml") as out:
        stream = libc.fopen(out.name.encode(), b"w")
        libc.malloc_info(0, stream)
        libc.fclose(stream)
        root = ElementTree.parse(out.name).getroot()
    mb = 1024 * 1024
    return [{"heap": int(heap.get("nr")),
             "size_mb": round(int(heap.find("system[@type='current']").get("size")) / mb, 1),
             "free_mb": round(sum(int(t.get("size")) for t in heap.findall("total")) / mb, 1)}
            for heap in root.findall("heap")]


def held(nlp, first_counts: Dict[str, int]) -> Dict[str, Any]:
    """What holds memory now (see the module docstring); `first_counts` is filled on the first call."""
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = MallInfo2
    info = libc.mallinfo2()
    tensors = live_tensors()
    counts = collections.Counter(type(obj).__qualname__ for obj in gc.get_objects())
    if not first_counts:
        first_counts.update(counts)
    grown = sorted(((counts[k] - first_counts.get(k, 0), k) for k in counts), reverse=True)[:8]
    mb = 1024 * 1024
    return {"malloc_in_use_mb": round((info.uordblks + info.hblkhd) / mb, 1),
            "malloc_mmapped_mb": round(info.hblkhd / mb, 1), "malloc_free_mb": round(info.fordblks / mb, 1),
            "arenas": arenas_mb(),
            "torch_tensors": len(tensors),
            "torch_tensor_mb": round(sum(t.untyped_storage().nbytes() for t in tensors) / mb, 1),
            "python_objects": sum(counts.values()), "grown_types": {k: n for n, k in grown if n > 0},
            "vocab_lexemes": len(nlp.vocab), "vocab_strings": len(nlp.vocab.strings)}


def probe(args: argparse.Namespace) -> Dict[str, Any]:
    from spacy.training import Corpus

    overrides = dict(json.loads(item) for item in args.override)
    nlp, training, examples, take_step = training_steps(args.config, args.encoder, args.train, args.dev, args.lang,
                                                        overrides)
    dev = list(Corpus(str(args.dev))(nlp))
    malloc_trim = ctypes.CDLL("libc.so.6").malloc_trim if args.trim else None
    rng = random.Random(0)
    samples, step, start, first_counts = [], 0, time.perf_counter(), {}
    while step < args.steps:
        rng.shuffle(examples)
        for batch in training["batcher"](examples):
            take_step(batch)
            step += 1
            if args.eval_every and step % args.eval_every == 0:
                nlp.evaluate(dev)
            if step % args.every == 0:
                memory = process_memory_mb()
                sample = {"step": step, "seconds": round(time.perf_counter() - start, 1),
                          "rss_mb": memory["VmRSS"], "peak_mb": memory["VmHWM"]}
                if args.inspect:
                    sample.update(held(nlp, first_counts))
                if malloc_trim:
                    malloc_trim(0)
                    sample["rss_after_trim_mb"] = process_memory_mb()["VmRSS"]
                samples.append(sample)
                print(json.dumps(sample), flush=True)
            if step >= args.steps:
                break
    return {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "command": " ".join(sys.argv), "trim": args.trim,
            "overrides": overrides,
            "malloc_env": {k: v for k, v in os.environ.items() if k.startswith("MALLOC_")},
            "config": str(args.config), "encoder": args.encoder, "samples": samples}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--encoder", required=True, help="encoder directory (a trimmed one, as trained)")
    parser.add_argument("--train", type=Path, required=True)
    parser.add_argument("--dev", type=Path, required=True)
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "ner_trf.cfg")
    parser.add_argument("--lang", default="da")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--every", type=int, default=50, help="read memory every N steps")
    parser.add_argument("--eval-every", type=int, default=100, help="evaluate on dev every N steps (0: never)")
    parser.add_argument("--trim", action="store_true", help="malloc_trim(0) after each reading (glibc only)")
    parser.add_argument("--inspect", action="store_true", help="also record what holds the memory (slower readings)")
    parser.add_argument("--override", action="append", default=[], metavar='["SECTION.KEY", VALUE]',
                        help="a config override as a JSON pair, e.g. '[\"training.dropout\", 0.2]' (repeatable)")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "memory_probe.json")
    args = parser.parse_args()
    record = probe(args)
    runs = json.loads(args.output.read_text(encoding="utf8")) if args.output.is_file() else []
    write_json(args.output, runs + [record])
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
