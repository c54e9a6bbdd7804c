"""Does `audit` find annotation errors? Errors injected into a real corpus, then looked for.

    python -m benchmarks.bench_audit [--docs 240] [--folds 3] [--max-steps 300] [--seed 0]
        [--encoder ~/.cache/spacy_bert_ner/multilingual-e5-small] [--corpus injected|clean|both]
        [--time-limit-min 45] [--workdir training/bench_audit] [--output benchmarks/results/audit.json]
    python -m benchmarks.bench_audit --tiny --workdir DIR --output FILE   # seconds-long, for the tests

UNER Danish-DDT train (`--docs` documents of 10 sentences, a seeded draw) gets errors injected,
seeded and recorded in WORKDIR/injected/errors.jsonl: about 5% of the entities removed, 5% given
another type, 5% with one edge moved by one token (left or right, growing or shrinking, never into
another entity or past a sentence end). `spacy-bert-ner audit` with `configs/ner_trf.cfg`'s
defaults and the encoder vocabulary-trimmed to the corpus (`prepare-encoder`, as project.yml's
`encoder` step) ranks the disagreements of held-out folds. A row finds an injected error when it
lies in the same document and overlaps the error's place (the original and the injected span
together) by a character. Reported, at N (the number injected) and 2N: the precision and recall
of the ranked list; of a random order of the same rows (mean of 100 seeded shuffles); and of
cleanlab's `token_classification.filter.find_label_issues` on the same folds, its flagged tokens
merged into runs per sentence and ranked by their best token. cleanlab needs per-token
probabilities: the `ner` head has none, so they are the beam's marginals (the mass of the
beam's spans that cover the token, per label, `label_issues.token_marginals`). Per kind: each
kind's rows (removed -> missing, retyped -> wrong_type, moved edge -> wrong_boundary) against the
errors of that kind, at N and 2N of that kind.

`--corpus clean` audits the same documents as annotated (no errors): its top rows are for a
person to judge. The injected run also ranks the clean annotation with its own fold models
(`clean_by_injected_models`: no training, models that saw 15% errors in their training folds).
The audits are resumable (`audit` skips finished folds: rerun the same command) and bounded: each
stops at what is left of `--time-limit-min`, and the rest is reported missing.
"""
import argparse
import json
import os
import platform
import random
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import spacy
from spacy.tokens import Doc, DocBin, Span

from spacy_bert_ner.evaluation.label_issues import MISSING, WRONG_BOUNDARY, WRONG_TYPE, token_marginals
from spacy_bert_ner.jsonfiles import write_json, write_jsonl
from spacy_bert_ner.readers import read_corpus

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "uner_danish_ddt" / "da_ddt-ud-train.iob2"
ENCODER = Path("~/.cache/spacy_bert_ner/multilingual-e5-small").expanduser()
CONFIG = ROOT / "configs" / "ner_trf.cfg"
DEMO = ROOT / "assets" / "demo" / "train.iob2"
RATE = 0.05
REMOVED, RETYPED, MOVED = "removed", "retyped", "boundary"
EXPECTED_KIND = {REMOVED: MISSING, RETYPED: WRONG_TYPE, MOVED: WRONG_BOUNDARY}
RANDOM_SHUFFLES = 100

Region = Tuple[int, int, int]  # document, start char, end char


def draw_docs(docs: List[Doc], n: Optional[int], seed: int) -> List[Doc]:
    if n is None or n >= len(docs):
        return docs
    return [docs[i] for i in sorted(random.Random(seed).sample(range(len(docs)), n))]


def edge_moves(doc: Doc, ent: Span, taken: set) -> List[Tuple[int, int]]:
    """The (start, end) of every one-token edge move of `ent` that stays in its sentence and
    touches no other entity's token."""
    moves = []
    sent = ent.sent if doc.has_annotation("SENT_START") else doc[:]
    if ent.start - 1 >= sent.start and ent.start - 1 not in taken:
        moves.append((ent.start - 1, ent.end))
    if ent.end < sent.end and ent.end not in taken:
        moves.append((ent.start, ent.end + 1))
    if len(ent) > 1:
        moves += [(ent.start + 1, ent.end), (ent.start, ent.end - 1)]
    return moves


