"""`spacy-bert-ner convert`: corpus files -> one `.spacy` DocBin each, a table and a report."""
import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from spacy.tokens import DocBin
from wasabi import Printer

from ..errors import UserError
from .build import make_vocab
from .corpus import read_corpus
from .report import FileReport

msg = Printer(line_max=10_000)


def parse_label_map(items: Sequence[str]) -> Dict[str, str]:
    """`["OTH=O", "GPE_LOC=LOC"]` -> {"OTH": "O", "GPE_LOC": "LOC"}."""
    mapping = {}
    for item in items:
        old, sep, new = item.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise UserError(f"cannot read --map {item!r}: write LABEL=NEW, e.g. --map OTH=O")
        mapping[old.strip()] = new.strip()
    return mapping


def convert(
    inputs: Sequence[Path],
    output: Path,
    lang: str = "xx",
    report_path: Optional[Path] = None,
    label_map: Sequence[str] = (),
    **options: Any,
) -> Dict[str, FileReport]:
    """Convert each input to `output/<stem>.spacy`; print the table; write the JSON report."""
    outputs = {}
    for path in inputs:
        target = output / f"{Path(path).stem}.spacy"
        if target in outputs.values():
            raise UserError(f"two inputs would both write {target}; convert them into separate --output folders")
        outputs[path] = target
    mapping = parse_label_map(label_map)
    vocab = make_vocab(lang)
    reports: Dict[str, FileReport] = {}
    results = []
    for path in inputs:
        docs, report = read_corpus(path, vocab, label_map=mapping, **options)
        results.append((docs, outputs[path]))
        reports[str(path)] = report
    output.mkdir(parents=True, exist_ok=True)
    for docs, target in results:
        DocBin(docs=docs, store_user_data=False).to_disk(target)
    print_table(reports)
    for path, target in outputs.items():
        msg.good(f"{path} -> {target}")
    if report_path is not None:
        report_path.parent.mkdir(parents=True, exist_ok=True)
        data = {path: report.to_dict() for path, report in reports.items()}
        report_path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf8")
        msg.good(f"Report written to {report_path}")
    return reports


def print_table(reports: Dict[str, FileReport]) -> None:
    labels: List[str] = sorted({label for r in reports.values() for label in r.entities})
    header = ["file", "docs", "sents", "tokens", *labels, "repaired", "dropped", "problems"]
    rows = []
    for path, r in reports.items():
        rows.append(
            [Path(path).name, r.documents, r.sentences, r.tokens, *(r.entities[label] for label in labels),
             sum(r.repaired.values()), sum(r.dropped.values()), sum(r.problem_counts.values())]
        )
    msg.table(rows, header=header, divider=True, aligns=["l"] + ["r"] * (len(header) - 1))
    for path, r in reports.items():
        for problem in r.problems:
            msg.warn(f"{path}:{problem['line']}: {problem['message']}")
        for kind, count in r.problem_counts.items():
            if count > len([p for p in r.problems if p["message"].startswith(kind)]):
                msg.info(f"{path}: {count} x {kind} in all (first locations above)")
