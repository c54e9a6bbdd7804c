"""Human-readable views of metrics.json: terminal tables, report.md and run comparisons."""
from typing import Dict, List, Optional, Tuple

from wasabi import msg

from .analysis import ERROR_DESCRIPTIONS


def pct(value: Optional[float]) -> str:
    return "-" if value is None else f"{100 * value:.2f}"


def ci(interval: Optional[List[float]]) -> str:
    return "n/a" if interval is None else f"{100 * interval[0]:.2f}-{100 * interval[1]:.2f}"


def signed(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{100 * value:+.2f}"


def score_rows(metrics: Dict[str, object]) -> List[List[str]]:
    boot, counts = metrics["bootstrap"], metrics["ents_counts"]
    rows = [
        [label, pct(s["p"]), pct(s["r"]), pct(s["f"]), ci(boot["ents_per_type"].get(label)),
         counts["per_type"][label]["tp"] + counts["per_type"][label]["fn"]]
        for label, s in metrics["ents_per_type"].items()
    ]
    rows.append(["ALL (micro)", pct(metrics["ents_p"]), pct(metrics["ents_r"]), pct(metrics["ents_f"]),
                 ci(boot["ents_f"]), counts["gold"]])
    rows.append(["ALL (macro)", pct(metrics["ents_macro_p"]), pct(metrics["ents_macro_r"]),
                 pct(metrics["ents_macro_f"]), ci(boot.get("ents_macro_f")), counts["gold"]])
    return rows


SCORE_HEADER = ["Type", "P", "R", "F", "F 95% CI", "Gold"]


def print_scores(metrics: Dict[str, object]) -> None:
    msg.divider(f"Strict entity scores ({metrics['n_sentences']} sentences, {metrics['n_tokens']} tokens)")
    msg.table(score_rows(metrics), header=SCORE_HEADER, aligns=["l", "r", "r", "r", "r", "r"])
    rows = [[schema, pct(s["p"]), pct(s["r"]), pct(s["f"])] for schema, s in metrics["semeval"].items()]
    rows.append(["token accuracy (incl. O)", "", "", pct(metrics["ents_token_acc"])])
    msg.table(rows, header=["SemEval-2013 schema", "P", "R", "F"], aligns=["l", "r", "r", "r"])
    schemas = list(metrics["semeval"])
    msg.table([[label, *(pct(per[k]["f"]) for k in schemas)] for label, per in metrics["semeval_per_type"].items()],
              header=["Type"] + [f"{k} F" for k in schemas], aligns=["l"] + ["r"] * len(schemas))
    errors = [[kind, n] for kind, n in most_frequent(metrics["error_counts"])]
    msg.table(errors, header=["Error pattern", "Count"], aligns=["l", "r"])


def most_frequent(counts: Dict[str, int]) -> List[Tuple[str, int]]:
    return sorted(counts.items(), key=lambda kv: -kv[1])


def md_table(header: List[str], rows: List[List[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def mark(example: Dict[str, object]) -> str:
    gold, pred = example["gold"], example["pred"]
    show = lambda s: f"`{s['text']}` ({s['label']}, tokens {s['start']}-{s['end']})" if s else "nothing"  # noqa: E731
    line = f"- gold {show(gold)}, predicted {show(pred)}"
    if example.get("overlapping"):
        line += f" (overlapping {', '.join(map(show, example['overlapping']))}, paired elsewhere)"
    return line + f": \"{example['text']}\""


SEMEVAL_HEADER = ["COR", "INC", "PAR", "MIS", "SPU", "Possible", "Actual", "P", "R", "F"]


def semeval_cells(s: Dict[str, object]) -> List[object]:
    return [s["cor"], s["inc"], s["par"], s["mis"], s["spu"], s["possible"], s["actual"],
            pct(s["p"]), pct(s["r"]), pct(s["f"])]


def render_markdown(metrics: Dict[str, object], plots: Dict[str, str],
                    comparison: Optional[Dict[str, object]] = None) -> str:
    boot = metrics["bootstrap"]
    parts = [
        "# NER evaluation report",
        "",
        f"Model `{metrics['model']}` on `{metrics['data']}`: {metrics['n_sentences']} sentences "
        f"({metrics['n_docs']} documents), {metrics['n_tokens']} tokens, "
        f"{metrics['ents_counts']['gold']} gold and {metrics['ents_counts']['pred']} predicted entities."
        + (f" {metrics['sentence_boundaries_merged']} sentence boundaries are crossed by an entity; the "
           "sentences on both sides count as one." if metrics.get("sentence_boundaries_merged") else ""),
        "",
        f"**Strict F1 {pct(metrics['ents_f'])}** (95% CI {ci(boot['ents_f'])}), "
        f"P {pct(metrics['ents_p'])}, R {pct(metrics['ents_r'])}; macro F1 {pct(metrics['ents_macro_f'])}; "
        f"token accuracy incl. O {pct(metrics['ents_token_acc'])}.",
        "",
        "## Strict scores per type",
        "",
        "A predicted entity counts only if its start, end and type all match a gold entity "
        "(identical to seqeval `mode='strict'`, IOB2). Intervals: percentile bootstrap over "
        f"sentences, {boot['n']} resamples, seed {boot['seed']}.",
        "",
        md_table(SCORE_HEADER, score_rows(metrics)),
        "",
    ]
    if "per_type_f1" in plots:
        parts += [f"![F1 per type]({plots['per_type_f1']})", ""]
    parts += [
        "## Partial matches (SemEval-2013)",
        "",
        "strict: boundaries and type; exact: boundaries only; partial: overlap counts half; "
        "ent_type: type right and spans overlap (definitions and counts of nervaluate 1.2). Each gold "
        "entity is counted once (Possible = COR+INC+PAR+MIS) and each prediction once "
        "(Actual = COR+INC+PAR+SPU).",
        "",
        md_table(["Schema"] + SEMEVAL_HEADER, [[k] + semeval_cells(s) for k, s in metrics["semeval"].items()]),
        "",
        "### Partial matches per type",
        "",
        "Only gold and predicted entities of the type are compared, so a prediction of the wrong "
        "type is MIS for the gold type and SPU for its own.",
        "",
        md_table(["Type", "Schema"] + SEMEVAL_HEADER,
                 [[label, k] + semeval_cells(s)
                  for label, per in metrics["semeval_per_type"].items() for k, s in per.items()]),
        "",
        "## Type confusion",
        "",
        "Rows: gold type (`spurious`: prediction paired with no gold entity); columns: predicted type "
        "(`missed`: gold entity paired with no prediction). Each gold entity is paired with at most one "
        "overlapping prediction, the longest overlap first, so rows add up to the gold and columns to "
        "the predicted entities, and boundary errors of the right type sit on the diagonal.",
        "",
    ]
    conf = metrics["confusion"]
    parts += [md_table(["gold \\ predicted"] + conf["columns"],
                       [[r] + row for r, row in zip(conf["rows"], conf["matrix"])]), ""]
    if "confusion" in plots:
        parts += [f"![Confusion matrix]({plots['confusion']})", ""]
    parts += ["## Error patterns", "",
              md_table(["Pattern", "Meaning", "Count"],
                       [[k, ERROR_DESCRIPTIONS[k], n] for k, n in most_frequent(metrics["error_counts"])]),
              "", "All errors, one per line: `errors.jsonl`.", ""]
    for kind, _ in most_frequent(metrics["error_counts"]):
        examples = metrics["error_examples"].get(kind, [])
        if not examples:
            continue
        parts += [f"### {kind}", ""] + [mark(e) for e in examples] + [""]
    if "training_curve" in plots:
        parts += ["## Training curve", "", f"![Training curve]({plots['training_curve']})", ""]
    if comparison:
        parts += ["## Comparison", "", comparison_text(comparison, markdown=True), ""]
    return "\n".join(parts)


def comparison_rows(comparison: Dict[str, object]) -> List[List[str]]:
    rows = []
    for label, d in comparison["per_type"].items():
        interval = d["interval"]
        rows.append([label, pct(d["this"]), pct(d["other"]), signed(d["diff"]),
                     "n/a" if interval is None else f"{signed(interval[0])} to {signed(interval[1])}",
                     {True: "yes", False: "no", None: "n/a"}[d["excludes_zero"]]])
    return rows


COMPARISON_HEADER = ["Type", "F this", "F other", "Diff", "95% CI of diff", "Excludes 0"]


def comparison_text(comparison: Dict[str, object], markdown: bool = False) -> str:
    intro = (f"This run against `{comparison['other']}`; interval method: {comparison['method']}.")
    if markdown:
        return intro + "\n\n" + md_table(COMPARISON_HEADER, comparison_rows(comparison))
    return intro


def print_comparison(comparison: Dict[str, object]) -> None:
    msg.divider("Comparison")
    msg.text(comparison_text(comparison))
    msg.table(comparison_rows(comparison), header=COMPARISON_HEADER, aligns=["l", "r", "r", "r", "r", "l"])