def inject(docs: List[Doc], seed: int, rate: float = RATE) -> List[Dict[str, Any]]:
    """Change about `rate` of the entities in each of the three ways (in place); the errors made."""
    rng = random.Random(seed)
    places = [(i, j) for i, doc in enumerate(docs) for j in range(len(doc.ents))]
    rng.shuffle(places)
    n = round(rate * len(places))
    labels = sorted({e.label_ for doc in docs for e in doc.ents})
    ents: Dict[int, List[Optional[Tuple[int, int, str]]]] = {
        i: [(e.start, e.end, e.label_) for e in doc.ents] for i, doc in enumerate(docs)}
    errors: List[Dict[str, Any]] = []
    todo = [REMOVED] * n + [RETYPED] * n + [MOVED] * n
    for i, j in places:
        if not todo:
            break
        kind, (start, end, label) = todo[0], ents[i][j]
        if kind == REMOVED:
            new = None
        elif kind == RETYPED:
            new = (start, end, rng.choice([other for other in labels if other != label]))
        else:
            doc = docs[i]
            taken = {t for k, e in enumerate(ents[i]) if e is not None and k != j for t in range(e[0], e[1])}
            moves = edge_moves(doc, doc[start:end], taken)
            if not moves:
                continue  # this entity cannot move; the next one takes the error
            new = (*rng.choice(moves), label)
        todo.pop(0)
        ents[i][j] = new
        doc = docs[i]
        lo, hi = min(start, new[0] if new else start), max(end, new[1] if new else end)
        errors.append({"document": i, "kind": kind, "original": [start, end, label],
                       "injected": list(new) if new else None,
                       "start": doc[lo].idx, "end": doc[hi - 1].idx + len(doc[hi - 1])})
    for i, doc in enumerate(docs):
        doc.set_ents([Span(doc, s, e, label) for s, e, label in (x for x in ents[i] if x is not None)],
                     default="outside")
    return errors


def found(rows: Sequence[Region], errors: Sequence[Region]) -> Tuple[List[bool], set]:
    """Per row whether it finds an error; the errors found (indices)."""
    by_doc: Dict[int, List[Tuple[int, Region]]] = defaultdict(list)
    for k, error in enumerate(errors):
        by_doc[error[0]].append((k, error))
    hits, seen = [], set()
    for doc, start, end in rows:
        matched = {k for k, (_, s, e) in by_doc.get(doc, []) if start < e and s < end}
        hits.append(bool(matched))
        seen |= matched
    return hits, seen


def at(rows: Sequence[Region], errors: Sequence[Region], k: int) -> Dict[str, Optional[float]]:
    top = list(rows[:k])
    hits, seen = found(top, errors)
    return {"k": k, "rows": len(top), "precision": sum(hits) / len(top) if top else None,
            "recall": len(seen) / len(errors) if errors else None}


def p_r(rows: Sequence[Region], errors: Sequence[Region]) -> Dict[str, Any]:
    n = len(errors)
    return {"at_N": at(rows, errors, n), "at_2N": at(rows, errors, 2 * n)}


def random_p_r(rows: Sequence[Region], errors: Sequence[Region], seed: int) -> Dict[str, Any]:
    """Mean precision and recall of RANDOM_SHUFFLES seeded random orders of the same rows."""
    out: Dict[str, Any] = {}
    for name, k in (("at_N", len(errors)), ("at_2N", 2 * len(errors))):
        runs = []
        for r in range(RANDOM_SHUFFLES):
            shuffled = list(rows)
            random.Random(seed * 1000 + r).shuffle(shuffled)
            runs.append(at(shuffled, errors, k))
        out[name] = {"k": k, "rows": runs[0]["rows"],
                     **{m: (sum(x[m] for x in runs) / len(runs) if runs[0][m] is not None else None)
                        for m in ("precision", "recall")}}
    return out


