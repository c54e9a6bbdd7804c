"""PNG plots of an evaluation, drawn with matplotlib's Agg backend (no display needed)."""
from pathlib import Path
from typing import Dict, List

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy  # noqa: E402

from .scorer import GOLD_TOKENS, TOKENIZATIONS  # noqa: E402


def plot_per_type_f1(metrics: Dict[str, object], path: Path) -> Path:
    """Bars of F1 per type (and overall micro F1) with their bootstrap intervals."""
    per_type = metrics["ents_per_type"]
    intervals = metrics["bootstrap"]["ents_per_type"]
    labels = list(per_type) + ["ALL (micro)"]
    values = [per_type[k]["f"] for k in per_type] + [metrics["ents_f"]]
    cis = [intervals.get(k) for k in per_type] + [metrics["bootstrap"]["ents_f"]]
    lower = [v - ci[0] if ci else 0.0 for v, ci in zip(values, cis)]
    upper = [ci[1] - v if ci else 0.0 for v, ci in zip(values, cis)]
    fig, ax = plt.subplots(figsize=(max(4.0, 0.9 * len(labels) + 1.5), 4))
    colors = ["tab:blue"] * len(per_type) + ["tab:gray"]
    ax.bar(labels, values, yerr=[lower, upper], capsize=4, color=colors)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("F1 (strict)")
    conf = int(round(metrics["bootstrap"]["confidence"] * 100))
    on = TOKENIZATIONS[metrics.get("tokenization", GOLD_TOKENS)]
    ax.set_title(f"F1 per type on {on}, {conf}% bootstrap intervals over sentences")
    ax.tick_params(axis="x", rotation=45 if len(labels) > 6 else 0)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_confusion(confusion: Dict[str, object], path: Path) -> Path:
    rows, cols = confusion["rows"], confusion["columns"]
    matrix = numpy.array(confusion["matrix"], dtype=float).reshape(len(rows), len(cols))
    fig, ax = plt.subplots(figsize=(1.0 * len(cols) + 2.5, 0.8 * len(rows) + 2))
    image = ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(cols)), cols, rotation=45, ha="right")
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    threshold = matrix.max() / 2 if matrix.size else 0
    for i in range(len(rows)):
        for j in range(len(cols)):
            ax.text(j, i, int(matrix[i, j]), ha="center", va="center",
                    color="white" if matrix[i, j] > threshold else "black")
    fig.colorbar(image, ax=ax)
    ax.set_title("Entity type confusion (paired spans)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_training_curve(points: List[Dict[str, object]], path: Path) -> Path:
    """Dev ents_f (or the training score) and losses against the step."""
    steps = [p["step"] for p in points]
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(7, 5.5))
    for key, label, style in (("ents_f", "dev ents_f", "-"), ("score", "dev score (weighted)", "--")):
        xs = [s for s, p in zip(steps, points) if p[key] is not None]
        if xs:
            top.plot(xs, [p[key] for p in points if p[key] is not None], style, marker="o", label=label)
    top.set_ylabel("score")
    top.legend()
    top.set_title("Training curve")
    for name in sorted({k for p in points for k in p["losses"]}):
        xs = [s for s, p in zip(steps, points) if name in p["losses"]]
        bottom.plot(xs, [p["losses"][name] for p in points if name in p["losses"]], label=f"loss {name}")
    bottom.set_xlabel("step")
    bottom.set_ylabel("loss")
    if bottom.lines:
        bottom.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_reliability(calibration: Dict[str, object], path: Path) -> Path:
    """Share of right entities against their mean score per score bin; the diagonal is calibrated."""
    bins = [b for b in calibration["reliability"] if b["count"]]
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], ":", color="gray", label="calibrated")
    ax.plot([b["mean_score"] for b in bins], [b["accuracy"] for b in bins], marker="o", label="this model")
    for b in bins:
        ax.annotate(str(b["count"]), (b["mean_score"], b["accuracy"]), textcoords="offset points", xytext=(4, -10),
                    fontsize=7)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("entity score (bin mean)")
    ax.set_ylabel("share of entities right (strict)")
    ece = calibration["ece"]
    ax.set_title("Reliability" + (f", ECE {ece:.3f}" if ece is not None else ""))
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
