"""The encoder's arithmetic for CPU inference: float32, bfloat16 autocast or int8 weights.

spacy-transformers runs its encoder in float32 on a CPU, and most of a pipeline's time is there.
`spacy_bert_ner.TransformerModel.v1` is spacy-transformers' `TransformerModel.v3` (same settings,
same weights on disk) plus `cpu_inference`:

- "fp32": as spacy-transformers does;
- "bf16": prediction under bfloat16 autocast, for CPUs with native bf16 (AVX512-BF16, AMX),
  where it is fast; elsewhere bf16 is emulated and slower than fp32;
- "int8": the encoder with int8 weights, run by ONNX Runtime (components/int8.py says why that
  one). A pipeline saved set to int8 stores the int8 graph beside its float32 weights; the
  float32 weights stay, so one wheel serves every setting, and the setting can be flipped at load
  time (the graph is then built once, in a child process, and cached):

      spacy.load("da_bert_ner", config={"components": {"transformer": {"model": {"cpu_inference": "int8"}}}})

- "auto": one of the three, picked for the CPU at load (components/cpu_features.py) and logged
  (logger "spacy_bert_ner"); fp32 on a GPU.

Training runs the float32 encoder, under bf16 autocast where the fine-tuning callback's
`bf16_on_cpu` turns it on here (`bf16_training`); a pipeline loaded with int8 predicts only. A GPU keeps spacy-transformers' own arithmetic (fp32, or fp16 with
`mixed_precision`); any other setting there stops with a message when the pipeline loads.

The setting lives on a subclass of spacy-transformers' HFShim, the object that calls the PyTorch
model and serializes it: its `from_bytes` is the only code that runs after the weights are
loaded, so that is where the int8 encoder is made. The same subclass takes the optimizer's step
without the memory thinc's shim keeps from every step (`finish_update`), and takes the
optimizer's averaged weights (`[training.optimizer] use_averages`) for evaluation and saving
(`use_params`), which thinc's shim ignores.
"""
import contextlib
import logging
from typing import Any, Callable, Dict, Iterator

import srsly
import torch
from spacy.util import registry
from spacy_transformers.architectures import create_TransformerModel_v3
from spacy_transformers.layers.hf_shim import HFShim
from thinc.api import Optimizer, get_torch_default_device
from thinc.util import torch2xp, xp2torch
from transformers.modeling_outputs import BaseModelOutput

from .cpu_features import auto_cpu_inference
from .int8 import (STORED, Int8Encoder, input_names, int8_onnx, read_stored, require_onnxruntime, stored_entry,
                   stored_graph)

CPU_INFERENCE = ("fp32", "bf16", "int8", "auto")
SETTING = "[components.transformer.model] cpu_inference"
logger = logging.getLogger("spacy_bert_ner")


@registry.architectures("spacy_bert_ner.TransformerModel.v1")
def build_transformer_model(name: str, get_spans: Callable, tokenizer_config: Dict[str, Any] = {},
                            transformer_config: Dict[str, Any] = {}, mixed_precision: bool = False,
                            grad_scaler_config: Dict[str, Any] = {}, cpu_inference: str = "fp32"):
    """spacy-transformers' TransformerModel.v3 whose encoder predicts on a CPU in cpu_inference."""
    if cpu_inference not in CPU_INFERENCE:
        raise ValueError(f"{SETTING} must be one of {', '.join(CPU_INFERENCE)}; got {cpu_inference!r}.")
    all_states = any(transformer_config.get(key) for key in ("output_attentions", "output_hidden_states"))
    if cpu_inference == "auto":
        cpu_inference = resolve_auto(all_states)
    if cpu_inference == "int8" and all_states:
        raise ValueError(f"{SETTING} = \"int8\" gives the encoder's last hidden state only, and transformer_config "
                         "asks for attentions or all hidden states: use \"fp32\" or \"bf16\".")
    model = create_TransformerModel_v3(name, get_spans, tokenizer_config, transformer_config,
                                       mixed_precision, grad_scaler_config)
    wrapper = model.layers[0]
    original = wrapper.shims[0]
    wrapper.shims[0] = CPUInferenceShim(original._hfmodel, cpu_inference, mixed_precision=mixed_precision,
                                        grad_scaler_config=grad_scaler_config)
    return model


def resolve_auto(all_states: bool) -> str:
    """The setting "auto" stands for here, logged with the reason."""
    if get_torch_default_device().type != "cpu":
        setting, why = "fp32", "a GPU keeps spacy-transformers' own arithmetic"
    else:
        setting, why = auto_cpu_inference()
        if setting == "int8" and all_states:
            setting, why = "fp32", "transformer_config asks for attentions or all hidden states, which int8 lacks"
    logger.info("%s = \"auto\": %s, as %s.", SETTING, setting, why)
    return setting


