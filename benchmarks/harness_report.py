"""Results file and BENCHMARKS.md of the harness: merging, resuming, tables and the F1-vs-time plot.

Pure functions over the results dict, so they are tested without training anything. A run is
keyed `corpus/encoder/system` (seed 0) or `corpus/encoder/system/seedN`; a key whose record is
`done` with every requested mark is skipped when the harness is run again. A system run with
several seeds is reported as the mean and standard deviation of its test F1 at each mark, and a
difference to the recipe smaller than that spread is reported as level, not as a win or a loss.
"""
import json
import statistics
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from spacy_bert_ner.jsonfiles import write_json

REFERENCE = "hf_recipe"


def run_key(corpus: str, encoder: str, system: str, seed: int = 0) -> str:
    return f"{corpus}/{encoder}/{system}" + (f"/seed{seed}" if seed else "")


def seed_of(run: Dict[str, Any]) -> int:
    return (run.get("spec") or {}).get("seed", 0)


def mark_key(minutes: float) -> str:
    return f"{minutes:g}"


def load_results(path: Path) -> Dict[str, Any]:
    if path.is_file():
        return json.loads(path.read_text(encoding="utf8"))
    return {"runs": {}, "invocations": []}


def save_results(path: Path, results: Dict[str, Any]) -> None:
    """Write via a temporary file: an interrupted harness never leaves half a results file."""
    write_json(path, results, atomic=True)


def same_setup(spec: Optional[Dict[str, Any]], other: Optional[Dict[str, Any]]) -> bool:
    """Two runs' specs agree on everything but their marks (preset, config content, corpus, seed)."""
    def setup(s: Optional[Dict[str, Any]]) -> Dict[str, Any]:
        return {k: v for k, v in (s or {}).items() if k != "marks_min"}

    return bool(spec) and setup(spec) == setup(other)


def is_done(results: Dict[str, Any], key: str, marks_min: Sequence[float], spec: Dict[str, Any]) -> bool:
    """A finished run of this very setup that scored every requested mark."""
    run = results["runs"].get(key)
    return (bool(run) and run.get("status") == "done" and same_setup(run.get("spec"), spec)
            and all(mark_key(m) in run["marks"] for m in marks_min))


def merge_run(results: Dict[str, Any], key: str, record: Dict[str, Any]) -> None:
    """Store a run; marks scored by an earlier run of the same setup and not rerun are kept."""
    old = results["runs"].get(key, {})
    keep = old.get("status") == "done" and same_setup(old.get("spec"), record.get("spec"))
    marks = {**old.get("marks", {}), **record.get("marks", {})} if keep else record.get("marks", {})
    results["runs"][key] = {**record, "marks": dict(sorted(marks.items(), key=lambda kv: float(kv[0])))}


def add_invocation(results: Dict[str, Any], command: str) -> None:
    if command not in results["invocations"]:
        results["invocations"].append(command)


