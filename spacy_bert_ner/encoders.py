"""Choosing an encoder and checking, before any training starts, that it can be loaded."""
import os
from pathlib import Path

from .errors import UserError


def check_encoder(name: str, setting: str = "components.transformer.model.name") -> None:
    """Load the tokenizer and config of `name` (a Hub name or a local directory), or stop.

    spacy-transformers would otherwise fail deep inside `spacy train` with a long traceback,
    or after ~50 s of network retries offline. `trust_remote_code` stays off: an encoder
    that needs custom code is rejected rather than executed.
    """
    from transformers import AutoConfig, AutoTokenizer

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
