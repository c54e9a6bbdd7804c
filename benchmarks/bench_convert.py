"""Conversion throughput of `spacy-bert-ner convert` beside `python -m spacy convert`.

    python benchmarks/bench_convert.py [--data FILE.iob2] [--repeat N] [--output benchmarks/results/convert.json]

On a UNER IOB2 file (default: the Portuguese Bosque train split, 172k tokens) it times:

- `ours_cli`: `spacy-bert-ner convert FILE` as a user runs it (process start included);
- `spacy_cli`: `python -m spacy convert -c ner -n 10` on a copy in spaCy's `ner` input format
  (`TOKEN TAG` lines, `-DOCSTART- -X- O O` at each `# newdoc`, spaces inside a token replaced
  by `_`), made beforehand and not timed: spaCy has no reader for UNER files;
- `ours_api` / `spacy_api`: the same two conversions in this process (reading, Docs and
  writing the DocBin, no interpreter or import start), so the converters themselves compare.

Ours does more per token (it rebuilds whitespace from `# text`, counts and reports), and
reads the original file. Figures vary on a busy machine: the fastest of --repeat runs is kept.
"""
import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict

from spacy_bert_ner.jsonfiles import write_json

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "uner_portuguese_bosque" / "pt_bosque-ud-train.iob2"


def spacy_ner_copy(src: Path, dst: Path) -> None:
    """The UNER file in the format of spaCy's `ner` converter."""
    out = []
    for line in src.read_text(encoding="utf8").split("\n"):
        if line.startswith("# newdoc"):
            out += ["-DOCSTART- -X- O O", ""]
        elif line.startswith("#"):
            continue
        elif not line.strip():
            out.append("")
        else:
            fields = line.split("\t")
            out.append(f"{fields[1].replace(' ', '_')} {fields[2]}")
    dst.write_text("\n".join(out) + "\n", encoding="utf8")


def best_of(repeat: int, run: Callable[[], None]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def run_cli(args) -> None:
    subprocess.run([sys.executable, "-m", *args], check=True, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "convert.json")
    args = parser.parse_args()
    if not args.data.exists():
        sys.exit(f"{args.data} not found: pass --data with a UNER IOB2 file")

    import spacy
    from spacy.tokens import DocBin
    from spacy.training.converters import conll_ner_to_docs

    from spacy_bert_ner.readers import read_corpus

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        copy = tmp / "spacy_input.conll"
        spacy_ner_copy(args.data, copy)
        (tmp / "spacy").mkdir()  # spacy convert wants an existing output folder
        docs, report = read_corpus(args.data, "pt")
        tokens = report.tokens
        nlp = spacy.blank("pt")
        spacy_docs = list(conll_ner_to_docs(copy.read_text(encoding="utf8"), n_sents=10, no_print=True))
        if sum(len(d) for d in spacy_docs) != tokens:
            sys.exit("the spaCy copy does not hold the same tokens; check the input file")

        def ours_api() -> None:
            docs, _ = read_corpus(args.data, nlp)
            DocBin(docs=docs, store_user_data=False).to_disk(tmp / "ours_api.spacy")

        def spacy_api() -> None:
            text = copy.read_text(encoding="utf8")
            docs = conll_ner_to_docs(text, n_sents=10, no_print=True)
            DocBin(docs=docs, store_user_data=False).to_disk(tmp / "spacy_api.spacy")

        seconds: Dict[str, float] = {
            "ours_cli": best_of(args.repeat, lambda: run_cli(
                ["spacy_bert_ner", "convert", str(args.data), "-o", str(tmp / "ours"), "--lang", "pt"])),
            "spacy_cli": best_of(args.repeat, lambda: run_cli(
                ["spacy", "convert", str(copy), str(tmp / "spacy"), "-c", "ner", "-n", "10", "-l", "pt"])),
            "ours_api": best_of(args.repeat, ours_api),
            "spacy_api": best_of(args.repeat, spacy_api),
        }
    result = {
        "data": os.path.relpath(args.data, ROOT),
        "tokens": tokens,
        "entities": {"ours": sum(report.entities.values()), "spacy": sum(len(d.ents) for d in spacy_docs)},
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
        "tokens_per_s": {k: round(tokens / v) for k, v in seconds.items()},
        "speedup_vs_spacy": {
            "cli": round(seconds["spacy_cli"] / seconds["ours_cli"], 2),
            "api": round(seconds["spacy_api"] / seconds["ours_api"], 2),
        },
        "repeat": args.repeat,
        "machine": f"{platform.machine()}, {platform.python_version()}, spaCy {spacy.__version__}",
    }
    print(f"{tokens} tokens from {args.data.name}")
    print(f"{'':10} {'seconds':>8} {'tokens/s':>10}")
    for name in seconds:
        print(f"{name:10} {seconds[name]:8.2f} {result['tokens_per_s'][name]:10}")
    print(f"ours / spaCy throughput: CLI x{result['speedup_vs_spacy']['cli']}, API x{result['speedup_vs_spacy']['api']}")
    write_json(args.output, result)
    print(f"Written to {args.output}")


if __name__ == "__main__":
    main()
