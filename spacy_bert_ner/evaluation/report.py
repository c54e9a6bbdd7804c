"""Human-readable views of metrics.json: terminal tables, report.md and run comparisons."""
from typing import Dict, List, Optional, Tuple

from wasabi import msg

from .analysis import ERROR_DESCRIPTIONS
from .scorer import GOLD_TOKENS, RAW_TEXT, TOKENIZATIONS


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


def print_block(metrics: Dict[str, object], tokenization: str) -> None:
    msg.divider(f"Strict entity scores on {TOKENIZATIONS[tokenization]} "
                f"({metrics['n_sentences']} sentences, {metrics['n_tokens']} tokens)")
    msg.table(score_rows(metrics), header=SCORE_HEADER, aligns=["l", "r", "r", "r", "r", "r"])
    rows = [[schema, pct(s["p"]), pct(s["r"]), pct(s["f"])] for schema, s in metrics["semeval"].items()]
    rows.append(["token accuracy (incl. O)", "", "", pct(metrics["ents_token_acc"])])
    msg.table(rows, header=["SemEval-2013 schema", "P", "R", "F"], aligns=["l", "r", "r", "r"])
    schemas = list(metrics["semeval"])
    msg.table([[label, *(pct(per[k]["f"]) for k in schemas)] for label, per in metrics["semeval_per_type"].items()],
              header=["Type"] + [f"{k} F" for k in schemas], aligns=["l"] + ["r"] * len(schemas))


def print_scores(metrics: Dict[str, object]) -> None:
    headline = metrics.get("tokenization", GOLD_TOKENS)
    if GOLD_TOKENS in metrics:
        print_block(metrics[GOLD_TOKENS], GOLD_TOKENS)
    print_block(metrics, headline)
    errors = [[kind, n] for kind, n in most_frequent(metrics["error_counts"])]
    msg.table(errors, header=[f"Error pattern ({TOKENIZATIONS[headline]})", "Count"], aligns=["l", "r"])
    cal = metrics.get("calibration")
    if cal and cal["ece"] is not None:
        thresholds = ", ".join(f"{t}: P {pct(r['p'])} R {pct(r['r'])}" for t, r in cal["thresholds"].items())
        msg.text(f"Entity scores: expected calibration error {cal['ece']:.3f}; kept at {thresholds}.")
    msg.text(headline_text(metrics))


def headline_text(metrics: Dict[str, object]) -> str:
    """One line: the score production gets, and the gold-token score beside it."""
    headline = metrics.get("tokenization", GOLD_TOKENS)
    boot = metrics["bootstrap"]
    text = f"Strict F1 on {TOKENIZATIONS[headline]}: {pct(metrics['ents_f'])} (95% CI {ci(boot['ents_f'])})"
    if GOLD_TOKENS in metrics:
        gold = metrics[GOLD_TOKENS]
        text += (f", what production gets; on gold tokens: {pct(gold['ents_f'])} "
                 f"(95% CI {ci(gold['bootstrap']['ents_f'])})")
    return text + "."


def most_frequent(counts: Dict[str, int]) -> List[Tuple[str, int]]:
    return sorted(counts.items(), key=lambda kv: -kv[1])


