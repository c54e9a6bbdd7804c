"""Load a trained pipeline for inference: one place for every command that runs a model.

Evaluation, calibration and `predict` load the same way, so they fail with the same messages
(a folder without config.cfg, a name that is no installed package, an unusable GPU) and run the
same pipeline: with `doc_cleaner` appended when a component leaves large outputs on each doc
(the transformer's `doc._.trf_data`), which nothing after the pipeline reads.
"""
from pathlib import Path

from spacy.language import Language

from .errors import UserError

# Components that leave large outputs on each doc; doc_cleaner frees them after the pipeline.
DOC_OUTPUTS = {"doc.tensor", "doc._.trf_data"}


def load_pipeline(model: str, gpu_id: int = -1) -> Language:
    """Load a pipeline folder or installed package; add `doc_cleaner` if components leave outputs on docs."""
    import spacy

    if gpu_id >= 0:
        try:
            spacy.require_gpu(gpu_id)
        except Exception as err:  # spaCy raises ValueError, or a CUDA or cupy error, depending on the setup
            raise UserError(f"Cannot use GPU {gpu_id} ({err}). Pass --gpu-id -1 to run on the CPU.")
    path = Path(model)
    if path.exists():
        if not (path / "config.cfg").is_file():
            raise UserError(f"{model} is not a spaCy pipeline folder (it has no config.cfg). "
                            "Pass a trained pipeline such as training/model-best.")
    elif not spacy.util.is_package(model):
        raise UserError(f"Model not found: {model} is neither a pipeline directory nor an installed package. "
                        "Pass the directory written by training (e.g. training/model-best) or install the "
                        "packaged wheel (pip install packages/...whl) and pass its name.")
    nlp = spacy.load(model)
    stores_outputs = any(DOC_OUTPUTS & set(nlp.get_pipe_meta(name).assigns) for name in nlp.pipe_names)
    if stores_outputs and "doc_cleaner" not in nlp.pipe_names:
        nlp.add_pipe("doc_cleaner")  # default attrs: doc.tensor and doc._.trf_data
    return nlp
