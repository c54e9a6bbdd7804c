"""The encoder with int8 weights, run by ONNX Runtime: what `cpu_inference = "int8"` predicts with.

Chosen over PyTorch's own options by measuring them side by side (benchmarks/
bench_int8_candidates.py, figures in BENCHMARKS.md): ONNX Runtime's dynamic int8 quantization
(one weight scale per output channel), applied after its transformer fusions, is the fastest of
them on the bare encoder and the most faithful to float32; torch.ao's dynamic quantization is
deprecated upstream and, to keep the accuracy, has to leave the feed-forward down-projections in
float32, which takes most of its speed; torchao's int8 path is slower than float32 on a CPU
without torch.compile.

The encoder is exported from the loaded float32 weights when the pipeline is loaded, so the wheel
carries only float32 weights. Exporting, fusing and quantizing take seconds, so the result is
cached under `$SPACY_BERT_NER_CACHE` (default `~/.cache/spacy_bert_ner`)/int8, keyed by a hash of
the weights (a graph an earlier recipe made of the same weights is removed then); where that
cannot be written (a read-only container), it is built in memory at each load. The ONNX Runtime
session is made in the process that first predicts, so worker processes forked by
`nlp.pipe(n_process=N)` each get their own (a session's thread pool does not survive a fork).
"""
import hashlib
import logging
import os
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch

INSTALL = "pip install 'spacy-bert-ner[int8]'"
CACHE_VARIABLE = "SPACY_BERT_NER_CACHE"
TOLERANCE = 1e-3  # relative: float32 graphs of one encoder agree to rounding, a wrong fusion by far more
RECIPE = "fused-7bit-v3"  # in the cached file's name: a graph built another way is not reused


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
    cached = cache / f"{key}-{'-'.join(names)}-{RECIPE}.onnx"
    if cached.is_file():
        return cached.read_bytes()
    data = build_int8_onnx(hf_model, names)
    try:
        cache.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.part")
        partial.write_bytes(data)
        partial.replace(cached)  # another process loading the same model sees a whole file or none
        for stale in cache.glob(f"{key}-*.onnx"):  # this model's graphs of earlier recipes: never read again
            if stale != cached:
                stale.unlink(missing_ok=True)
    except OSError:
        pass  # not writable: built again at the next load
    return data


def build_int8_onnx(hf_model: torch.nn.Module, names: List[str]) -> bytes:
    """Export, fuse, quantize: the graph `cpu_inference = "int8"` runs."""
    was_training = hf_model.training
    hf_model.eval()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            exported = export_onnx(hf_model, names, Path(tmp) / "encoder.onnx")
            fused = fuse_transformer(exported, hf_model, names, Path(tmp) / "encoder.fused.onnx")
            return quantize_int8(fused, Path(tmp) / "encoder.int8.onnx").read_bytes()
    finally:
        hf_model.train(was_training)


def export_onnx(hf_model: torch.nn.Module, names: List[str], path: Path) -> Path:
    """The float32 encoder as an ONNX graph taking `names` (int64, any batch and length)."""
    batch = probe_batch(hf_model.config, (2, 8), padded=False)
    axes = {0: "batch", 1: "sequence"}
    with warnings.catch_warnings(), torch.no_grad():
        # The TorchScript exporter: torch.export's needs onnxscript, and traces these encoders no
        # better. Its deprecation notice and the tracer's note on constant tensors are not the
        # user's to act on.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        # eval: the exporter puts the module back in the mode it found, its dropout included
        torch.onnx.export(LastHiddenState(hf_model, names).eval(), tuple(batch[n] for n in names), str(path),
                          input_names=names, output_names=["last_hidden_state"],
                          dynamic_axes={**{n: axes for n in names}, "last_hidden_state": axes},
                          opset_version=17, dynamo=False)
    return path


