"""The encoder with int8 weights, run by ONNX Runtime: what `cpu_inference = "int8"` predicts with.

Chosen over PyTorch's own options by measuring them side by side (benchmarks/
bench_int8_candidates.py, figures in BENCHMARKS.md): ONNX Runtime's dynamic int8 quantization
(one weight scale per output channel), applied after its transformer fusions, is the fastest of
them on the bare encoder and the most faithful to float32; torch.ao's dynamic quantization is
deprecated upstream and, to keep the accuracy, has to leave the feed-forward down-projections in
float32, which takes most of its speed; torchao's int8 path is slower than float32 on a CPU
without torch.compile.

The graph is made once, where the pipeline is saved: a pipeline set to int8 (`package
--cpu-inference int8`, or `nlp.to_disk` of one loaded so) stores it in the transformer's data
beside the float32 weights, with the hash of the weights it came from, so a wheel loads it as it
is, on a read-only install too. A stored graph whose hash, recipe or inputs do not match is
rebuilt, with a warning, never used. A pipeline switched to int8 at load time has none: its graph
is exported, fused and quantized in a child process, so that nothing of the export stays in the
serving process's memory, and cached under `$SPACY_BERT_NER_CACHE`/int8 by the same hash. The ONNX
Runtime session is made in the process that first predicts, so worker processes forked by
`nlp.pipe(n_process=N)` each get their own (a session's thread pool does not survive a fork).
"""
import hashlib
import io
import logging
import os
import subprocess
import sys
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch

from ..cache import cache_root

INSTALL = "pip install 'spacy-bert-ner[int8]'"
TOLERANCE = 1e-3  # relative: float32 graphs of one encoder agree to rounding, a wrong fusion by far more
RECIPE = "fused-7bit-v3"  # in the cached file's name: a graph built another way is not reused
STORED = "int8_onnx"  # the key of the stored graph in the transformer's serialized data


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


def read_stored(shim_bytes: bytes) -> Tuple[str, Optional[Dict[str, Any]]]:
    """The hash of the float32 weights in spacy-transformers' serialized encoder (what a graph
    is checked against) and the stored graph's entry, if any. Read in a stream, the weights
    hashed where they lie: parsing the whole message would copy them once more, at load, when
    memory peaks."""
    from srsly.msgpack import Unpacker

    unpacker = Unpacker(io.BytesIO(shim_bytes), raw=False)
    key, entry = "", None
    for _ in range(unpacker.read_map_header()):
        name = unpacker.unpack()
        if name == STORED:
            entry = unpacker.unpack()
        elif name == "state":
            start = unpacker.tell()
            unpacker.skip()
            key = hashlib.sha256(memoryview(shim_bytes)[start:unpacker.tell()]).hexdigest()[:32]
        else:
            unpacker.skip()
    return key, entry


def stored_entry(graph: bytes, key: str, names: List[str]) -> Dict[str, Any]:
    """The graph as the transformer's data stores it."""
    return {"graph": graph, "weights": key, "recipe": RECIPE, "inputs": list(names)}


def stored_graph(entry: Optional[Dict[str, Any]], key: str, names: List[str]) -> Optional[bytes]:
    """The stored graph if it was made from these weights by this recipe for these inputs."""
    if not entry:
        return None
    if entry.get("weights") == key and entry.get("recipe") == RECIPE and entry.get("inputs") == list(names):
        return entry["graph"]
    warnings.warn("The int8 graph stored with this pipeline was not made from its weights by this version's "
                  "recipe; it is rebuilt (package the pipeline again with --cpu-inference int8 to store a "
                  "current one).", stacklevel=3)
    return None


