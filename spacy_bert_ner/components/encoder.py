"""The encoder's arithmetic for CPU inference: float32, bfloat16 autocast or int8 weights.

spacy-transformers runs its encoder in float32 on a CPU, and most of a pipeline's time is there.
`spacy_bert_ner.TransformerModel.v1` is spacy-transformers' `TransformerModel.v3` (same settings,
same weights on disk) plus `cpu_inference`:

- "fp32": as spacy-transformers does;
- "bf16": prediction under bfloat16 autocast, for CPUs with native bf16 (AVX512-BF16, AMX),
  where it is fast; elsewhere bf16 is emulated and slower than fp32;
- "int8": the encoder's Linear layers get int8 weights (dynamic quantization: activations are
  quantized per batch), applied when the pipeline is loaded. The weights on disk stay float32,
  so one wheel serves every setting, and the setting can be flipped at load time:

      spacy.load("da_bert_ner", config={"components": {"transformer": {"model": {"cpu_inference": "int8"}}}})

Training always runs in float32 (or the fine-tuning callback's bf16 autocast); a pipeline loaded
with int8 weights predicts only. A GPU keeps spacy-transformers' own arithmetic (fp32, or fp16
with `mixed_precision`); any other setting there stops with a message when the pipeline loads.

The setting lives on a subclass of spacy-transformers' HFShim, the object that calls the PyTorch
model and serializes it: its `from_bytes` is the only code that runs after the weights are
loaded, so that is where int8 is applied.
"""
import warnings
from typing import Any, Callable, Dict

import torch
from spacy.util import registry
from spacy_transformers.architectures import create_TransformerModel_v3
from spacy_transformers.layers.hf_shim import HFShim
from thinc.api import get_torch_default_device

CPU_INFERENCE = ("fp32", "bf16", "int8")
SETTING = "[components.transformer.model] cpu_inference"


@registry.architectures("spacy_bert_ner.TransformerModel.v1")
def build_transformer_model(name: str, get_spans: Callable, tokenizer_config: Dict[str, Any] = {},
                            transformer_config: Dict[str, Any] = {}, mixed_precision: bool = False,
                            grad_scaler_config: Dict[str, Any] = {}, cpu_inference: str = "fp32"):
    """spacy-transformers' TransformerModel.v3 whose encoder predicts on a CPU in cpu_inference."""
    if cpu_inference not in CPU_INFERENCE:
        raise ValueError(f"{SETTING} must be one of {', '.join(CPU_INFERENCE)}; got {cpu_inference!r}.")
    model = create_TransformerModel_v3(name, get_spans, tokenizer_config, transformer_config,
                                       mixed_precision, grad_scaler_config)
    wrapper = model.layers[0]
    original = wrapper.shims[0]
    wrapper.shims[0] = CPUInferenceShim(original._hfmodel, cpu_inference, mixed_precision=mixed_precision,
                                        grad_scaler_config=grad_scaler_config)
    return model


class CPUInferenceShim(HFShim):
    """HFShim that predicts in the chosen CPU arithmetic."""

    def __init__(self, model: Any, cpu_inference: str, **kwargs: Any):
        super().__init__(model, **kwargs)
        self.cpu_inference = cpu_inference
        self.quantized = False

    def predict(self, inputs: Any) -> Any:
        if self.cpu_inference == "bf16":
            self._require_cpu()
            with torch.autocast("cpu", dtype=torch.bfloat16):
                outputs = super().predict(inputs)
            # spacy-transformers hands every output to numpy, which has no bfloat16 (the pooler's is)
            for key, value in outputs.items():
                if isinstance(value, torch.Tensor) and value.dtype == torch.bfloat16:
                    outputs[key] = value.float()
            return outputs
        return super().predict(inputs)

    def begin_update(self, inputs: Any):
        if self.quantized:
            raise ValueError(f"This pipeline's encoder was loaded with int8 weights ({SETTING} = \"int8\"), "
                             "which predict only: load it with cpu_inference \"fp32\" to train it further.")
        return super().begin_update(inputs)

    def to_bytes(self) -> bytes:
        if self.quantized:
            raise ValueError(f"This pipeline's encoder was loaded with int8 weights ({SETTING} = \"int8\"); "
                             "its float32 weights are not in memory to save. Save the pipeline loaded with "
                             "cpu_inference \"fp32\": int8 is applied again whenever it is loaded with \"int8\".")
        return super().to_bytes()

    def from_bytes(self, bytes_data: bytes) -> "CPUInferenceShim":
        super().from_bytes(bytes_data)
        if self.cpu_inference == "int8":
            self._require_cpu()
            quantize_int8(self._model)
            self.quantized = True
        return self

    def _require_cpu(self) -> None:
        device = get_torch_default_device()
        if device.type != "cpu":
            raise ValueError(f"{SETTING} = \"{self.cpu_inference}\" is for CPU inference, and this pipeline "
                             f"runs on {device}: set it to \"fp32\" on a GPU (mixed_precision = true gives fp16 there).")


def quantize_int8(hf_model: torch.nn.Module) -> None:
    """Give the encoder's Linear layers int8 weights, in place (modules swapped, same object),
    except the feed-forward down-projections.

    The down-projection (in_features > out_features: the feed-forward width back to the hidden
    size, whatever the architecture calls it) reads the activation function's output, whose few
    large values leave the rest of a per-batch int8 scale with almost no resolution: quantizing
    it costs the most accuracy for its share of the time (BENCHMARKS.md measures both). Weights get
    one scale per output channel. torch.ao's dynamic quantization is deprecated in favour of
    torchao, whose int8 path on CPU is slower than float32 without torch.compile, so it stays
    the one used until that changes.
    """
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    spec = {name: per_channel_dynamic_qconfig for name, module in hf_model.named_modules()
            if isinstance(module, torch.nn.Linear) and module.in_features <= module.out_features}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*(deprecated|torch.ao.quantization|quantized tensor).*")
        quantize_dynamic(hf_model, spec, dtype=torch.qint8, inplace=True)
