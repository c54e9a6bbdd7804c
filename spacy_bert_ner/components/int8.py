"""The encoder with int8 weights, run by ONNX Runtime: what `cpu_inference = "int8"` predicts with.

Chosen over PyTorch's own options by measuring them side by side (benchmarks/
bench_int8_candidates.py, figures in BENCHMARKS.md): ONNX Runtime's dynamic int8 quantization
(one weight scale per output channel) is the fastest of them on the bare encoder and the most
faithful to float32; torch.ao's dynamic quantization is deprecated upstream and, to keep the
accuracy, has to leave the feed-forward down-projections in float32, which takes most of its
speed; torchao's int8 path is slower than float32 on a CPU without torch.compile.

The encoder is exported from the loaded float32 weights when the pipeline is loaded, so the wheel
carries only float32 weights. Exporting and quantizing take seconds, so the result is cached under
`$SPACY_BERT_NER_CACHE` (default `~/.cache/spacy_bert_ner`)/int8, keyed by a hash of the weights;
where that cannot be written (a read-only container), it is built in memory at each load. The
ONNX Runtime session is made in the process that first predicts, so worker processes forked by
`nlp.pipe(n_process=N)` each get their own (a session's thread pool does not survive a fork).
"""
import hashlib
import logging
import os
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, List, Optional

import torch

INSTALL = "pip install 'spacy-bert-ner[int8]'"
CACHE_VARIABLE = "SPACY_BERT_NER_CACHE"


def require_onnxruntime(setting: str) -> None:
    """Stop before anything is built when ONNX Runtime or onnx is missing."""
    for module in ("onnxruntime", "onnx"):
        try:
            __import__(module)
        except ImportError:
            raise ValueError(f"{setting} = \"int8\" runs the encoder with ONNX Runtime, and {module} is not "
                             f"installed: {INSTALL} (or choose \"fp32\" or \"bf16\").") from None


class LastHiddenState(torch.nn.Module):
    """The encoder called with its inputs by position, returning only what spacy-transformers reads."""

    def __init__(self, hf_model: torch.nn.Module, names: List[str]):
        super().__init__()
        self.hf_model, self.names = hf_model, names

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        return self.hf_model(**dict(zip(self.names, tensors))).last_hidden_state


def input_names(tokenizer: Any) -> List[str]:
    names = [name for name in ("input_ids", "attention_mask", "token_type_ids")
             if name in getattr(tokenizer, "model_input_names", ("input_ids", "attention_mask"))]
    return names if "input_ids" in names else ["input_ids", "attention_mask"]


def int8_onnx(hf_model: torch.nn.Module, names: List[str], weights: bytes) -> bytes:
    """The encoder as an int8 ONNX graph, from the cache or built (and cached where possible)."""
    cache = Path(os.environ.get(CACHE_VARIABLE, Path.home() / ".cache" / "spacy_bert_ner")) / "int8"
    key = hashlib.sha256(weights).hexdigest()[:32]
    cached = cache / f"{key}-{'-'.join(names)}.onnx"
    if cached.is_file():
        return cached.read_bytes()
    data = build_int8_onnx(hf_model, names)
    try:
        cache.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.part")
        partial.write_bytes(data)
        partial.replace(cached)  # another process loading the same model sees a whole file or none
    except OSError:
        pass  # not writable: built again at the next load
    return data


def build_int8_onnx(hf_model: torch.nn.Module, names: List[str]) -> bytes:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    config = hf_model.config
    batch = {"input_ids": torch.full((2, 8), getattr(config, "pad_token_id", None) or 1, dtype=torch.long),
             "attention_mask": torch.ones((2, 8), dtype=torch.long),
             "token_type_ids": torch.zeros((2, 8), dtype=torch.long)}
    axes = {0: "batch", 1: "sequence"}
    was_training = hf_model.training
    hf_model.eval()
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings(), quiet_root_logger():
        # The TorchScript exporter: torch.export's needs onnxscript, and traces these encoders no
        # better. Its deprecation notice and the tracer's note on constant tensors are not the
        # user's to act on, nor is ONNX Runtime's advice to pre-process image models.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        exported, quantized = Path(tmp) / "encoder.onnx", Path(tmp) / "encoder.int8.onnx"
        with torch.no_grad():
            torch.onnx.export(LastHiddenState(hf_model, names), tuple(batch[n] for n in names), str(exported),
                              input_names=names, output_names=["last_hidden_state"],
                              dynamic_axes={**{n: axes for n in names}, "last_hidden_state": axes},
                              opset_version=17, dynamo=False)
        quantize_dynamic(str(exported), str(quantized), weight_type=QuantType.QInt8, per_channel=True)
        data = quantized.read_bytes()
    hf_model.train(was_training)
    return data


@contextmanager
def quiet_root_logger():
    """ONNX Runtime's quantizer logs its advice through the root logger."""
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


class Int8Encoder:
    """Runs the int8 graph on the inputs spacy-transformers gives the encoder."""

    def __init__(self, graph: bytes, names: List[str]):
        self.graph, self.names = graph, names
        self._session: Optional[Any] = None
        self._pid: Optional[int] = None

    def __call__(self, kwargs: Dict[str, torch.Tensor]) -> torch.Tensor:
        if self._pid != os.getpid():
            import onnxruntime

            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = torch.get_num_threads()  # as the float32 encoder would use
            self._session = onnxruntime.InferenceSession(self.graph, options, providers=["CPUExecutionProvider"])
            self._pid = os.getpid()
        input_ids = kwargs["input_ids"]  # token_type_ids only where the tokenizer made them
        # the graph takes int64, as the encoder was exported; spacy-transformers' mask is float
        feed = {name: (kwargs[name] if name in kwargs else torch.zeros_like(input_ids)).long().numpy()
                for name in self.names}
        (hidden,) = self._session.run(["last_hidden_state"], feed)
        return torch.from_numpy(hidden)
