"""What installing a packaged model costs on disk, with and without the workbench.

    python -m benchmarks.install_size [--output benchmarks/results/install_size.json]

A model wheel requires `spacy-bert-ner` with no extra; the workbench sits behind `[train]` and
int8 inference behind `[int8]`. This walks the installed metadata of this environment from
`spacy-bert-ner` through every requirement that applies (markers evaluated, extras followed) and
sums the size of each distribution's installed files, for the run time alone and with each extra.
It measures what pip would put in a fresh venv from the same versions, without a download;
`tests/test_lean_runtime.py` checks in a real venv which distributions land there.
"""
import argparse
import importlib.metadata as metadata
import platform
from pathlib import Path
from typing import Dict

from spacy_bert_ner.jsonfiles import write_json
from tests.installed import closure

ROOT = Path(__file__).resolve().parents[1]


def megabytes(dists: Dict[str, metadata.Distribution]) -> float:
    total = 0
    for dist in dists.values():
        for file in dist.files or []:
            path = Path(file.locate())
            if path.is_file():
                total += path.stat().st_size
    return round(total / 2**20, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "install_size.json")
    args = parser.parse_args()
    try:
        runtime = closure(["spacy-bert-ner"])
        installs = {label: closure([f"spacy-bert-ner{extra}"]) for label, extra in
                    (("runtime", ""), ("runtime + [train]", "[train]"), ("runtime + [int8]", "[int8]"))}
    except metadata.PackageNotFoundError as err:
        raise SystemExit(f"{err.name} is required but not installed here: pip install -e '.[train,int8]' first")
    report = {"python": platform.python_version(), "machine": platform.machine(),
              "torch": metadata.version("torch"), "installs": {}}
    for label, dists in installs.items():
        added = sorted(set(dists) - set(runtime))
        row = {"distributions": len(dists), "mb": megabytes(dists),
               "added_to_runtime": added, "added_mb": megabytes({n: dists[n] for n in added})}
        report["installs"][label] = row
        print(f"{label:20} {row['distributions']:3} distributions {row['mb']:8.1f} MB"
              + (f"  (+{row['added_mb']} MB: {', '.join(added)})" if added else ""))
    torch_mb = megabytes({"torch": metadata.distribution("torch")})
    report["torch_mb"] = torch_mb
    print(f"of which torch {torch_mb} MB ({report['torch']})")
    write_json(args.output, report)
    print(f"Wrote {args.output}")


if __name__ == "__main__":
    main()