def sentences(docs: List[Doc]) -> List[Tuple[int, int, int]]:
    """(document, first token, end token) of every sentence, in document order."""
    return [(i, s.start, s.end) for i, doc in enumerate(docs) for s in doc.sents]


def cleanlab_regions(docs: List[Doc], held_out: Dict[int, Dict[str, Any]], labels: List[str]
                     ) -> Tuple[List[Region], Dict[str, Any]]:
    """cleanlab's find_label_issues over every sentence, flagged tokens as ranked regions."""
    from cleanlab.token_classification.filter import find_label_issues

    column = {label: i + 1 for i, label in enumerate(labels)}
    units = sentences(docs)
    given, probs = [], []
    marginals = {i: token_marginals(len(docs[i]), {(s, e, lab): p for s, e, lab, p in held_out[i]["spans"]}, labels)
                 for i in held_out}
    for i, start, end in units:
        tags = [0] * (end - start)
        for ent in docs[i].ents:
            for t in range(max(ent.start, start), min(ent.end, end)):
                tags[t - start] = column[ent.label_]
        given.append(tags)
        probs.append(marginals[i][start:end])
    started = time.perf_counter()
    flagged = find_label_issues(given, probs)
    seconds = time.perf_counter() - started
    rank_of = {}
    for position, (u, t) in enumerate(flagged):
        rank_of.setdefault((u, t), position)
    runs: List[Tuple[int, Region]] = []
    for (u, t) in sorted(rank_of):
        i, start, _ = units[u]
        token = start + t
        doc = docs[i]
        if runs and runs[-1][1][0] == i and rank_of.get((u, t - 1)) is not None:
            best, (_, s, _) = runs[-1]
            runs[-1] = (min(best, rank_of[(u, t)]), (i, s, doc[token].idx + len(doc[token])))
        else:
            runs.append((rank_of[(u, t)], (i, doc[token].idx, doc[token].idx + len(doc[token]))))
    runs.sort(key=lambda run: run[0])
    return [region for _, region in runs], {"flagged_tokens": len(flagged), "regions": len(runs),
                                            "seconds": round(seconds, 2)}


def prepare_encoder(encoder: Path, out: Path, texts: List[Path]) -> Path:
    if not (out / "config.json").is_file():
        args = [sys.executable, "-m", "spacy_bert_ner", "prepare-encoder", str(encoder), str(out)]
        for text in texts:
            args += ["--text", str(text)]
        subprocess.run(args, check=True)
    return out


def run_audit(config: Path, data: Path, out: Path, folds: int, max_steps: int, seed: int,
              overrides: Dict[str, Any], timeout: float) -> Dict[str, Any]:
    args = [sys.executable, "-m", "spacy_bert_ner", "audit", str(config), str(data), "-o", str(out),
            "--folds", str(folds), "--max-steps", str(max_steps), "--seed", str(seed)]
    for key, value in overrides.items():
        args += [f"--{key}", str(value)]
    started = time.perf_counter()
    try:
        proc = subprocess.run(args, timeout=max(timeout, 1), env={**os.environ, "HF_HUB_OFFLINE": "1"})
        status = "done" if proc.returncode == 0 else f"failed ({proc.returncode})"
    except subprocess.TimeoutExpired:
        status = "stopped at the time limit; rerun to resume"
    return {"status": status, "seconds": round(time.perf_counter() - started, 1)}


