"""What a conversion read, repaired, dropped and set aside, per input file."""
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

TOOL_FORMATS = ("prodigy", "label-studio", "doccano")  # exports whose records may be left out

# Each kind of problem keeps its first locations only; the counts stay complete.
MAX_LOCATIONS = 10


@dataclass
class FileReport:
    path: str
    format: str = ""
    scheme: str = ""
    layout: str = ""
    documents: int = 0
    sentences: int = 0
    tokens: int = 0
    multiword_tokens: int = 0  # CoNLL-U multiword tokens kept as one surface token
    spacing: str = "known"  # "unknown": the file gives no raw text (no `# text`, no SpaceAfter=No)
    entities: Counter = field(default_factory=Counter)
    repaired: Counter = field(default_factory=Counter)
    dropped: Counter = field(default_factory=Counter)
    mapped: Counter = field(default_factory=Counter)
    set_aside: Counter = field(default_factory=Counter)
    misaligned: Counter = field(default_factory=Counter)  # entities inside a token of the tokenizer
    # Annotation tools' exports (readers/tool_exports.py): records left out, by reason ("rejected",
    # "cancelled", ...); Docs annotated in part (binary answers: other tokens missing); rejected
    # binary spans kept as known-incorrect spans, per label.
    skipped: Counter = field(default_factory=Counter)
    partial: int = 0
    incorrect: Counter = field(default_factory=Counter)
    problems: List[Dict[str, Any]] = field(default_factory=list)
    problem_counts: Counter = field(default_factory=Counter)
    splits: Dict[str, Dict[str, Any]] = field(default_factory=dict)

    def map_label(self, label: str, label_map: Dict[str, str]) -> Optional[str]:
        """The label after `--map`, counting the mapping; None when it maps to O (counted dropped)."""
        new = label_map.get(label, label)
        if new != label:
            self.mapped[f"{label}={new}"] += 1
            if new == "O":
                self.dropped[label] += 1
                return None
        return new

    def problem(self, line: Optional[int], kind: str, detail: str = "") -> None:
        """Count a problem of `kind`; keep its location while few of that kind are kept."""
        self.problem_counts[kind] += 1
        if self.problem_counts[kind] <= MAX_LOCATIONS:
            message = f"{kind}: {detail}" if detail else kind
            self.problems.append({"line": line, "message": message})

    def to_dict(self) -> Dict[str, Any]:
        return {
            "format": self.format,
            "scheme": self.scheme,
            "layout": self.layout,
            "documents": self.documents,
            "sentences": self.sentences,
            "tokens": self.tokens,
            "multiword_tokens": self.multiword_tokens,
            "spacing": self.spacing,
            "entities": dict(self.entities.most_common()),
            "repaired": sum(self.repaired.values()),
            "dropped": sum(self.dropped.values()),
            "repaired_per_label": dict(self.repaired.most_common()),
            "dropped_per_label": dict(self.dropped.most_common()),
            "mapped": dict(self.mapped.most_common()),
            "set_aside": sum(self.set_aside.values()),
            "set_aside_per_label": dict(self.set_aside.most_common()),
            "misaligned": sum(self.misaligned.values()),
            "misaligned_per_label": dict(self.misaligned.most_common()),
            **({"skipped_records": dict(self.skipped.most_common()), "partial_documents": self.partial,
                "incorrect_spans_per_label": dict(self.incorrect.most_common())}
               if self.format in TOOL_FORMATS else {}),
            "problems": sorted(self.problems, key=lambda p: (p["line"] or 0)),
            "problem_counts": dict(self.problem_counts.most_common()),
            **({"splits": self.splits} if self.splits else {}),
        }
