"""A blank pipeline for a language code, with the language's own tokenizer unless one is named.

Conversion, the pre-training checks and evaluation all tokenize through this, so they see the
tokens training and production will see. Several languages written without spaces need a
segmenter that spaCy does not install; the error says which package (and which extra of this
project) to install, before anything is trained.
"""
from typing import Any, Dict, Optional

import spacy
from spacy.language import Language
from spacy.vocab import Vocab

from .errors import UserError

# lang -> (what to install, the extra of spacy-bert-ner that installs it, or None, an alternative)
TOKENIZER_PACKAGES = {
    "ja": ("sudachipy sudachidict_core", "ja", None),
    "th": ("pythainlp", "th", None),
    "vi": ("pyvi", "vi", 'or set [nlp.tokenizer] use_pyvi = false (syllables split at spaces)'),
    "ko": ("natto-py with the system libraries mecab-ko and mecab-ko-dic", None,
           'or use the rule-based tokenizer: --nlp.tokenizer \'{"@tokenizers": "spacy.Tokenizer.v1"}\''),
    "zh": ("spacy-pkuseg", "zh", 'or keep the default segmenter "char" (one token per character)'),
}


def install_hint(lang: str) -> str:
    if lang not in TOKENIZER_PACKAGES:
        return "Install the package the error names."
    package, extra, alternative = TOKENIZER_PACKAGES[lang]
    how = f"pip install 'spacy-bert-ner[{extra}]' (or: pip install {package})" if extra else f"install {package}"
    return f"Install it: {how}" + (f"; {alternative}" if alternative else "") + "."


def blank(lang: str, tokenizer: Optional[Dict[str, Any]] = None, vocab: Optional[Vocab] = None,
          setting: str = "--lang") -> Language:
    """spacy.blank(lang) with `tokenizer` (a config block) if given, else the language's default.

    setting: where the user set the language, for the error message.
    """
    config = {"nlp": {"tokenizer": tokenizer}} if tokenizer else {}
    kwargs = {"vocab": vocab} if vocab is not None else {}
    try:
        return spacy.blank(lang, config=config, **kwargs)
    except ImportError as err:
        if "E048" in str(err):  # no such language in spaCy
            raise UserError(f"unknown language code {lang!r} for {setting} ({err}); use e.g. da, pt, zh, or xx "
                            "for a multi-language tokenizer") from None
        tokenizer_name = (tokenizer or spacy.util.get_lang_class(lang).default_config["nlp"]["tokenizer"]).get(
            "@tokenizers")
        raise UserError(f"The tokenizer for {setting} {lang!r} ({tokenizer_name}) needs a package that is not "
                        f"installed: {err} {install_hint(lang)}") from None