def groups(results: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
    """corpus/encoder -> {system: run}; the encoder-free CNN joins every group of its corpus. A
    system run with several seeds is its lowest seed's record plus `seeds`, every seed's record."""
    by_system: Dict[tuple, List[Dict[str, Any]]] = {}
    for run in results["runs"].values():
        by_system.setdefault((run["corpus"], run["encoder"], run["system"]), []).append(run)
    systems = []
    for runs in by_system.values():
        runs = sorted(runs, key=seed_of)
        systems.append({**runs[0], "seeds": runs} if len(runs) > 1 else runs[0])
    out: Dict[str, Dict[str, Any]] = {}
    for run in systems:
        if run["encoder"] != "none":
            out.setdefault(f"{run['corpus']}/{run['encoder']}", {})[run["system"]] = run
    for run in systems:
        if run["encoder"] == "none":
            matching = [g for g in out if g.split("/")[0] == run["corpus"]] or [f"{run['corpus']}/none"]
            for group in matching:
                out.setdefault(group, {})[run["system"]] = run
    return dict(sorted(out.items()))


def _f(value: Optional[float], digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _num(value: Optional[float]) -> str:
    return "–" if value is None else f"{value:,.0f}"


def _ratio(value: Optional[float], ref: Optional[float]) -> str:
    return "" if not value or not ref else f" ({value / ref:.2f}x)"


def entry_at(run: Dict[str, Any], mark: str) -> Optional[Dict[str, Any]]:
    """A run's entry at a mark; past its last mark, the final best if training had ended before it."""
    entry = run["marks"].get(mark)
    if entry or not run["marks"]:
        return entry
    last_mark = max(run["marks"], key=float)
    final = run["marks"][last_mark]
    return final if float(mark) > float(last_mark) and not final.get("reached", True) else None


def f1_at(run: Dict[str, Any], mark: str, score: Optional[str] = None) -> Optional[float]:
    entry = entry_at(run, mark) if run.get("status") == "done" else None
    test = (entry or {}).get("test") or {}
    test = test.get(score) if score else test
    return test.get("ents_f") if test else None


def spread(run: Dict[str, Any], mark: str, score: Optional[str] = None) -> Optional[Dict[str, float]]:
    """Mean and standard deviation of test F1 at a mark over a system's seeds (None for one seed)."""
    values = [f for f in (f1_at(r, mark, score) for r in run.get("seeds", [])) if f is not None]
    if len(values) < 2:
        return None
    return {"mean": statistics.mean(values), "sd": statistics.stdev(values), "n": len(values)}


def mark_cell(run: Dict[str, Any], mark: str, score: Optional[str] = None) -> str:
    """Test F1 at a mark (on gold tokens, or the `score` block, e.g. raw_text); `*` where training
    had ended before it (converged or stopped early); mean ± sd (n seeds) for several seeds."""
    if run.get("status") == "failed":
        return "failed"
    over_seeds = spread(run, mark, score)
    if over_seeds:
        ended = any(not (entry_at(r, mark) or {}).get("reached", True) for r in run["seeds"])
        return f"{over_seeds['mean']:.3f} ± {over_seeds['sd']:.3f} (n={over_seeds['n']})" + ("*" if ended else "")
    entry = entry_at(run, mark)
    if not entry:
        return "–"
    if entry.get("test") is None:
        return "no checkpoint yet"
    test = entry["test"].get(score) if score else entry["test"]
    if test is None:
        return "–"
    return _f(test["ents_f"]) + ("" if entry.get("reached", True) else "*")


def last_scored(run: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    scored = [m for m in run["marks"].values() if m.get("test")]
    return scored[-1] if scored else None


def render_group(name: str, runs: Dict[str, Any], plot: Optional[str], found: Sequence[str] = ()) -> List[str]:
    """One corpus/encoder: test F1 at each mark, then one row per system at its last mark (P / R /
    F1, F1 per type, speeds, memory, size), the plot and the targets. LEGEND says how to read them."""
    marks = sorted({m for run in runs.values() for m in run["marks"]}, key=float)
    systems = sorted(runs, key=lambda s: (s != REFERENCE, s.startswith("spacy"), s))
    ref = runs.get(REFERENCE)
    head = ["| system | " + " | ".join(f"{m} min" for m in marks) + " |", "|---|" + "---:|" * len(marks)]
    cells = {system: [mark_cell(runs[system], m) for m in marks] for system in systems}
    if len(marks) == 1 and all(cells[s] == [_f((last_scored(runs[s]) or {}).get("test", {}).get("ents_f"))]
                               for s in systems):
        # One mark, one seed, nothing ended early: the F1 column of the second table says it all.
        lines = [f"### {name} (one mark: {marks[0]} min)", ""]
    else:
        lines = [f"### {name}", "", *head]
        lines += [f"| {system} | " + " | ".join(cells[system]) + " |" for system in systems]
        lines.append("")
    raw = [s for s in systems if any((e.get("test") or {}).get("raw_text") for e in runs[s]["marks"].values())]
    if raw:
        lines += ["The same checkpoints on raw text:", "", *head]
        for system in raw:
            lines.append(f"| {system} | " + " | ".join(mark_cell(runs[system], m, "raw_text") for m in marks) + " |")
        lines.append("")
    types = sorted({t for run in runs.values() if last_scored(run) for t in last_scored(run)["test"]["ents_per_type"]})
    lines += ["| system | P / R / F1 | " + "".join(f"{t} | " for t in types) + "training words/s | inference words/s "
              "| peak memory MB | model MB | trained s | words trained |",
              "|---|---|" + "---:|" * (len(types) + 6)]
    ref_last = last_scored(ref) if ref else None
    ref_get = (lambda k: ref.get(k)) if ref else (lambda k: None)
    for system in systems:
        run = runs[system]
        last = last_scored(run)
        test = last["test"] if last else None
        prf = f"{_f(test['ents_p'])} / {_f(test['ents_r'])} / {_f(test['ents_f'])}" if test else "–"
        per_type = test["ents_per_type"] if test else {}
        inf = last["inference_words_per_s"] if last else None
        ref_inf = ref_last["inference_words_per_s"] if ref_last else None
        size = last["model_mb"] if last else None
        ref_size = ref_last["model_mb"] if ref_last else None
        lines.append(
            f"| {system} | {prf} | " + "".join(f"{_f(per_type.get(t, {}).get('f'))} | " for t in types)
            + f"{_num(run.get('train_words_per_s'))}{_ratio(run.get('train_words_per_s'), ref_get('train_words_per_s'))} "
            f"| {_num(inf)}{_ratio(inf, ref_inf)} | {_num(run.get('peak_rss_mb'))}{_ratio(run.get('peak_rss_mb'), ref_get('peak_rss_mb'))} "
            f"| {_f(size, 1)}{_ratio(size, ref_size)} | {_num(run.get('trained_s'))} | {_num(run.get('words'))} |")
    lines.append("")
    if plot:
        lines += [f"![Test F1 against training time, {name}]({plot})", ""]
    if found:
        lines += ["Targets: " + " · ".join(t[2:] if t.startswith("- ") else t for t in found), ""]
    return lines


LEGEND = (
    "How to read the tables: per corpus/encoder, the first table is the test F1 after N minutes of training: "
    "strict span F1 of the checkpoint best on dev at that mark, on gold tokens (the recipe reads gold tokens "
    "only, so this is the comparable figure); `*`: training had already ended at this mark (early stopping or "
    "max_steps): its final best; `a ± b (n=K)`: mean and standard deviation over K seeds. The second table is "
    "each system at its last mark (with one mark, it is the only table): P / R / F1 and F1 per type; "
    f"ratios in brackets are to {REFERENCE}; training words/s counts update steps only (dev evaluation "
    f"excluded, and checkpoint saving for {REFERENCE}, which spaCy does not time apart); peak memory is the "
    "training process's maximum RSS; model MB is the checkpoint on disk; a system with several seeds shows "
    "its lowest seed's run there.")


def targets(runs: Dict[str, Any]) -> List[str]:
    """The issue's targets, read from the figures (never asserted anywhere)."""
    ref, ours = runs.get(REFERENCE), runs.get("ours")
    if not ref or not ours:
        return []
    out = []
    entries = {name: {m: entry_at(run, m) for m in ours["marks"]} for name, run in (("ours", ours), (REFERENCE, ref))}
    f1 = {name: {m: (entry.get("test") or {}).get("ents_f", 0.0) for m, entry in at.items() if entry}
          for name, at in entries.items()}
    sd = {}
    for name, run in (("ours", ours), (REFERENCE, ref)):
        for m in f1[name]:
            over_seeds = spread(run, m)
            if over_seeds:
                f1[name][m] = over_seeds["mean"]
                sd[(name, m)] = over_seeds["sd"]
    common = [m for m in f1["ours"] if m in f1[REFERENCE]]
    # A difference within the larger seed spread of the two is no difference.
    within = [m for m in common if abs(f1["ours"][m] - f1[REFERENCE][m]) <= max(sd.get(("ours", m), 0.0), sd.get((REFERENCE, m), 0.0))
              and (("ours", m) in sd or (REFERENCE, m) in sd)]
    behind = [m for m in common if f1["ours"][m] < f1[REFERENCE][m] and m not in within]
    out.append(f"- ours F1 ≥ {REFERENCE} at every mark: {'no' if behind else 'yes'} "
               f"({len(common) - len(behind)} of {len(common)} marks"
               + "".join(f"; {m} min: {_f(f1['ours'][m])} vs {_f(f1[REFERENCE][m])}" for m in behind) + ")"
               + (f"; level within the seeds' spread at {', '.join(f'{m} min' for m in within)}" if within else ""))
    o_last, r_last = last_scored(ours), last_scored(ref)
    if o_last and r_last:
        out.append(f"- ours inference faster than {REFERENCE}: "
                   f"{'yes' if o_last['inference_words_per_s'] > r_last['inference_words_per_s'] else 'no'}"
                   f"{_ratio(o_last['inference_words_per_s'], r_last['inference_words_per_s'])}")
    cnn = runs.get("spacy_cnn")
    c_last = last_scored(cnn) if cnn else None
    if o_last and c_last:
        out.append(f"- ours above spacy_cnn at the last mark: {'yes' if o_last['test']['ents_f'] > c_last['test']['ents_f'] else 'no'} "
                   f"({_f(o_last['test']['ents_f'])} vs {_f(c_last['test']['ents_f'])})")
    return out


def plot_group(name: str, runs: Dict[str, Any], path: Path) -> Path:
    """Test F1 against training minutes, one line per system (a band of ± one sd over seeds)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for system, run in sorted(runs.items()):
        over_seeds = {float(m): spread(run, m) for m in run["marks"]}
        band = sorted((m, s["mean"], s["sd"]) for m, s in over_seeds.items() if s)
        if band:  # several seeds: the mean, and a band of one standard deviation
            minutes, mean, sd = zip(*band)
            line, = ax.plot(minutes, mean, marker="o", label=f"{system} (mean of {max(s['n'] for s in over_seeds.values() if s)} seeds)")
            ax.fill_between(minutes, [m - s for m, s in zip(mean, sd)], [m + s for m, s in zip(mean, sd)],
                            color=line.get_color(), alpha=0.2)
            continue
        points = [(float(m), e["test"]["ents_f"]) for m, e in run["marks"].items() if e.get("test")]
        if points:
            ax.plot(*zip(*sorted(points)), marker="o", label=system)
    ax.set_xlabel("training wall-clock minutes")
    ax.set_ylabel("test F1 (strict) of the best-on-dev checkpoint")
    ax.set_ylim(0, 1)
    ax.set_title(name)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def render(results: Dict[str, Any], environment: Dict[str, Any], plots: Dict[str, str], notes: str = "") -> str:
    """The whole BENCHMARKS.md: the harness's tables per corpus/encoder, the notes, machine and commands."""
    lines = ["# Benchmarks", "",
             f"Written by `python -m benchmarks.harness` (`--report-only` rewrites it from the results file without "
             f"training) from `{environment.get('results_file', '')}` and the notes in "
             f"`{environment.get('notes_file', '')}`; do not edit by hand.", "",
             "Systems: `ours*` = `spacy-bert-ner train` with the project configs (presets in "
             "benchmarks/harness.py); `hf_recipe` = the transformers run_ner.py recipe (benchmarks/hf_recipe.py); "
             "`spacy_cnn` = `spacy init config -p ner -o efficiency`. Each ran alone, in its own process, "
             "on the same DocBins.", "", "## Time to accuracy", "", LEGEND, ""]
    for name, runs in groups(results).items():
        lines += render_group(name, runs, plots.get(name), targets(runs))
    if notes.strip():
        lines += ["## Notes", "", notes.strip(), ""]
    measured_on = Counter(run.get("machine", "not recorded") for run in results.get("runs", {}).values())
    lines += ["## Environment and commands", "", "- runs measured on: " + "; ".join(
                  f"{name} ({count} runs)" for name, count in measured_on.most_common()),
              f"- report written: {environment.get('date', '')} on {environment.get('machine', '')}",
              "- versions when written: " + ", ".join(
                  f"{k} {v}" for k, v in environment.get("versions", {}).items()),
              "", "The harness's commands that made the runs of the results file:", ""]
    lines += [f"    {command}" for command in results.get("invocations", [])]
    return "\n".join(lines) + "\n"