def md_table(header: List[str], rows: List[List[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def mark(example: Dict[str, object]) -> str:
    gold, pred = example["gold"], example["pred"]
    show = lambda s: f"`{s['text']}` ({s['label']}, {s['start']}-{s['end']})" if s else "nothing"  # noqa: E731
    line = f"- gold {show(gold)}, predicted {show(pred)}"
    if example.get("overlapping"):
        line += f" (overlapping {', '.join(map(show, example['overlapping']))}, paired elsewhere)"
    return line + f": \"{example['text']}\""


SEMEVAL_HEADER = ["COR", "INC", "PAR", "MIS", "SPU", "Possible", "Actual", "P", "R", "F"]


def semeval_cells(s: Dict[str, object]) -> List[object]:
    return [s["cor"], s["inc"], s["par"], s["mis"], s["spu"], s["possible"], s["actual"],
            pct(s["p"]), pct(s["r"]), pct(s["f"])]


TOKENIZATION_NOTE = (
    "**raw text**: the pipeline tokenizes each document's text itself, as `spacy.load(...)(text)` and "
    "`predict` do in production, and a predicted entity is right when its characters, and type, match a "
    "gold entity. **gold tokens**: the pipeline runs on the corpus's own tokens, so errors that come from "
    "tokenization are left out; this is the figure CoNLL and seqeval results report.")


def summary_rows(metrics: Dict[str, object]) -> Tuple[List[str], List[List[str]]]:
    """The main figures side by side, one column per tokenization (the headline first)."""
    blocks = [(metrics.get("tokenization", GOLD_TOKENS), metrics)]
    if GOLD_TOKENS in metrics:
        blocks.append((GOLD_TOKENS, metrics[GOLD_TOKENS]))
    header = ["Score"] + [TOKENIZATIONS[t] + (" (headline)" if i == 0 and len(blocks) > 1 else "")
                          for i, (t, _) in enumerate(blocks)]
    rows = [
        ["strict F1 (micro)"] + [pct(b["ents_f"]) for _, b in blocks],
        ["95% CI"] + [ci(b["bootstrap"]["ents_f"]) for _, b in blocks],
        ["precision / recall"] + [f"{pct(b['ents_p'])} / {pct(b['ents_r'])}" for _, b in blocks],
        ["macro F1"] + [pct(b["ents_macro_f"]) for _, b in blocks],
        ["token accuracy incl. O"] + [pct(b["ents_token_acc"]) for _, b in blocks],
        ["partial match F (SemEval partial)"] + [pct(b["semeval"]["partial"]["f"]) for _, b in blocks],
        ["predicted entities"] + [str(b["ents_counts"]["pred"]) for _, b in blocks],
    ]
    return header, rows


def per_type_section(metrics: Dict[str, object], tokenization: str, level: str = "##") -> List[str]:
    boot = metrics["bootstrap"]
    return [
        f"{level} Strict scores per type on {TOKENIZATIONS[tokenization]}",
        "",
        "A predicted entity counts only if its start, end and type all match a gold entity "
        "(on gold tokens identical to seqeval `mode='strict'`, IOB2). Intervals: percentile bootstrap over "
        f"sentences, {boot['n']} resamples, seed {boot['seed']}.",
        "",
        md_table(SCORE_HEADER, score_rows(metrics)),
        "",
    ]


def semeval_section(metrics: Dict[str, object], tokenization: str, level: str = "##") -> List[str]:
    return [
        f"{level} Partial matches (SemEval-2013) on {TOKENIZATIONS[tokenization]}",
        "",
        "strict: boundaries and type; exact: boundaries only; partial: overlap counts half; "
        "ent_type: type right and spans overlap (definitions and counts of nervaluate 1.2). Each gold "
        "entity is counted once (Possible = COR+INC+PAR+MIS) and each prediction once "
        "(Actual = COR+INC+PAR+SPU).",
        "",
        md_table(["Schema"] + SEMEVAL_HEADER, [[k] + semeval_cells(s) for k, s in metrics["semeval"].items()]),
        "",
        f"{level}# Partial matches per type on {TOKENIZATIONS[tokenization]}",
        "",
        "Only gold and predicted entities of the type are compared, so a prediction of the wrong "
        "type is MIS for the gold type and SPU for its own.",
        "",
        md_table(["Type", "Schema"] + SEMEVAL_HEADER,
                 [[label, k] + semeval_cells(s)
                  for label, per in metrics["semeval_per_type"].items() for k, s in per.items()]),
        "",
    ]


def confidence_section(metrics: Dict[str, object], plots: Dict[str, str]) -> List[str]:
    """How far the entities' scores can be trusted (evaluation/calibration.py)."""
    cal = metrics.get("calibration")
    if not cal:
        return []
    ece = "n/a" if cal["ece"] is None else f"{cal['ece']:.3f}"
    parts = [
        f"## Confidence scores on {TOKENIZATIONS[metrics.get('tokenization', GOLD_TOKENS)]}",
        "",
        f"{cal['n_scored']} predicted entities carry a score. Expected calibration error {ece} (over "
        f"{len(cal['reliability'])} equal-width bins: how far, on average, the share of right entities "
        "is from their score). Entities kept at a threshold (`predict --min-score`):",
        "",
        md_table(["Threshold", "Kept", "P", "R", "F"],
                 [[t, r["kept"], pct(r["p"]), pct(r["r"]), pct(r["f"])] for t, r in cal["thresholds"].items()]),
        "",
    ]
    if "reliability" in plots:
        parts += [f"![Reliability]({plots['reliability']})", ""]
    return parts


def gold_tokens_unlike_training(metrics: Dict[str, object]) -> Optional[str]:
    """A warning when the pipeline's tokenizer cuts at least 1% of the gold tokens: the gold-token
    score then measures the model on tokens it never trained on, and only the raw-text one counts."""
    split = metrics.get("gold_tokens_split")
    if not split or not split["of"] or split["count"] < 0.01 * split["of"]:
        return None
    return (f"{split['count']:,} of {split['of']:,} gold tokens ({split['count'] / split['of']:.0%}) are several "
            f"tokens of the pipeline's tokenizer (e.g. {', '.join(split['examples'][:3])}): the model trained on "
            "its own tokens, so the gold-token score shows it input it never saw; trust the raw-text score.")


def render_markdown(metrics: Dict[str, object], plots: Dict[str, str],
                    comparison: Optional[Dict[str, object]] = None) -> str:
    headline = metrics.get("tokenization", GOLD_TOKENS)
    header, rows = summary_rows(metrics)
    notes = []
    if metrics.get("sentence_boundaries_merged"):
        notes.append(f"{metrics['sentence_boundaries_merged']} gold sentence boundaries are crossed by a gold "
                     "entity; the sentences on both sides count as one.")
    if metrics.get("raw_text_unavailable"):
        notes.append(f"Only the gold-token score exists: {metrics['raw_text_unavailable']}.")
    misaligned = metrics.get("misaligned_gold_entities")
    if misaligned and misaligned["count"]:
        notes.append(f"{misaligned['count']} gold entities do not fall on the pipeline tokenizer's token "
                     f"boundaries, so no prediction on raw text can match them (e.g. {'; '.join(misaligned['examples'][:3])}).")
    if unlike := gold_tokens_unlike_training(metrics):
        notes.append(unlike)
    parts = [
        "# NER evaluation report",
        "",
        f"Model `{metrics['model']}` on `{metrics['data']}`: {metrics['n_sentences']} sentences "
        f"({metrics['n_docs']} documents), {metrics['n_tokens']} tokens, "
        f"{metrics['ents_counts']['gold']} gold entities.",
        "",
        f"**{headline_text(metrics)}**",
        "",
        TOKENIZATION_NOTE,
        "",
        md_table(header, rows),
        "",
        *[line for note in notes for line in (note, "")],
    ]
    parts += per_type_section(metrics, headline)
    if "per_type_f1" in plots:
        parts += [f"![F1 per type]({plots['per_type_f1']})", ""]
    if GOLD_TOKENS in metrics:
        parts += per_type_section(metrics[GOLD_TOKENS], GOLD_TOKENS)
    parts += semeval_section(metrics, headline)
    if GOLD_TOKENS in metrics:
        parts += semeval_section(metrics[GOLD_TOKENS], GOLD_TOKENS)
    parts += confidence_section(metrics, plots)
    parts += [
        f"## Type confusion on {TOKENIZATIONS[headline]}",
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
    parts += [f"## Error patterns on {TOKENIZATIONS[headline]}", "",
              md_table(["Pattern", "Meaning", "Count"],
                       [[k, ERROR_DESCRIPTIONS[k], n] for k, n in most_frequent(metrics["error_counts"])]),
              "", "All errors, one per line: `errors.jsonl`"
              + (" (on gold tokens: `errors_gold_tokens.jsonl`)." if GOLD_TOKENS in metrics else "."), ""]
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
    parts = [f"This run against `{comparison['other']}`."]
    for tokenization in (RAW_TEXT, GOLD_TOKENS):
        if tokenization not in comparison:
            continue
        block = comparison[tokenization]
        parts.append(f"On {TOKENIZATIONS[tokenization]}; interval method: {block['method']}.")
        if markdown:
            parts.append(md_table(COMPARISON_HEADER, comparison_rows(block)))
    parts += [f"Not compared: {note}." for note in comparison.get("skipped", [])]
    return ("\n\n" if markdown else "\n").join(parts)


def print_comparison(comparison: Dict[str, object]) -> None:
    msg.divider("Comparison")
    msg.text(f"This run against {comparison['other']}")
    for tokenization in (RAW_TEXT, GOLD_TOKENS):
        if tokenization in comparison:
            block = comparison[tokenization]
            msg.text(f"On {TOKENIZATIONS[tokenization]}; interval method: {block['method']}.")
            msg.table(comparison_rows(block), header=COMPARISON_HEADER, aligns=["l", "r", "r", "r", "r", "l"])
            if not block["paired"]:
                msg.warn(f"On {TOKENIZATIONS[tokenization]} the paired bootstrap was not possible; the interval "
                         "is an approximation from the two runs' own intervals.")
    for note in comparison.get("skipped", []):
        msg.warn(f"Not compared: {note}.")
