"""The workbench's own dependencies, and the one message that says how to install them.

A packaged model needs only the run time (setup.cfg `install_requires`: spaCy, spacy-transformers,
torch), so `pip install` of a model wheel brings no plotting or packaging tools. The workbench (the
command line, evaluation plots, packaging) needs more, installed with the `train` extra. Each entry
point checks for what it needs before doing any work, so an install without the extra stops at once
with the pip line instead of an ImportError halfway through a run.
"""
import importlib

from .errors import UserError

TRAIN_EXTRA = "spacy-bert-ner[train]"
RAY_EXTRA = "spacy-bert-ner[ray]"  # --engine ray: Ray Data and Ray tasks
SERVE_EXTRA = "spacy-bert-ner[serve]"  # serve: FastAPI, uvicorn, prometheus-client
SERVE_RAY_EXTRA = "spacy-bert-ner[serve-ray]"  # serve --engine ray: Ray Serve as well


class MissingExtra(UserError):
    """A dependency of the workbench is not installed; the message names the pip line."""


def require(module: str, needed_by: str, extra: str = TRAIN_EXTRA) -> None:
    """Stop with MissingExtra when `module` cannot be imported.

    needed_by starts the message, e.g. "plots need" gives
    "plots need matplotlib: pip install 'spacy-bert-ner[train]'".
    """
    try:
        found = importlib.import_module(module)
    except ImportError:
        found = None
    # A bare folder of that name on sys.path (setuptools' build/ beside setup.cfg) imports as an
    # empty namespace package, which is not the library either.
    if getattr(found, "__file__", None) is None:
        raise MissingExtra(f"{needed_by} {module}: pip install '{extra}'")
