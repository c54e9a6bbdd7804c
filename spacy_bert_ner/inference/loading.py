"""Load a trained pipeline for inference: one place for every command that runs a model.

Evaluation, calibration and `predict` load the same way, so they fail with the same messages
(a folder without config.cfg, a name that is no installed package, an unusable GPU) and run the
same pipeline: with `doc_cleaner` appended when a component leaves large outputs on each doc
(the transformer's `doc._.trf_data`), which nothing after the pipeline reads.
"""
from pathlib import Path
from typing import Any, Dict, Optional

from spacy.language import Language

from ..errors import UserError

# Components that leave large outputs on each doc; doc_cleaner frees them after the pipeline.
DOC_OUTPUTS = {"doc.tensor", "doc._.trf_data"}


# The encoder architectures whose CPU arithmetic can be chosen (components/encoder.py): ours, and
# spacy-transformers' own, which takes the same settings less cpu_inference.
ENCODER = "spacy_bert_ner.TransformerModel.v1"
PLAIN_ENCODER = "spacy-transformers.TransformerModel.v3"


def cpu_inference_overrides(config: Any, setting: str, where: str) -> Dict[str, Any]:
    """The config overrides that make a pipeline's encoder predict on a CPU in `setting`
    ("fp32", "bf16", "int8", "auto"); a pipeline saved with spacy-transformers' encoder gets ours,
    which reads the same weights. `where` names the pipeline in messages."""
    from ..components.encoder import CPU_INFERENCE

    if setting not in CPU_INFERENCE:
        raise UserError(f"--cpu-inference must be one of {', '.join(CPU_INFERENCE)}; got {setting!r}.")
    names = [name for name in config["nlp"]["pipeline"]
             if config["components"].get(name, {}).get("factory") == "transformer"]
    if not names:
        raise UserError(f"{where} has no transformer component, so --cpu-inference has nothing to set: "
                        "leave it out for this pipeline.")
    overrides = {}
    for name in names:
        architecture = config["components"][name]["model"].get("@architectures")
        if architecture not in (ENCODER, PLAIN_ENCODER):
            raise UserError(f"{where}: [components.{name}.model] is {architecture}, whose CPU arithmetic "
                            f"cannot be chosen; --cpu-inference works with {ENCODER} and {PLAIN_ENCODER}.")
        overrides[f"components.{name}.model.@architectures"] = ENCODER
        overrides[f"components.{name}.model.cpu_inference"] = setting
    return overrides


def pipeline_path(model: str) -> Path:
    """The folder holding the pipeline's config.cfg: `model` itself, or inside the installed package
    where spaCy's packages keep it (`{lang}_{name}-{version}`, as their `load()` finds it)."""
    from spacy import util

    if Path(model).exists():
        return Path(model)
    package = util.get_package_path(model)
    meta = util.load_meta(package / "meta.json")
    return package / f"{meta['lang']}_{meta['name']}-{meta['version']}"


def check_model(model: str) -> None:
    """Stop with a message unless `model` is a pipeline folder or an installed package; a command
    that loads it elsewhere (a server's worker) says so before it starts."""
    from spacy import util

    path = Path(model)
    if path.exists():
        if not (path / "config.cfg").is_file():
            raise UserError(f"{model} is not a spaCy pipeline folder (it has no config.cfg). "
                            "Pass a trained pipeline such as training/model-best.")
    elif not util.is_package(model):
        raise UserError(f"Model not found: {model} is neither a pipeline directory nor an installed package. "
                        "Pass the directory written by training (e.g. training/model-best) or install the "
                        "packaged wheel (pip install packages/...whl) and pass its name.")


def load_pipeline(model: str, gpu_id: int = -1, cpu_inference: Optional[str] = None) -> Language:
    """Load a pipeline folder or installed package; add `doc_cleaner` if components leave outputs on docs.

    cpu_inference: the encoder's arithmetic on the CPU ("fp32", "bf16", "int8", "auto"); None keeps the
    pipeline's own setting.
    """
    import spacy

    if cpu_inference not in (None, "fp32", "auto") and gpu_id >= 0:
        raise UserError(f"--cpu-inference {cpu_inference} is for CPU inference, and --gpu-id {gpu_id} asks for "
                        "a GPU: leave out one of them (a GPU runs the encoder in fp32, or fp16 with mixed precision).")
    if gpu_id >= 0:
        try:
            spacy.require_gpu(gpu_id)
        except Exception as err:  # spaCy raises ValueError, or a CUDA or cupy error, depending on the setup
            raise UserError(f"Cannot use GPU {gpu_id} ({err}). Pass --gpu-id -1 to run on the CPU.")
    check_model(model)
    overrides = {}
    if cpu_inference is not None:
        config = spacy.util.load_config(pipeline_path(model) / "config.cfg", interpolate=False)
        overrides = cpu_inference_overrides(config, cpu_inference, model)
    nlp = spacy.load(model, config=overrides)
    stores_outputs = any(DOC_OUTPUTS & set(nlp.get_pipe_meta(name).assigns) for name in nlp.pipe_names)
    if stores_outputs and "doc_cleaner" not in nlp.pipe_names:
        nlp.add_pipe("doc_cleaner")  # default attrs: doc.tensor and doc._.trf_data
    return nlp
