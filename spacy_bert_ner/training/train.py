"""Run `spacy train` on a config after checking everything that would otherwise fail late.

spaCy reports a missing corpus or an unloadable encoder only after building the
pipeline, often as a long traceback; here each is one message naming the setting to fix.
"""
from pathlib import Path
from typing import Any, Dict, Iterator, Optional, Tuple

from ..errors import UserError

MIXED_PRECISION = "mixed_precision"


def transformer_names(config) -> Iterator[Tuple[str, str]]:
    """Yield (setting, encoder name) for every transformer model in the config."""
    for comp_name, comp in config.get("components", {}).items():
        model = comp.get("model", {}) if isinstance(comp, dict) else {}
        if isinstance(model, dict) and "name" in model and "@architectures" in model:
            yield f"components.{comp_name}.model.name", str(model["name"])


def check_corpus(setting: str, path: Any) -> None:
    if path in (None, "null", ""):
        raise UserError(f"No corpus given: set {setting} to a .spacy file (made by `spacy-bert-ner convert`).")
    path = Path(str(path))
    if not path.exists():
        raise UserError(
            f"Corpus {path} does not exist (set by {setting}). Run `spacy-bert-ner convert` "
            "(or `python -m spacy project run convert`) first."
        )
    if path.is_file() and path.stat().st_size == 0:
        raise UserError(f"Corpus {path} is empty (set by {setting}).")


def precision_overrides(config, gpu_id: int, overrides: Dict[str, Any]) -> Dict[str, Any]:
    """Mixed precision on GPU unless the user said otherwise; always off on CPU.

    thinc's gradient scaler raises on CPU, so a config written for GPU must still
    train on a laptop without edits.
    """
    extra: Dict[str, Any] = {}
    for setting, _ in transformer_names(config):
        key = setting.rsplit(".", 1)[0] + "." + MIXED_PRECISION
        if gpu_id < 0:
            extra[key] = False
        elif key not in overrides:
            extra[key] = True
    return extra


def tokenizer_pipeline(config) -> Any:
    """A blank pipeline with the config's language and tokenizer: the `nlp.make_doc` of training.

    A config without `[nlp.tokenizer]` gets the language's own (spaCy fills it from `nlp.lang`).
    """
    from ..languages import blank

    nlp = blank(config["nlp"]["lang"], config["nlp"].get("tokenizer"), setting="nlp.lang")
    if hasattr(nlp.tokenizer, "initialize"):  # e.g. Chinese pkuseg loads its model here
        nlp.tokenizer.initialize(lambda: [], nlp=nlp, **config.get("initialize", {}).get("tokenizer", {}))
    return nlp


def training_config(config_path: Path, overrides: Dict[str, Any]) -> Any:
    """The config `spacy train` will get, interpolated, with `checks.max_misaligned` checked."""
    from spacy import util

    if not Path(config_path).exists():
        raise UserError(f"Config file {config_path} does not exist.")
    config = util.load_config(config_path, overrides=overrides, interpolate=True)
    max_misaligned = config.get("checks", {}).get("max_misaligned", 0.0)
    if not isinstance(max_misaligned, (int, float)) or not 0.0 <= max_misaligned <= 1.0:
        raise UserError(f"checks.max_misaligned is a share of the gold entities, from 0 to 1; got {max_misaligned!r}.")
    return config


def check_inputs(config, encoders: bool = True) -> Any:
    """The corpora exist, the encoders load (unless `encoders` is false: the preflight checks the
    encoder a project var names, as the config names one not prepared yet) and one epoch of
    the reader, augmenter and batcher loses nothing. Returns the epoch's CorpusCheck."""
    from .corpus_checks import check_corpora
    from .encoders import check_encoder

    check_corpus("paths.train", config["paths"].get("train"))
    check_corpus("paths.dev", config["paths"].get("dev"))
    for setting, name in transformer_names(config) if encoders else ():
        check_encoder(name, setting)
    return check_corpora(tokenizer_pipeline(config), config, config.get("checks", {}).get("max_misaligned", 0.0))


def train(config_path: Path, output_dir: Path, gpu_id: int = -1, overrides: Optional[Dict[str, Any]] = None) -> Path:
    """Check, then train. Returns the directory of the best model."""
    from spacy.cli.train import train as spacy_train

    overrides = dict(overrides or {})
    config = training_config(config_path, overrides)
    check_inputs(config)
    overrides = {**overrides, **precision_overrides(config, gpu_id, overrides)}
    spacy_train(config_path, output_dir, use_gpu=gpu_id, overrides=overrides)
    return Path(output_dir) / "model-best"
