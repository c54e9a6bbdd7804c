"""Non-English NER with BERT-family encoders, packaged as spaCy pipelines.

Importing the package stays light (no torch): components register through
entry points in setup.cfg, so `spacy.load` finds them without an import.
"""
from .about import __version__

__all__ = ["__version__"]
