"""Corpus readers: NER corpora in common formats and tag schemes -> spaCy Docs.

No torch here: conversion must start fast and run where no model is installed.
"""
from .corpus import read_corpus, read_text
from .report import FileReport

__all__ = ["read_corpus", "read_text", "FileReport"]
