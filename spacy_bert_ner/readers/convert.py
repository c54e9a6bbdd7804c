"""`spacy-bert-ner convert`: corpus files -> one `.spacy` DocBin each, a table and a report."""
import random
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from spacy.tokens import Doc, DocBin
from wasabi import Printer

from ..errors import UserError
from ..jsonfiles import write_json
from .corpus import make_nlp, read_corpus
from .file_report import FileReport
from .jsonl import INCORRECT_SPANS_KEY

msg = Printer()
SPLIT_NAMES = ("train", "dev", "test")


def parse_label_map(items: Sequence[str]) -> Dict[str, str]:
    """`["OTH=O", "GPE_LOC=LOC"]` -> {"OTH": "O", "GPE_LOC": "LOC"}."""
    mapping = {}
    for item in items:
        old, sep, new = item.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise UserError(f"cannot read --map {item!r}: write LABEL=NEW, e.g. --map OTH=O")
        mapping[old.strip()] = new.strip()
    return mapping


def parse_split(text: str) -> List[float]:
    """`"0.8,0.1,0.1"` -> [0.8, 0.1, 0.1]: two or three fractions that sum to 1."""
    try:
        fractions = [float(part) for part in text.split(",")]
    except ValueError:
        fractions = []
    if not 2 <= len(fractions) <= 3 or any(f <= 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
        raise UserError(f"cannot read --split {text!r}: give 2 or 3 positive fractions that sum to 1, e.g. 0.8,0.1,0.1")
    return fractions


def split_docs(docs: List[Doc], fractions: Sequence[float], seed: int) -> Dict[str, List[Doc]]:
    """A deterministic split by document: shuffle with `seed`, cut by the fractions.

    Each part keeps the documents in file order."""
    order = list(range(len(docs)))
    random.Random(seed).shuffle(order)
    parts, start, total = {}, 0, 0.0
    for name, fraction in zip(SPLIT_NAMES, fractions):
        total += fraction
        end = round(total * len(docs))
        parts[name] = [docs[i] for i in sorted(order[start:end])]
        start = end
    empty = [name for name, part in parts.items() if not part]
    if empty:
        raise UserError(
            f"{len(docs)} documents are too few for --split {','.join(map(str, fractions))} ({', '.join(empty)} "
            f"would be empty); lower --n-sents so there are more, smaller documents"
        )
    return parts


def describe_docs(docs: List[Doc]) -> Dict[str, Any]:
    entities = Counter(ent.label_ for doc in docs for ent in doc.ents)
    return {
        "documents": len(docs),
        "sentences": sum(1 for doc in docs for token in doc if token.is_sent_start),
        "tokens": sum(len(doc) for doc in docs),
        "entities": dict(entities.most_common()),
    }


def convert(
    inputs: Sequence[Path],
    output: Path,
    lang: str = "xx",
    report_path: Optional[Path] = None,
    label_map: Sequence[str] = (),
    split: Optional[str] = None,
    seed: int = 0,
    **options: Any,
) -> Dict[str, FileReport]:
    """Convert each input to `output/<stem>.spacy` (or `<stem>-train/dev/test.spacy` with
    `split`); print the table; write the JSON report. Nothing is written unless every
    input converts."""
    fractions = parse_split(split) if split else None
    if fractions and len(inputs) != 1:
        raise UserError("--split takes one input file; split each file in its own run")
    targets: Dict[Path, Path] = {}
    for path in inputs:
        target = output / f"{Path(path).stem}.spacy"
        if target in targets.values():
            raise UserError(f"two inputs would both write {target}; convert them into separate --output folders")
        targets[path] = target
    mapping = parse_label_map(label_map)
    nlp = make_nlp(lang)
    reports: Dict[str, FileReport] = {}
    writes: Dict[Path, List[Doc]] = {}
    for path in inputs:
        docs, report = read_corpus(path, nlp, label_map=mapping, **options)
        reports[str(path)] = report
        if fractions:
            for name, part in split_docs(docs, fractions, seed).items():
                writes[output / f"{Path(path).stem}-{name}.spacy"] = part
                report.splits[name] = describe_docs(part)
        else:
            writes[targets[path]] = docs
    output.mkdir(parents=True, exist_ok=True)
    for target, docs in writes.items():
        DocBin(docs=docs, store_user_data=False).to_disk(target)
    print_table(reports)
    for target, docs in writes.items():
        msg.good(f"Wrote {len(docs)} documents to {target}")
    if report_path is not None:
        report_path.parent.mkdir(parents=True, exist_ok=True)
        data = {path: report.to_dict() for path, report in reports.items()}
        write_json(report_path, data)
        msg.good(f"Report written to {report_path}")
    return reports


def print_table(reports: Dict[str, FileReport]) -> None:
    """A row per file, then a row per file and label, then the first locations of each
    kind of problem."""
    header = ["file", "docs", "sents", "tokens", "entities", "repaired", "dropped", "set aside", "misaligned"]
    rows = [
        [Path(path).name, r.documents, r.sentences, r.tokens, sum(r.entities.values()),
         sum(r.repaired.values()), sum(r.dropped.values()), sum(r.set_aside.values()), sum(r.misaligned.values())]
        for path, r in reports.items()
    ]
    msg.table(rows, header=header, divider=True, aligns=["l"] + ["r"] * (len(header) - 1))
    header = ["file", "label", "entities", "repaired", "dropped", "set aside"]
    rows = []
    for path, r in reports.items():
        labels = [*r.entities, *(label for label in (*r.dropped, *r.set_aside) if label not in r.entities)]
        for label in sorted(labels, key=lambda label: -r.entities[label]):
            rows.append([Path(path).name, label, r.entities[label], r.repaired[label], r.dropped[label], r.set_aside[label]])
    if rows:
        msg.table(rows, header=header, divider=True, aligns=["l", "l", "r", "r", "r", "r"])
    for path, r in reports.items():
        for kind, count in r.problem_counts.items():
            shown = [p for p in r.problems if p["message"].startswith(kind)]
            print(f"{path}: {kind}: {count}" + (f" (first {len(shown)} below)" if count > len(shown) else ""))
            for problem in shown:
                print(f"  {path}:{problem['line']}: {problem['message']}")
        for pair, count in r.mapped.items():
            print(f"{path}: --map {pair}: {count} spans")
        if r.spacing == "unknown":
            print(f"{path}: no `# text` comments or SpaceAfter marks, so the raw text's spacing is unknown: tokens "
                  "are joined by spaces, training uses these tokens and evaluate gives the gold-token score only")
        if r.partial:
            print(f"{path}: {r.partial} documents from binary answers (e.g. ner.teach): their accepted spans are "
                  "entities and every other token is missing, so training learns nothing about those tokens")
        if r.incorrect:
            print(f"{path}: {sum(r.incorrect.values())} rejected binary spans kept in doc.spans"
                  f"[{INCORRECT_SPANS_KEY!r}]: spaCy's ner learns from them with [components.ner] "
                  f"incorrect_spans_key = \"{INCORRECT_SPANS_KEY}\"; otherwise training ignores them")
        if r.multiword_tokens:
            print(f"{path}: {r.multiword_tokens} multiword tokens kept as written (e.g. Portuguese 'na', not 'em a')")
