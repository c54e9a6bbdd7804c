"""The name, version and sources a model wheel gets, checked as spaCy's `package`, pip and the
wheel's setup.py will read them.

`package` applies these when it builds the wheel, and the preflight (training/preflight.py)
applies the same ones to the project vars before anything is trained, so a name that cannot be
packaged stops a run in its first seconds rather than after training. Training and inference
sit side by side and do not import each other, hence a module of its own.
"""
import re
from typing import Optional, Tuple
from urllib.parse import urlsplit

from .errors import UserError

# Words of ASCII letters and digits joined by single underscores: a Python module name once the
# language prefix is in front (spaCy imports the package by it), a name spaCy's `package`
# permits, and one pip keeps apart from others (it folds runs of `_`, `-` and `.` into one).
NAME_PATTERN = re.compile(r"[A-Za-z0-9]+(?:_[A-Za-z0-9]+)*")


def meta_name(name: str, lang: str, setting: str = "--name") -> str:
    """The meta `name` for a package asked for as `name`: without a leading `<lang>_`.

    spaCy names its pipelines `<lang>_<meta name>` (meta name `core_news_sm`, package
    `da_core_news_sm`), so `news_ner` and `da_news_ner` both give the package `da_news_ner`.
    spaCy's `package` names the folder from a name with the prefix but its generated setup.py
    adds the prefix again, so the prefix is taken off before spaCy sees the name; a name that
    would still begin with it (`da_da_ner`) is refused, as spaCy would break on it the same way.
    setting: where the user gave the name, for the message.
    """
    prefix = f"{lang}_"
    rest = name[len(prefix):] if name.startswith(prefix) else name
    if not NAME_PATTERN.fullmatch(rest):
        raise UserError(f"{setting} {name!r} is no package name spaCy and pip accept: use ASCII letters and "
                        f"digits in words joined by single underscores, e.g. news_ner or {prefix}news_ner.")
    if rest.startswith(prefix):
        raise UserError(f"{setting} {name!r} begins with {prefix} twice; write {prefix}{rest[len(prefix):]} "
                        f"(the package is always named {prefix}<name>).")
    return rest


def package_name(name: str, lang: str, setting: str = "--name") -> str:
    """What `pip install` and `spacy.load` call the package: `<lang>_<meta name>`."""
    return f"{lang}_{meta_name(name, lang, setting)}"


def check_version(version: str, setting: str = "--version") -> None:
    """A version pip reads as written (PEP 440, in its normalised form).

    A version pip would rewrite (`01.0` is `1.0` to it) gives a wheel file name other than the one
    spaCy's folder and project.yml spell, so it is refused with the form to write instead.
    """
    from packaging.version import InvalidVersion, Version

    try:
        normal = str(Version(version))
    except InvalidVersion:
        raise UserError(f"{setting} {version!r} is no version pip accepts (PEP 440): write e.g. 0.1.0.") from None
    if normal != version:
        raise UserError(f"{setting} {version!r} is {normal!r} to pip, which names the wheel by it: write {normal}.")


def check_sources(corpus: Optional[str], corpus_license: Optional[str], corpus_url: Optional[str],
                  settings: Tuple[str, str, str] = ("--corpus", "--corpus-license", "--corpus-url")) -> None:
    """The corpus name, licence and address the meta's `sources` gets: one line each, the address
    a web one, and a licence or address only beside the corpus name they describe."""
    for value, setting in zip((corpus, corpus_license, corpus_url), settings):
        if value and (value != value.strip() or any(ch in value for ch in "\n\r\t")):
            raise UserError(f"{setting} {value!r} must be one line without leading or trailing spaces.")
    if (corpus_license or corpus_url) and not corpus:
        raise UserError(f"{settings[1]} and {settings[2]} describe the corpus: give its name with {settings[0]} "
                        "too, or the meta would have no source to attach them to.")
    if corpus_url:
        parts = urlsplit(corpus_url)
        if parts.scheme not in ("http", "https") or not parts.netloc or " " in corpus_url:
            raise UserError(f"{settings[2]} {corpus_url!r} is not a web address: write it as https://host/path.")