def int8_onnx(shim_bytes: bytes, key: str, names: List[str]) -> bytes:
    """The encoder as an int8 ONNX graph, from the cache or built in a child process and cached
    where the cache can be written."""
    cache = cache_root() / "int8"
    cached = cache / f"{key}-{'-'.join(names)}-{RECIPE}.onnx"
    if cached.is_file():
        return cached.read_bytes()
    try:
        cache.mkdir(parents=True, exist_ok=True)
        writable = os.access(cache, os.W_OK)
    except OSError:
        writable = False
    where = f"cached in {cached}" if writable else f"not cached: {cache} cannot be written, so it is built at each load"
    warnings.warn(f"Building the int8 encoder graph in a child process, as this pipeline was saved without one "
                  f"({where}); `package --cpu-inference int8` stores it in the wheel.", stacklevel=3)
    data = build_in_child(shim_bytes, names)
    if writable:
        partial = cached.with_suffix(f".{os.getpid()}.part")
        partial.write_bytes(data)
        partial.replace(cached)  # another process loading the same model sees a whole file or none
        for stale in cache.glob(f"{key}-*.onnx"):  # this model's graphs of earlier recipes: never read again
            if stale != cached:
                stale.unlink(missing_ok=True)
    return data


def build_in_child(shim_bytes: bytes, names: List[str]) -> bytes:
    """`build_int8_onnx` run by `python -m spacy_bert_ner.components.int8` on the serialized
    encoder: the export's copies of the weights and ONNX Runtime's optimizer live and die there."""
    with tempfile.TemporaryDirectory(prefix="spacy-bert-ner-int8-") as tmp:
        source, graph = Path(tmp) / "encoder.msgpack", Path(tmp) / "encoder.int8.onnx"
        source.write_bytes(shim_bytes)
        result = subprocess.run([sys.executable, "-m", __name__, str(source), str(graph), *names],
                                capture_output=True, text=True)
        if result.returncode != 0 or not graph.is_file():
            said = [line for line in result.stderr.splitlines() if line.strip()]
            raise ValueError(f"Building the int8 encoder graph failed: {said[-1] if said else result.returncode}")
        for line in result.stderr.splitlines():  # the child's warnings (an unfused graph) are the user's
            if "Warning" in line:
                print(line, file=sys.stderr)
        return graph.read_bytes()


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
    """Runs the int8 graph on the inputs spacy-transformers gives the encoder.

    The graph's bytes are needed again only to save the pipeline or to start a session in a
    forked worker, so they wait in an unlinked temporary file rather than in memory, where the
    session holds its own copy of the weights (in memory where no temporary file can be made)."""

    def __init__(self, graph: bytes, names: List[str]):
        self.names, self._size = names, len(graph)
        self._session: Optional[Any] = None
        self._pid: Optional[int] = None
        try:
            self._file: Optional[Any] = tempfile.TemporaryFile(prefix="spacy-bert-ner-int8-")
            self._file.write(graph)
            self._file.flush()
            self._graph: Optional[bytes] = None
        except OSError:
            self._file, self._graph = None, graph

    @property
    def graph(self) -> bytes:
        if self._file is None:
            return self._graph
        return os.pread(self._file.fileno(), self._size, 0)  # no shared offset: forked workers read too

    def __getstate__(self) -> Dict[str, Any]:  # workers started by spawn get the graph, not a file
        return {"graph": self.graph, "names": self.names}

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__init__(state["graph"], state["names"])

    def __call__(self, kwargs: Dict[str, torch.Tensor]) -> torch.Tensor:
        if self._pid != os.getpid():
            self._session, self._pid = session(self.graph), os.getpid()
        input_ids = kwargs["input_ids"]  # token_type_ids only where the tokenizer made them
        # the graph takes int64, as the encoder was exported; spacy-transformers' mask is float
        feed = {name: (kwargs[name] if name in kwargs else torch.zeros_like(input_ids)).long().numpy()
                for name in self.names}
        (hidden,) = self._session.run(["last_hidden_state"], feed)
        return torch.from_numpy(hidden)


def main(argv: Sequence[str]) -> None:
    """The child of `build_in_child`: SOURCE (a serialized HFShim) -> GRAPH, for input NAMES."""
    from spacy_transformers.data_classes import HFObjects
    from spacy_transformers.layers.hf_shim import HFShim

    source, graph, *names = argv
    shim = HFShim(HFObjects(None, None, None, {}, {}))
    shim.from_bytes(Path(source).read_bytes())
    Path(graph).write_bytes(build_int8_onnx(shim._model, names))


if __name__ == "__main__":
    main(sys.argv[1:])