def clean_rows(docs: List[Doc], held: Dict[int, Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The rows `audit` would write for `docs`' annotation, from held-out predictions at hand."""
    from spacy_bert_ner.experiments.audit import ranked_records

    return ranked_records(docs, {i: (None, record) for i, record in held.items()})[0]


def read_rows(out: Path) -> List[Dict[str, Any]]:
    return [json.loads(line) for line in (out / "issues.jsonl").read_text(encoding="utf8").splitlines()]


def read_held_out(out: Path, n_docs: int, folds: int, seed: int) -> Dict[int, Dict[str, Any]]:
    from spacy_bert_ner.experiments.cv import assign_folds

    assignment = assign_folds(n_docs, folds, seed)
    held: Dict[int, Dict[str, Any]] = {}
    for k in range(folds):
        lines = (out / f"fold{k}" / "held_out.jsonl").read_text(encoding="utf8").splitlines()
        held.update(zip([i for i, f in enumerate(assignment) if f == k], map(json.loads, lines)))
    return held


def score(out: Path, docs: List[Doc], errors: List[Dict[str, Any]], folds: int, seed: int) -> Dict[str, Any]:
    rows = read_rows(out)
    regions = [(r["document"], r["start"], r["end"]) for r in rows]
    wrong = [(e["document"], e["start"], e["end"]) for e in errors]

    def errors_of(kind: str) -> List[Region]:
        return [(e["document"], e["start"], e["end"]) for e in errors if e["kind"] == kind]

    result: Dict[str, Any] = {"candidates": len(rows), "rows_per_kind": dict(Counter(r["kind"] for r in rows)),
                              "injected": len(errors), "injected_per_kind": dict(Counter(e["kind"] for e in errors)),
                              "ours": p_r(regions, wrong), "random": random_p_r(regions, wrong, seed), "per_kind": {}}
    for kind, row_kind in EXPECTED_KIND.items():
        kind_rows = [(r["document"], r["start"], r["end"]) for r in rows if r["kind"] == row_kind]
        result["per_kind"][kind] = {"rows_kind": row_kind, "ours": p_r(kind_rows, errors_of(kind)),
                                    "random": random_p_r(kind_rows, errors_of(kind), seed)}
    try:
        labels = sorted({e.label_ for doc in docs for e in doc.ents})
        cl_rows, cl_info = cleanlab_regions(docs, read_held_out(out, len(docs), folds, seed), labels)
    except ImportError:
        result["cleanlab"] = None
        result["cleanlab_note"] = "cleanlab is not installed (pip install cleanlab)"
    else:
        result["cleanlab"] = {**cl_info, **p_r(cl_rows, wrong), "recall_per_kind": {
            kind: recall_of(cl_rows, errors_of(kind), len(wrong)) for kind in EXPECTED_KIND}}
    result["ours"]["recall_per_kind"] = {kind: recall_of(regions, errors_of(kind), len(wrong)) for kind in EXPECTED_KIND}
    return result


def recall_of(rows: Sequence[Region], errors: Sequence[Region], n: int) -> Dict[str, Optional[float]]:
    """Recall of the errors of one kind by the top N and 2N rows of the whole list."""
    return {f"at_{name}": (len(found(rows[:k], errors)[1]) / len(errors) if errors else None)
            for name, k in (("N", n), ("2N", 2 * n))}


def table(result: Dict[str, Any]) -> str:
    def cell(m):
        return "–" if m is None or m["precision"] is None else f"{m['precision']:.3f} / {m['recall']:.3f}"

    lines = ["method | P / R at N | P / R at 2N", "---|---|---"]
    for name in ("ours", "random", "cleanlab"):
        m = result.get(name)
        if m:
            lines.append(f"{name} | {cell(m['at_N'])} | {cell(m['at_2N'])}")
    for kind, per in result["per_kind"].items():
        for name in ("ours", "random"):
            m = per[name]
            lines.append(f"{kind} ({per['rows_kind']} rows), {name} | {cell(m['at_N'])} | {cell(m['at_2N'])}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=240, help="Documents drawn from train (all: 439).")
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--max-steps", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--encoder", type=Path, default=ENCODER)
    parser.add_argument("--config", type=Path, default=CONFIG)
    parser.add_argument("--corpus", choices=("injected", "clean", "both"), default="both")
    parser.add_argument("--time-limit-min", type=float, default=45.0)
    parser.add_argument("--workdir", type=Path, default=ROOT / "training" / "bench_audit")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "audit.json")
    parser.add_argument("--tiny", action="store_true", help="The demo corpus and a tiny random encoder, "
                        "2 folds of 2 steps: seconds, for the benchmark's tests (figures meaningless).")
    args = parser.parse_args()
    deadline = time.monotonic() + 60 * args.time_limit_min
    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    nlp = spacy.blank("da")
    if args.tiny:
        sys.path.insert(0, str(ROOT / "scripts"))
        from build_tiny_transformer import build

        data, folds, steps = DEMO, 2, 2
        encoder = work / "tiny-encoder"
        if not (encoder / "config.json").is_file():
            build(encoder, [DEMO], vocab_size=1500)
        overrides = {"training.batcher.size": 2000, "initialize.after_init.encoder_lr_scale": 1.0,
                     "initialize.after_init.freeze_word_embeddings": "false", "checks.max_misaligned": 0.01,
                     "training.optimizer.learn_rate.warmup_steps": 1}
    else:
        data, folds, steps = args.data, args.folds, args.max_steps
        encoder = prepare_encoder(args.encoder, work / "encoder", [args.data])
        overrides = {"training.optimizer.learn_rate.warmup_steps": max(1, steps // 5),
                     "training.eval_frequency": max(1, steps // 3), "checks.max_misaligned": 0.05}
    overrides["components.transformer.model.name"] = str(encoder)
    docs = draw_docs(read_corpus(data, nlp.vocab)[0], None if args.tiny else args.docs, args.seed)
    clean = [doc.copy() for doc in docs]
    errors = inject(docs, args.seed)
    result: Dict[str, Any] = {
        "command": " ".join(sys.argv), "data": str(data), "documents": len(docs),
        "tokens": sum(len(d) for d in docs), "entities": sum(len(d.ents) for d in clean),
        "config": str(args.config), "encoder": str(args.encoder if not args.tiny else "tiny random BERT"),
        "folds": folds, "max_steps": steps, "overrides": overrides, "seed": args.seed,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs ({platform.processor() or platform.platform()})",
        "token_probabilities_for_cleanlab": "beam marginals of the ner head (label_issues.token_marginals)",
    }
    for name, corpus in (("injected", docs), ("clean", clean)):
        if args.corpus not in (name, "both"):
            continue
        corpus_dir = work / name
        corpus_dir.mkdir(exist_ok=True)
        path = corpus_dir / "train.spacy"
        DocBin(docs=corpus, store_user_data=True).to_disk(path)
        if name == "injected":
            write_jsonl(corpus_dir / "errors.jsonl", errors)
        run = run_audit(args.config, path, corpus_dir / "audit", folds, steps, args.seed, overrides,
                        deadline - time.monotonic())
        cv_path = corpus_dir / "audit" / "cv_results.json"
        if cv_path.is_file():
            cv = json.loads(cv_path.read_text(encoding="utf8"))
            run["held_out_f1"] = [f["ents_f"] for f in cv["per_fold"]]
            run["train_seconds_per_fold"] = [f["train_seconds"] for f in cv["per_fold"]]
        result[name] = {"run": run}
        if run["status"] != "done":
            print(f"{name}: audit {run['status']}", file=sys.stderr)
            continue
        if name == "injected":
            result[name].update(score(corpus_dir / "audit", docs, errors, folds, args.seed))
            print(table(result[name]))
            # the clean annotation judged by the same fold models: no training, so there is a list
            # to judge even when the clean audit does not fit in the time limit
            held = read_held_out(corpus_dir / "audit", len(docs), folds, args.seed)
            rows = clean_rows(clean, held)
            result["clean_by_injected_models"] = {"rows_per_kind": dict(Counter(r["kind"] for r in rows)),
                                                  "top": rows[:10]}
        else:
            rows = read_rows(corpus_dir / "audit")
            result[name]["rows_per_kind"] = dict(Counter(r["kind"] for r in rows))
            result[name]["top"] = rows[:10]
        write_json(args.output, result)  # what is done so far, if a later audit is cut
    write_json(args.output, result)
    print(f"Wrote {args.output}")


if __name__ == "__main__":
    main()
