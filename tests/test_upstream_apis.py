"""The private spaCy, spacy-transformers and thinc APIs this package still uses (README,
"Upstream internals"): each test fails if an upgrade removes or changes one."""
import inspect

from spacy.pipeline import TrainablePipe
from spacy_transformers.layers.hf_shim import HFShim
from thinc.shims.pytorch import PyTorchShim


def test_parse_config_overrides_still_reads_dotted_cli_options():
    from spacy.cli._util import parse_config_overrides

    assert parse_config_overrides(["--training.max_steps", "5", "--nlp.disabled", '["x"]']) == {
        "training.max_steps": 5, "nlp.disabled": ["x"]}


def test_trainable_pipe_still_checks_labels():
    assert callable(getattr(TrainablePipe, "_require_labels", None))


def test_shim_internals_our_encoder_shim_reads(tiny_transformer):
    """CPUInferenceShim is built from the shim spacy-transformers makes (`_hfmodel`), and reads
    PyTorchShim's `_model` and `_grad_scaler` (`found_inf`, `update`); it overrides
    `finish_update` and `use_params` on the upstream signatures."""
    import torch
    from spacy_transformers.architectures import create_TransformerModel_v3
    from spacy_transformers.span_getters import configure_strided_spans

    model = create_TransformerModel_v3(str(tiny_transformer), configure_strided_spans(32, 24))
    model.initialize()
    shim = model.layers[0].shims[0]
    assert isinstance(shim, HFShim) and hasattr(shim._hfmodel, "tokenizer")
    assert isinstance(shim._model, torch.nn.Module)
    assert isinstance(shim._grad_scaler.found_inf, bool) and callable(shim._grad_scaler.update)
    assert list(inspect.signature(PyTorchShim.finish_update).parameters) == ["self", "optimizer"]
    assert list(inspect.signature(PyTorchShim.use_params).parameters) == ["self", "params"]
