"""Load an installed pipeline package, print the entities it finds in a few sentences with their
scores, and (with --metrics, --wheel) a summary of the run: the demo's last step.

    python scripts/show_entities.py PACKAGE [--site DIR] [--metrics metrics.json] [--wheel WHL] [TEXT...]

`--site` puts a `pip install --target DIR` folder first on sys.path, so the demo can show the wheel
working without installing it into the user's environment. The sample sentences are not in the
demo corpus: names and sentences it never saw.
"""
import argparse
import json
import sys
from pathlib import Path

SAMPLES = [
    "Mette Frederiksen mødtes med Emmanuel Macron i Paris for at tale om Europa-Kommissionen.",
    "Novo Nordisk åbner en ny fabrik i Kalundborg, siger direktør Lars Fruergaard Jørgensen.",
    "FC København vandt over Brøndby IF i Parken søndag aften.",
    "Signe Holm fra Aalborg Universitet talte på Folkemødet på Bornholm i juni.",
]


def show(nlp, texts) -> None:
    from spacy_bert_ner.components.confidence import entity_scores

    for doc in nlp.pipe(texts):
        print(f"\n{doc.text}")
        for ent, score in zip(doc.ents, entity_scores(doc)):
            shown = "  -  " if score is None else f"{score:.2f}"
            print(f"  {ent.label_:<6} {shown}  {ent.text!r} [{ent.start_char}:{ent.end_char}]")
        if not doc.ents:
            print("  (no entities)")


def summary(package: str, metrics_path: Path, wheel: str) -> None:
    metrics = json.loads(metrics_path.read_text(encoding="utf8"))
    f1 = metrics["ents_f"]
    interval = (metrics.get("bootstrap") or {}).get("ents_f")
    around = f" (95% interval {interval[0]:.3f}-{interval[1]:.3f})" if interval else ""
    folder = metrics_path.parent
    print("\nSummary")
    print(f"  test F1 on raw text: {f1:.3f}{around}, P {metrics['ents_p']:.3f}, R {metrics['ents_r']:.3f}")
    print(f"  report and plots:    {folder / 'report.md'}, {folder}/*.png")
    if wheel:
        print(f"  wheel:               {wheel}")
        print(f"  use it:              pip install {wheel}")
    print(f"                       python -c \"import spacy; nlp = spacy.load('{package}'); "
          "print(nlp('Mette Frederiksen besøgte Aarhus.').ents)\"")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("package")
    parser.add_argument("texts", nargs="*")
    parser.add_argument("--site", help="a folder made by `pip install --target`")
    parser.add_argument("--metrics", type=Path, help="the evaluation's metrics.json, for the summary")
    parser.add_argument("--wheel", default="", help="the wheel, named in the summary")
    args = parser.parse_args()
    if args.site:
        sys.path.insert(0, args.site)
    import spacy

    nlp = spacy.load(args.package)
    print(f"Loaded {args.package} with pipeline {nlp.pipe_names}; entity, score (0-1), text, characters:")
    show(nlp, args.texts or SAMPLES)
    if args.metrics:
        summary(args.package, args.metrics, args.wheel)


if __name__ == "__main__":
    main()