class CPUInferenceShim(HFShim):
    """HFShim that predicts in the chosen CPU arithmetic, and takes training steps under bf16
    autocast and at its own learning rate when the fine-tuning callback asks for them."""

    def __init__(self, model: Any, cpu_inference: str, **kwargs: Any):
        super().__init__(model, **kwargs)
        self.cpu_inference = cpu_inference
        self.int8: Any = None  # the Int8Encoder, once the weights are loaded
        # Training steps under bfloat16 autocast: set by spacy_bert_ner.fine_tuning.v1 (training/hooks.py)
        # on a CPU with native bf16. Weights, gradients and the optimizer stay float32.
        self.bf16_training = False
        # The encoder's learning rate relative to the optimizer's (the heads'): fine_tuning.v1's
        # encoder_lr_scale, passed to the optimizer with each weight as thinc's `lr_scale`.
        self.learn_rate_scale = 1.0

    def predict(self, inputs: Any) -> Any:
        if self.int8 is not None:
            return BaseModelOutput(last_hidden_state=self.int8(inputs.kwargs))
        if self.cpu_inference == "bf16":
            self._require_cpu()
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return to_float32(super().predict(inputs))
        return super().predict(inputs)

    def begin_update(self, inputs: Any):
        if self.int8 is not None:
            raise ValueError(f"This pipeline's encoder was loaded for int8 inference ({SETTING} = \"int8\"), "
                             "which predicts only: load it with cpu_inference \"fp32\" to train it further.")
        if not self.bf16_training:
            return super().begin_update(inputs)
        with torch.autocast("cpu", dtype=torch.bfloat16):  # the backward pass follows the forward's casts
            outputs, backprop = super().begin_update(inputs)
        return to_float32(outputs), backprop

    def finish_update(self, optimizer: Optimizer) -> None:
        """thinc's `PyTorchShim.finish_update`, except that the optimizer's result is written into
        each parameter's tensor rather than replacing the tensor.

        Upstream cause (thinc 8.3, `PyTorchShim.finish_update`): `torch_data.data =
        xp2torch(param)` wraps the optimizer's array, a numpy (or cupy) view of the old tensor
        made by `torch2xp`, in a new tensor through DLPack. The new tensor keeps the array alive,
        the array keeps the old tensor as its base, and so on back to the first step: every step
        adds one link per parameter, never freed (about 200 tensors a step for a 12-layer
        encoder), and where the optimizer returns a new array the old weights stay in memory
        too. benchmarks/repro_thinc_shim_chain.py shows it with a torch Linear layer. Thinc's
        optimizers update the array in place, so usually nothing is copied here.
        """
        for name, torch_data in self._model.named_parameters():
            if torch_data.grad is None:
                continue
            if not self._grad_scaler.found_inf:  # a step with overflowed gradients is skipped
                param, _ = optimizer((self.id, name), torch2xp(torch_data.data), torch2xp(torch_data.grad),
                                     lr_scale=self.learn_rate_scale)
                updated = xp2torch(param, device=torch_data.device)
                if updated.data_ptr() != torch_data.data_ptr():
                    torch_data.data.copy_(updated)
            torch_data.grad.zero_()
        self._grad_scaler.update()

    @contextlib.contextmanager
    def use_params(self, params: Dict[Any, Any]) -> Iterator[None]:
        """The encoder with the weights in `params` (thinc's optimizer averages) while in the context.

        spaCy's training loop evaluates and saves `model-best`/`model-last` inside
        `nlp.use_params(optimizer.averages)` when `use_averages = true`. The optimizer keys a
        parameter as `(shim.id, name)`, as `finish_update` passes it, but thinc's
        `PyTorchShim.use_params` (thinc 8.3) looks for string keys `"pytorch_{id}_{name}"`, so
        the encoder kept its live weights and only the heads were averaged. A parameter the
        optimizer never updated (a frozen one) keeps its weights.
        """
        averaged = {name: params[(self.id, name)] for name, _ in self._model.named_parameters()
                    if (self.id, name) in params} if params else {}
        if not averaged:
            with super().use_params(params or {}):
                yield
            return
        live = dict(self._model.named_parameters())
        backup = {name: live[name].detach().clone() for name in averaged}
        with torch.no_grad():
            for name, value in averaged.items():
                live[name].copy_(xp2torch(value, device=live[name].device))
        try:
            yield
        finally:
            with torch.no_grad():
                for name, value in backup.items():
                    live[name].copy_(value)

    def to_bytes(self) -> bytes:
        """spacy-transformers' data, plus the int8 graph when this encoder runs one: saved where
        the pipeline is saved, so it is never built where it is loaded (components/int8.py)."""
        data = super().to_bytes()
        if self.int8 is None:
            return data
        key, _ = read_stored(data)
        msg = srsly.msgpack_loads(data)
        msg[STORED] = stored_entry(self.int8.graph, key, self.int8.names)
        return srsly.msgpack_dumps(msg)

    def from_bytes(self, bytes_data: bytes) -> "CPUInferenceShim":
        if self.cpu_inference != "int8":
            super().from_bytes(bytes_data)
            return self
        self._require_cpu()
        require_onnxruntime(SETTING)
        key, entry = read_stored(bytes_data)
        super().from_bytes(bytes_data)  # which reads what spacy-transformers wrote, not STORED
        names = input_names(self._hfmodel.tokenizer)
        graph = stored_graph(entry, key, names)
        self.int8 = Int8Encoder(int8_onnx(bytes_data, key, names) if graph is None else graph, names)
        return self

    def _require_cpu(self) -> None:
        device = get_torch_default_device()
        if device.type != "cpu":
            raise ValueError(f"{SETTING} = \"{self.cpu_inference}\" is for CPU inference, and this pipeline "
                             f"runs on {device}: set it to \"fp32\" on a GPU (mixed_precision = true gives fp16 there).")


def to_float32(value: Any) -> Any:
    """Floating-point tensors in a model output (a ModelOutput, a tuple, or nested) as float32:
    spacy-transformers hands every output to numpy, which has no bfloat16 (autocast leaves some,
    such as the pooler's, in it). The cast is part of the graph, so gradients flow through it."""
    if isinstance(value, dict):  # ModelOutput: updated in place, keeping its class
        for key in value:
            value[key] = to_float32(value[key])
        return value
    if isinstance(value, tuple):
        return tuple(to_float32(item) for item in value)
    return value.float() if getattr(value, "is_floating_point", lambda: False)() else value
