"""What a long document costs: time per token of each pipeline component, and peak memory, by length.

    python -m benchmarks.bench_long_docs MODEL [MODEL ...] [--data FILE] [--sizes 1000,5000,25000,100000,200000]
        [--baseline-src DIR --baseline-max-tokens 25000] [--repeat 2]
        [--output benchmarks/results/long_docs.json]
    python -m benchmarks.bench_long_docs MODEL --scores DEV.spacy --baseline-src DIR
        [--output benchmarks/results/long_docs_scores.json]

Each document is real text: sentences of a corpus (`--data`, any format `convert` reads; default
UNER Danish test from ../shared/data) shuffled with a fixed seed and joined until it has the
wanted number of tokens. Every (code, model, size) runs in a process of its own, so its peak
resident memory is its own: the pipeline is loaded, its `max_length` raised to the text, and
`nlp(text)` is run component by component, timing each; the best of `--repeat` rounds is kept.
`--baseline-src` names a checkout of other code (e.g. a `git worktree` of the commit before a
change), run the same way in the same run for a side-by-side comparison, up to
`--baseline-max-tokens` (a quadratic baseline would take hours at 200,000 tokens).

Reported per row: tokens, milliseconds per 1,000 tokens for the whole pipeline and for each
component, the cost of the entity scores (the pipeline's time over its time without the scoring
component: `bert_ner_confidence`; `bert_token_ner` scores its own entities as it tags, so its row
has none), and peak RSS.

`--scores` compares what two codes score instead: each runs the pipeline on the raw texts of a
gold corpus (dev) and `calibrate` on a copy of the model, in a process of its own; reported are
whether the entities are the same, the mean and largest difference of their scores, and each
code's calibration error on that corpus before and after its fitted temperature.
"""
import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

from spacy_bert_ner.jsonfiles import write_json

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "uner_danish_ddt" / "da_ddt-ud-test.iob2"
SCORING = "bert_ner_confidence"


def document(data: Path, lang: str, tokens: int, seed: int = 0) -> str:
    """Sentences of the corpus, shuffled and repeated, joined until they hold `tokens` corpus tokens."""
    from spacy_bert_ner.readers import read_corpus

    docs, _ = read_corpus(data, lang)
    sentences = [(sent.text, len(sent)) for doc in docs for sent in doc.sents]
    rng, parts, count = random.Random(seed), [], 0
    while count < tokens:
        rng.shuffle(sentences)
        for text, n in sentences:
            if count >= tokens:
                break
            parts.append(text)
            count += n
    return " ".join(parts)


def load(model: str, window_tokens: int):
    """The pipeline, with `window_tokens` for its scoring component where one is given."""
    import spacy

    config = spacy.util.load_config(Path(model) / "config.cfg") if Path(model).is_dir() else {}
    if not window_tokens or SCORING not in config.get("components", {}):  # the other head has no window
        return spacy.load(model)
    return spacy.load(model, config={"components": {SCORING: {"window_tokens": window_tokens}}})


