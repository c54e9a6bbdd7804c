"""The package's wings and their order (CONTRIBUTING.md, "Layout"): a module imports only from its
own wing, from wings below it and from the shared top-level modules, never from a wing above it
or beside it. Imports inside functions count too: hiding one there is how circles creep in."""
import ast
from pathlib import Path
from typing import Iterator, List, Tuple

PACKAGE = Path(__file__).resolve().parent.parent / "spacy_bert_ner"
# Bottom to top: what spacy.load needs, corpora, the two sides of a model's life, scoring it (and,
# beside it, serving it over HTTP), many trainings, and what a person types. Wings of one level do
# not import each other.
LEVELS = {"components": 1, "readers": 2, "training": 3, "inference": 3, "serving": 4, "evaluation": 4,
          "experiments": 5, "cli": 6}
SHARED = {"__init__", "__main__", "about", "cache", "errors", "extras", "jsonfiles", "languages", "package_meta",
          "ray_cluster"}


def wing(parts: Tuple[str, ...]):
    """The wing of a module, given its dotted parts below the package; None for a shared module."""
    return parts[0] if parts and parts[0] in LEVELS else None


def imported_modules(package: Path, path: Path) -> Iterator[Tuple[str, ...]]:
    """The package's modules that `path` imports, as dotted parts below the package."""
    here = path.relative_to(package).parts[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            target = list(here[: len(here) - (node.level - 1)]) + (node.module.split(".") if node.module else [])
            if node.module:
                yield tuple(target)
            else:  # from . import a, b: the names are modules
                yield from (tuple(target + [alias.name]) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("spacy_bert_ner."):
            yield tuple(node.module.split(".")[1:])


def violations(package: Path) -> List[str]:
    wrong = []
    for path in sorted(package.rglob("*.py")):
        name = path.relative_to(package)
        own = wing(name.parts)
        for target in imported_modules(package, path):
            other = wing(target)
            if own is None and other is not None and name.stem != "__main__":  # the launcher runs the CLI
                wrong.append(f"{name} (shared) imports {'.'.join(target)} ({other})")
            elif own is not None and other not in (None, own) and LEVELS[other] >= LEVELS[own]:
                wrong.append(f"{name} ({own}) imports {'.'.join(target)} ({other})")
    return wrong


def test_every_module_sits_in_a_wing_or_is_shared_and_imports_only_downwards():
    assert {p.stem for p in PACKAGE.glob("*.py")} == SHARED
    assert {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"} == set(LEVELS)
    # setup.cfg's `packages = find:` leaves out a folder without __init__.py: the wheel would lack it
    assert [wing for wing in LEVELS if not (PACKAGE / wing / "__init__.py").is_file()] == []
    assert violations(PACKAGE) == []


def test_an_import_upwards_or_sideways_is_caught_even_inside_a_function(tmp_path):
    for wing_name, source in (("components", "def f():\n    from ..inference.loading import load_pipeline\n"),
                              ("training", "from ..inference import long_texts\n"),
                              ("readers", "from ..errors import UserError\nfrom . import schemes\n")):
        (tmp_path / wing_name).mkdir()
        (tmp_path / wing_name / "module.py").write_text(source, encoding="utf8")
    assert violations(tmp_path) == ["components/module.py (components) imports inference.loading (inference)",
                                    "training/module.py (training) imports inference (inference)"]
