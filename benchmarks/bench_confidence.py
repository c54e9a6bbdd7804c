"""What entity scores cost: a pipeline's speed with and without its confidence component.

    python -m benchmarks.bench_confidence MODEL [--data FILE] [--rounds 3] [--batch-size 64]
        [--output benchmarks/results/confidence.json]

`bert_ner_confidence` scores the transition-based head's entities by a beam search of that head
(beam_width from the model's config) after the greedy parse, so it adds a second parse of every
document; the transformer runs once. MODEL is loaded twice in this process, once as saved and
once with the component excluded, and the two run alternately, `--rounds` times each, on the
same texts (the raw text of each document of FILE: a corpus file `convert` reads, or a DocBin;
default: UNER Danish-DDT test). The median round of each is kept; the ratio is the figure to
compare across machines.
"""
import argparse
import platform
import statistics
import time
from pathlib import Path
from typing import Dict, List

import spacy

from spacy_bert_ner.jsonfiles import write_json
from spacy_bert_ner.readers.docbin import read_docbin

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "uner_danish_ddt" / "da_ddt-ud-test.iob2"
COMPONENT = "bert_ner_confidence"


def read_texts(path: Path, nlp) -> List[str]:
    if path.suffix == ".spacy":
        docs = read_docbin(path, nlp.vocab)
    else:
        from spacy_bert_ner.readers import read_corpus

        docs, _ = read_corpus(path, nlp.lang)
    return [doc.text for doc in docs]


def timed(nlp, texts: List[str], batch_size: int) -> Dict[str, float]:
    start = time.perf_counter()
    docs = list(nlp.pipe(texts, batch_size=batch_size))
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "entities": sum(len(doc.ents) for doc in docs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "confidence.json")
    args = parser.parse_args()
    scored = spacy.load(args.model)
    if COMPONENT not in scored.pipe_names:
        raise SystemExit(f"{args.model} has no {COMPONENT} component (pipeline: {scored.pipe_names}).")
    plain = spacy.load(args.model, exclude=[COMPONENT])
    texts = read_texts(args.data, plain)
    words = sum(len(plain.make_doc(text)) for text in texts)
    timed(plain, texts[:8], args.batch_size), timed(scored, texts[:8], args.batch_size)  # warm-up
    rounds: Dict[str, List[Dict[str, float]]] = {"without": [], "with": []}
    for _ in range(args.rounds):
        for name, nlp in (("without", plain), ("with", scored)):
            rounds[name].append(timed(nlp, texts, args.batch_size))
            print(f"{name} {COMPONENT}: {words / rounds[name][-1]['seconds']:,.0f} words/s")
    result = {"model": str(args.model), "data": str(args.data), "texts": len(texts), "words": words,
              "beam_width": scored.config["components"][COMPONENT]["beam_width"],
              "batch_size": args.batch_size, "rounds": args.rounds, "machine": platform.processor() or platform.machine()}
    for name, runs in rounds.items():
        seconds = statistics.median(run["seconds"] for run in runs)
        result[name] = {"median_s": round(seconds, 3), "words_per_s": round(words / seconds, 1),
                        "entities": runs[0]["entities"], "seconds": [round(r["seconds"], 3) for r in runs]}
    result["slowdown"] = round(result["with"]["median_s"] / result["without"]["median_s"], 3)
    write_json(args.output, result)
    print(f"with scores {result['with']['words_per_s']:,.0f} words/s, without {result['without']['words_per_s']:,.0f}: "
          f"{result['slowdown']:.2f}x the time; wrote {args.output}")


if __name__ == "__main__":
    main()
