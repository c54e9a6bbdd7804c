"""Load an installed pipeline package and print the entities it finds in a few sentences.

    python scripts/show_entities.py PACKAGE [--site DIR] [TEXT...]

`--site` puts a `pip install --target DIR` folder first on sys.path, so the demo can
show the wheel working without installing it into the user's environment.
"""
import argparse
import sys

SAMPLES = [
    "Mette Frederiksen mødtes med Emmanuel Macron i Paris for at tale om Europa-Kommissionen.",
    "Novo Nordisk åbner en ny fabrik i Kalundborg, siger direktør Lars Fruergaard Jørgensen.",
    "FC København vandt over Brøndby IF i Parken søndag aften.",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("package")
    parser.add_argument("texts", nargs="*")
    parser.add_argument("--site", help="a folder made by `pip install --target`")
    args = parser.parse_args()
    if args.site:
        sys.path.insert(0, args.site)
    import spacy

    nlp = spacy.load(args.package)
    print(f"Loaded {args.package} with pipeline {nlp.pipe_names}")
    for doc in nlp.pipe(args.texts or SAMPLES):
        print(f"\n{doc.text}")
        for ent in doc.ents:
            print(f"  {ent.label_:<6} {ent.text!r} [{ent.start_char}:{ent.end_char}]")
        if not doc.ents:
            print("  (no entities)")


if __name__ == "__main__":
    main()