def fuse_transformer(exported: Path, hf_model: torch.nn.Module, names: List[str], path: Path) -> Path:
    """ONNX Runtime's transformer fusions (one Attention op per layer, skip + layer norm, bias +
    GELU), which its quantizer then turns into int8 kernels (QAttention): the int8 encoder is
    faster fused than unfused (BENCHMARKS.md). They match the graph by pattern, so an encoder of
    a shape never tried could be fused wrongly: the fused graph must give PyTorch's hidden states
    on a padded batch, or the exported graph is kept, and the user told so."""
    from onnxruntime.transformers.optimizer import optimize_model

    config = hf_model.config
    with quiet_root_logger():
        fused = optimize_model(str(exported), model_type="bert", opt_level=0, use_gpu=False,
                               num_heads=getattr(config, "num_attention_heads", 0) or 0,
                               hidden_size=getattr(config, "hidden_size", 0) or 0)
        fused.save_model_to_file(str(path))
    error = hidden_state_error(path, hf_model, names)
    if error <= TOLERANCE:
        return path
    if hidden_state_error(exported, hf_model, names) > TOLERANCE:
        raise ValueError("This encoder does not export to ONNX faithfully (its graph's hidden states differ from "
                         "PyTorch's), so it cannot run in int8: load it with cpu_inference \"fp32\" or \"bf16\".")
    warnings.warn(f"ONNX Runtime's transformer fusions changed this encoder's hidden states (relative error "
                  f"{error:.1e}), so its int8 graph is quantized unfused: correct, but slower.", stacklevel=2)
    return exported


def hidden_state_error(graph: Path, hf_model: torch.nn.Module, names: List[str]) -> float:
    """The largest difference of the graph's hidden states from PyTorch's on a padded batch
    (real tokens only), relative to the largest hidden state."""
    batch = probe_batch(hf_model.config, (3, 12), padded=True)
    with torch.no_grad():
        expected = LastHiddenState(hf_model, names)(*(batch[n] for n in names))
    got = session(graph.read_bytes()).run(["last_hidden_state"], {n: batch[n].numpy() for n in names})[0]
    real = batch["attention_mask"].bool()
    return float((torch.from_numpy(got) - expected)[real].abs().max() / expected[real].abs().max().clamp(min=1e-6))


def quantize_int8(graph: Path, path: Path, exclude: Sequence[str] = (), reduce_range: bool = True) -> Path:
    """Dynamic int8 quantization, one weight scale per output channel (the most faithful of the
    candidates measured); activations are quantized per batch as they come. Weights use 7 bits
    (`reduce_range`): on a CPU without VNNI, ONNX Runtime's int8 kernels add products in 16 bits,
    which saturate with full-range weights and cost F1 (BENCHMARKS.md). Nodes named in `exclude`
    stay float32; `reduce_range=False` gives the full 8 bits (for benchmarks)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with quiet_root_logger():
        # the fused ops are ONNX Runtime's own, of which onnx's shape inference knows no types
        quantize_dynamic(str(graph), str(path), weight_type=QuantType.QInt8, per_channel=True, reduce_range=reduce_range,
                         nodes_to_exclude=list(exclude), extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    return path


def probe_batch(config: Any, shape: Tuple[int, int], padded: bool) -> Dict[str, torch.Tensor]:
    """Inputs of every name the encoder may take; padded, the rows end in 0, 3, 6 ... pad positions."""
    generator = torch.Generator().manual_seed(0)
    vocab = max(getattr(config, "vocab_size", 0) or 0, 8)
    mask = torch.ones(shape, dtype=torch.long)
    for row in range(1, shape[0]) if padded else ():
        mask[row, shape[1] - 3 * row:] = 0
    return {"input_ids": torch.randint(5, vocab, shape, generator=generator) * mask
            + (1 - mask) * (getattr(config, "pad_token_id", None) or 0),
            "attention_mask": mask, "token_type_ids": torch.zeros(shape, dtype=torch.long)}


def session(graph: bytes) -> Any:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()  # as the float32 encoder would use
    return onnxruntime.InferenceSession(graph, options, providers=["CPUExecutionProvider"])


@contextmanager
def quiet_root_logger():
    """ONNX Runtime's optimizer and quantizer log their advice through the root logger."""
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
            self._session, self._pid = session(self.graph), os.getpid()
        input_ids = kwargs["input_ids"]  # token_type_ids only where the tokenizer made them
        # the graph takes int64, as the encoder was exported; spacy-transformers' mask is float
        feed = {name: (kwargs[name] if name in kwargs else torch.zeros_like(input_ids)).long().numpy()
                for name in self.names}
        (hidden,) = self._session.run(["last_hidden_state"], feed)
        return torch.from_numpy(hidden)
