"""The command line, `spacy-bert-ner` and `python -m spacy bert-ner`: what a person types.

`app` registers the commands, one module per wing they hand over to: `data` (convert, export),
`training` (train and the encoder), `evaluation` (evaluate, calibrate), `inference` (package,
predict), `experiments` (sweep, cv). `options` declares what several of them share.
"""
from .app import app, main

__all__ = ["app", "main"]