def child(model: str, data: Path, tokens: int, repeat: int, window_tokens: int = 0) -> Dict[str, Any]:
    """One model on one document, in this process: seconds per component, best of `repeat`."""
    nlp = load(model, window_tokens)
    text = document(data, nlp.lang, tokens)
    nlp.max_length = max(nlp.max_length, len(text) + 1)
    best: Dict[str, float] = {}
    for _ in range(repeat):
        doc = nlp.make_doc(text)
        for name, proc in nlp.pipeline:
            start = time.perf_counter()
            doc = proc(doc)
            best[name] = min(best.get(name, float("inf")), time.perf_counter() - start)
    return {"tokens": len(doc), "chars": len(text), "seconds": best, "entities": len(doc.ents),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def scores_child(model: str, data: Path, window_tokens: int = 0) -> Dict[str, Any]:
    """The entity scores of `model` on the raw texts of `data`, and what `calibrate` fits there."""
    import shutil
    import tempfile

    from spacy import util
    from spacy.tokens import DocBin

    from spacy_bert_ner.evaluation.runner import calibrate

    nlp = load(model, window_tokens)
    texts = [doc.text for doc in DocBin().from_disk(data).get_docs(nlp.vocab)]
    entities = [[e.start, e.end, e.label_, score] for doc in nlp.pipe(texts)
                for e, score in zip(doc.spans["ents"], doc.spans["ents"].attrs["scores"])]
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "model"
        shutil.copytree(model, copy)
        if window_tokens:  # calibrate loads the folder: the window goes into its config
            config = util.load_config(copy / "config.cfg", interpolate=False)
            config["components"][SCORING]["window_tokens"] = window_tokens
            config.to_disk(copy / "config.cfg")
        calibrate(str(copy), data, Path(tmp) / "calibrated", -1)
        calibration = json.loads((Path(tmp) / "calibrated" / "calibration.json").read_text(encoding="utf8"))
    return {"entities": entities, "tokens": sum(len(nlp.make_doc(t)) for t in texts), "docs": len(texts),
            "calibration": calibration}


def compare_scores(this: Dict[str, Any], baseline: Dict[str, Any]) -> Dict[str, Any]:
    same = [e[:3] for e in this["entities"]] == [e[:3] for e in baseline["entities"]]
    diffs = [abs(a[3] - b[3]) for a, b in zip(this["entities"], baseline["entities"])] if same else []
    keys = ("temperature", "ece_before", "ece_after")
    return {"docs": this["docs"], "tokens": this["tokens"], "entities": len(this["entities"]),
            "same_entities": same, "mean_abs_score_difference": sum(diffs) / len(diffs) if diffs else None,
            "max_abs_score_difference": max(diffs, default=None),
            "above_0.01": sum(d > 0.01 for d in diffs),
            "calibration": {"this": {k: this["calibration"][k] for k in keys},
                            "baseline": {k: baseline["calibration"][k] for k in keys}},
            "src": {"this": this["code"], "baseline": baseline["code"]}}


def run_child(src: str, model: str, data: Path, tokens: int, repeat: int, scores: bool = False,
              window_tokens: int = 0) -> Dict[str, Any]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    if src:
        env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    # run as a script, not with -m: -m would put this checkout first on sys.path, before src
    args = [sys.executable, str(Path(__file__).resolve()), "--child", model, "--data", str(data),
            "--sizes", str(tokens), "--repeat", str(repeat), "--window-tokens", str(window_tokens)]
    args += ["--scores", str(data)] if scores else []
    out = subprocess.run(args, env=env, capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def row(code: str, model: str, result: Dict[str, Any]) -> Dict[str, Any]:
    seconds, tokens = result["seconds"], result["tokens"]
    total = sum(seconds.values())
    scores_cost = total / (total - seconds[SCORING]) if SCORING in seconds else None
    return {"code": code, "src": result["code"], "model": model, "tokens": tokens, "chars": result["chars"], "entities": result["entities"],
            "ms_per_1k_tokens": round(total / tokens * 1e6, 2),
            "component_ms_per_1k_tokens": {name: round(s / tokens * 1e6, 2) for name, s in seconds.items()},
            "scores_cost": None if scores_cost is None else round(scores_cost, 3),
            "peak_rss_mb": round(result["peak_rss_mb"], 1)}


def print_table(rows: List[Dict[str, Any]]) -> None:
    components = sorted({c for r in rows for c in r["component_ms_per_1k_tokens"]})
    print("| code | model | tokens | ms / 1k tokens | " + " | ".join(components) + " | scores cost | peak RSS MB |")
    print("|---|---|---:|---:|" + "---:|" * len(components) + "---:|---:|")
    for r in rows:
        parts = [str(r["component_ms_per_1k_tokens"].get(c, "–")) for c in components]
        cost = f"{r['scores_cost']:.2f}x" if r["scores_cost"] else "–"
        print(f"| {r['code']} | {Path(r['model']).name} | {r['tokens']:,} | {r['ms_per_1k_tokens']:,} | "
              + " | ".join(parts) + f" | {cost} | {r['peak_rss_mb']:,.0f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="+", help="Pipeline folders or package names")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--sizes", default="1000,5000,25000,100000,200000", help="Document lengths in tokens")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--baseline-src", default="", help="A checkout of the code to compare with")
    parser.add_argument("--baseline-max-tokens", type=int, default=25000)
    parser.add_argument("--scores", type=Path, default=None, help="A gold .spacy corpus (dev): compare scores")
    parser.add_argument("--window-tokens", default="0", help="This code's bert_ner_confidence window_tokens, "
                        "comma-separated to compare several (0: the model's own setting)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    window_list = [int(w) for w in args.window_tokens.split(",")]
    results = ROOT / "benchmarks" / "results"
    if args.child:
        import spacy_bert_ner

        result = (scores_child(args.models[0], args.scores, window_list[0]) if args.scores else
                  child(args.models[0], args.data, sizes[0], args.repeat, window_list[0]))
        print(json.dumps({**result, "code": str(Path(spacy_bert_ner.__file__).parent)}))
        return
    if args.scores:
        if not args.baseline_src:
            raise SystemExit("--scores compares with --baseline-src: give both")
        baseline = run_child(args.baseline_src, args.models[0], args.scores, 0, 1, scores=True)
        compared = {str(window): compare_scores(run_child("", args.models[0], args.scores, 0, 1, scores=True,
                                                          window_tokens=window), baseline)
                    for window in window_list}
        print(json.dumps(compared, indent=2))
        output = args.output or results / "long_docs_scores.json"
        write_json(output, {"command": " ".join(sys.argv), "model": args.models[0], "data": str(args.scores),
                            "baseline_src": args.baseline_src, "by_window_tokens": compared})
        print(f"Wrote {output}")
        return
    rows: List[Dict[str, Any]] = []
    codes = [(f"this, window {w}" if w else "this", "", w) for w in window_list] + [("baseline", args.baseline_src, 0)]
    for model in args.models:
        for tokens in sizes:
            for code, src, window in codes:
                if code == "baseline" and (not src or tokens > args.baseline_max_tokens):
                    continue
                rows.append(row(code, model, run_child(src, model, args.data, tokens, args.repeat,
                                                       window_tokens=window)))
                print_table(rows[-1:])
    print()
    print_table(rows)
    output = args.output or results / "long_docs.json"
    write_json(output, {"command": " ".join(sys.argv), "data": str(args.data), "repeat": args.repeat,
                        "baseline_src": args.baseline_src, "cpus": os.cpu_count(), "rows": rows})
    print(f"Wrote {output}")


if __name__ == "__main__":
    main()
