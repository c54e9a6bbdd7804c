"""What installing spacy-bert-ner brings, read from this environment's installed metadata.

test_lean_runtime.py repacks these distributions into the wheel folder of its offline venv;
benchmarks/install_size.py (run as `python -m benchmarks.install_size`) sums their sizes.
"""
import importlib.metadata as metadata
from typing import Dict, Iterable, Set, Tuple

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


def closure(requirements: Iterable[str]) -> Dict[str, metadata.Distribution]:
    """Installed distributions (canonical name -> Distribution) that `requirements` need here,
    markers and extras evaluated as pip would on this interpreter: what test_lean_runtime.py
    repacks into its venv's wheel folder, and what benchmarks/install_size.py sums."""
    found: Dict[str, metadata.Distribution] = {}
    todo = [(Requirement(r), "") for r in requirements]
    seen: Set[Tuple[str, str]] = set()
    while todo:
        req, extra = todo.pop()
        if req.marker and not req.marker.evaluate({**default_environment(), "extra": extra}):
            continue
        name = canonicalize_name(req.name)
        if name not in found:
            found[name] = metadata.distribution(name)
        dist = found[name]
        for want in [""] + sorted(req.extras):
            if (name, want) not in seen:
                seen.add((name, want))
                todo += [(Requirement(line), want) for line in dist.requires or []]
    return found
