"""Training behaviours named in the configs: layer freezing, encoder learning rate, bf16 on CPU,
the allocator (mmap threshold, trimming), sentence chunks, JSONL log.

`spacy_bert_ner.malloc_mmap_threshold.v1` runs as `[initialize.before_init]`,
`spacy_bert_ner.malloc_trim.v1` as `[training.before_update]`;
`spacy_bert_ner.fine_tuning.v1` runs as `[initialize.after_init]`, when the Hugging Face model
has been loaded and before the first update; `spacy_bert_ner.sentence_chunks.v1` is the
`[corpora.train.augmenter]`; `spacy_bert_ner.jsonl_logger.v1` is the `[training.logger]`.
"""
import ctypes
import json
import platform
import sys
import time
from pathlib import Path
from typing import IO, Any, Callable, Dict, Iterator, List, Optional, Tuple, Union

from spacy.language import Language
from spacy.training import Example
from spacy.util import registry
from wasabi import msg

from ..components.encoder import CPUInferenceShim
from ..errors import UserError


def encoder_layers(hf_model: Any) -> List[Any]:
    """The transformer blocks of a Hugging Face encoder, lowest first.

    Found as the ModuleList with one entry per hidden layer (`encoder.layer` in BERT/RoBERTa/
    XLM-R/ELECTRA, `transformer.layer` in DistilBERT), so no per-architecture table is needed.
    """
    import torch

    n_layers = getattr(hf_model.config, "num_hidden_layers", None)
    for _name, module in hf_model.named_modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) == n_layers:
            return list(module)
    raise UserError(
        f"Cannot find the {n_layers} transformer layers of {type(hf_model).__name__} to freeze. "
        "Set freeze_layers = 0 (and freeze_word_embeddings = false) for this encoder."
    )


def freeze_encoder(hf_model: Any, layers: Union[int, str] = 0, word_embeddings: bool = False) -> int:
    """Stop gradients for the embeddings and the lowest `layers` blocks; return the frozen count.

    `layers`: 0 trains everything, N > 0 freezes all embeddings and blocks 0..N-1, -1 or "all"
    freezes every weight. `word_embeddings` freezes only the word-piece embedding matrix (most
    of a multilingual encoder's parameters, and rows a small corpus mostly never touches).
    Frozen weights get no gradient, and thinc's optimizer only visits weights with one, so they
    also get no weight decay or momentum update.
    """
    if layers == "all":
        layers = -1
    if not isinstance(layers, int) or layers < -1:
        raise UserError(f"freeze_layers must be 0, a number of layers, -1 or \"all\"; got {layers!r}.")
    frozen: List[Any] = []
    if layers == -1:
        frozen = list(hf_model.parameters())
    elif layers > 0:
        blocks = encoder_layers(hf_model)
        if layers > len(blocks):
            raise UserError(
                f"freeze_layers = {layers}, but the encoder has only {len(blocks)} layers. "
                f"Use at most {len(blocks)}, or -1 to freeze the whole transformer."
            )
        frozen = list(hf_model.get_input_embeddings().parameters())
        embeddings = getattr(hf_model, "embeddings", None)
        if embeddings is not None:
            frozen += list(embeddings.parameters())
        for block in blocks[:layers]:
            frozen += list(block.parameters())
    if word_embeddings:
        frozen += list(hf_model.get_input_embeddings().parameters())
    unique = {id(param): param for param in frozen}
    for param in unique.values():
        param.requires_grad_(False)
    return sum(param.numel() for param in unique.values())


def native_bf16_cpu() -> bool:
    """Whether this CPU computes bfloat16 in hardware (AVX512-BF16 or AMX). Elsewhere torch
    emulates it, which is slower than float32."""
    import torch

    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, check, lambda: False)() for check in checks)


def use_bf16(setting: Union[bool, str], hf_model: Any) -> bool:
    if setting not in (True, False, "auto"):
        raise UserError(f"bf16_on_cpu must be true, false or \"auto\"; got {setting!r}.")
    on_cpu = next(hf_model.parameters()).device.type == "cpu"
    return on_cpu and (setting is True or (setting == "auto" and native_bf16_cpu()))


M_MMAP_THRESHOLD = -3  # mallopt's parameter number, from glibc's malloc.h
MAX_MMAP_THRESHOLD_MB = 32  # glibc refuses more than HEAP_MAX_SIZE / 2 on 64-bit


def glibc(setting: str) -> Optional[ctypes.CDLL]:
    """The process's C library where it is glibc; elsewhere None, and `setting` is said to do nothing."""
    if platform.libc_ver()[0] == "glibc":
        return ctypes.CDLL(None)
    msg.info(f"{setting}: the C library is not glibc, so there is nothing to set")
    return None


@registry.callbacks("spacy_bert_ner.malloc_mmap_threshold.v1")
def malloc_mmap_threshold(threshold_mb: float = 1.0) -> Callable[[Language], Language]:
    """Fix glibc's mmap threshold for the training process, so that freed batch buffers go back to the OS.

    glibc serves blocks above its mmap threshold with their own mmap and unmaps them on free, but
    it raises the threshold to the size of every mmapped block freed (up to 32 MB). After the first
    steps the encoder's activations and gradients, a different size with every batch's shape, come
    from the heap instead, and a heap of blocks of changing sizes fragments: bytes in use stay flat
    while the free bytes glibc keeps, and resident memory, grow with the steps
    (`benchmarks/memory_probe.py --inspect` shows both). Setting the threshold (mallopt
    M_MMAP_THRESHOLD, as the MALLOC_MMAP_THRESHOLD_ environment variable would) also turns that
    adjustment off, so blocks of `threshold_mb` and above are mapped and returned every time.

    threshold_mb: 0 leaves glibc's dynamic threshold; at most 32. On a C library other than glibc
    (macOS, musl) there is nothing to set, and training says so once.
    """
    if not (isinstance(threshold_mb, (int, float)) and 0 <= threshold_mb <= MAX_MMAP_THRESHOLD_MB):
        raise UserError(f"[initialize.before_init] threshold_mb is in MB, from 0 (glibc's default) to "
                        f"{MAX_MMAP_THRESHOLD_MB}; got {threshold_mb!r}.")

    def before_init(nlp: Language) -> Language:
        libc = glibc("[initialize.before_init] malloc_mmap_threshold") if threshold_mb else None
        if libc is not None and libc.mallopt(M_MMAP_THRESHOLD, int(threshold_mb * 2**20)) != 1:
            raise UserError(f"[initialize.before_init] glibc refused an mmap threshold of {threshold_mb:g} MB; "
                            "set threshold_mb lower, or 0 to leave glibc's default.")
        return nlp

    return before_init


@registry.callbacks("spacy_bert_ner.malloc_trim.v1")
def malloc_trim(every_steps: int = 100) -> Callable[[Language, Dict[str, Any]], None]:
    """Hand the free pages glibc keeps back to the OS every `every_steps` training steps.

    Even with a fixed mmap threshold (`malloc_mmap_threshold.v1`) the heap fragments: the bytes in
    use stay flat through training while the free bytes between them grow, and each was touched
    once, so it stays resident. glibc's `malloc_trim(0)` releases every whole free page inside the
    heap (not only at its top), which brings resident memory back to what is in use. It takes
    milliseconds; a step takes from tens of milliseconds (GPU) to a second (CPU).

    every_steps: at least 1. On a C library other than glibc there is nothing to trim, and
    training says so once.
    """
    if not (isinstance(every_steps, int) and not isinstance(every_steps, bool) and every_steps >= 1):
        raise UserError(f"[training.before_update] every_steps is a whole number of steps, at least 1; "
                        f"got {every_steps!r}.")
    libc = glibc("[training.before_update] malloc_trim")
    trim = libc.malloc_trim if libc is not None else None

    def before_update(nlp: Language, args: Dict[str, Any]) -> None:
        if trim is not None and args["step"] and args["step"] % every_steps == 0:
            trim(0)

    return before_update


@registry.callbacks("spacy_bert_ner.fine_tuning.v1")
def fine_tuning(
    freeze_layers: Union[int, str] = 0,
    freeze_word_embeddings: bool = False,
    encoder_lr_scale: float = 1.0,
    transformer: str = "transformer",
    bf16_on_cpu: Union[bool, str] = False,
) -> Callable[[Language], Language]:
    """How the encoder is fine-tuned: frozen layers, its learning rate relative to the heads, bf16.

    freeze_layers: 0 = full fine-tuning; N = embeddings and the lowest N layers frozen;
        -1 or "all" = the transformer is a fixed feature extractor. "all" also adds the
        component to training.frozen_components and annotating_components, so spaCy runs it
        without building a backward graph (torch cannot backpropagate into a graph with
        no trainable weight).
    freeze_word_embeddings: freeze only the word-piece embedding matrix.
    encoder_lr_scale: the encoder learns at this x training.optimizer.learn_rate (the heads'
        rate), e.g. 0.1 for a head at 1e-3 and an encoder at 1e-4. thinc has one optimizer for
        the pipeline but takes a learning-rate factor per call, which the encoder's shim passes
        with each of its weights (`CPUInferenceShim.finish_update`). Adam is invariant to
        gradient scale, so the listener's grad_factor cannot do this.
    transformer: the name of the transformer component.
    bf16_on_cpu: train a CPU-resident encoder under bfloat16 autocast: true, false, or "auto"
        (on where the CPU has native bf16). Training only; a GPU run uses the model's
        mixed_precision instead.
    """

    if not (isinstance(encoder_lr_scale, (int, float)) and encoder_lr_scale > 0):
        raise UserError(f"[initialize.after_init] encoder_lr_scale must be a number above 0 (1.0: the heads' "
                        f"rate); got {encoder_lr_scale!r}.")

    def after_init(nlp: Language) -> Language:
        if transformer not in nlp.pipe_names:
            raise UserError(
                f"[initialize.after_init] fine_tuning: no component '{transformer}' in the pipeline "
                f"{nlp.pipe_names}. Set its `transformer` to the transformer component's name."
            )
        pipe = nlp.get_pipe(transformer)
        hf_model = pipe.model.transformer
        n_frozen = freeze_encoder(hf_model, freeze_layers, freeze_word_embeddings)
        if freeze_layers in (-1, "all"):
            training = nlp.config["training"]
            for key in ("frozen_components", "annotating_components"):
                if transformer not in training[key]:
                    training[key] = [*training[key], transformer]
        shim = pipe.model.layers[0].shims[0]
        if encoder_lr_scale != 1.0:
            if not isinstance(shim, CPUInferenceShim):
                raise UserError(f"[initialize.after_init] encoder_lr_scale = {encoder_lr_scale:g} needs the encoder "
                                f"architecture that applies it: set [components.{transformer}.model] @architectures = "
                                "\"spacy_bert_ner.TransformerModel.v1\" (spacy-transformers' TransformerModel.v3 "
                                "with the same settings), or encoder_lr_scale = 1.0.")
            shim.learn_rate_scale = encoder_lr_scale
        bf16 = use_bf16(bf16_on_cpu, hf_model)
        if bf16:
            if isinstance(shim, CPUInferenceShim):
                shim.bf16_training = True
            elif bf16_on_cpu is True:
                raise UserError(f"[initialize.after_init] bf16_on_cpu = true needs the encoder architecture "
                                f"that runs it: set [components.{transformer}.model] @architectures = "
                                "\"spacy_bert_ner.TransformerModel.v1\" (spacy-transformers' TransformerModel.v3 "
                                "with the same settings), or bf16_on_cpu = false.")
            else:
                bf16 = False
                msg.warn(f"bf16_on_cpu = \"auto\": training in float32, since [components.{transformer}.model] "
                         "is not spacy_bert_ner.TransformerModel.v1, which runs bf16 training steps")
        n_total = sum(param.numel() for param in hf_model.parameters())
        msg.info(
            f"Encoder: {n_total - n_frozen:,} of {n_total:,} parameters trainable, "
            f"learning rate x{encoder_lr_scale:g} relative to the heads"
            + (", bfloat16 autocast on the CPU" if bf16 else "")
        )
        return nlp

    return after_init


@registry.augmenters("spacy_bert_ner.sentence_chunks.v1")
def sentence_chunks(
    max_tokens: int = 128, max_sentences: Optional[int] = None
) -> Callable[[Language, Example], Iterator[Example]]:
    """Train on chunks of at most `max_tokens` tokens that never split an entity: `[corpora.train.augmenter]`.

    A converted document of ten sentences is longer than the transformer's 128-token window, so
    it is encoded as overlapping windows cut mid-sentence, padded to the longest in the batch.
    Chunks that fit one window need no overlap, and the batcher groups chunks of similar length,
    so steps are faster (BENCHMARKS.md). More important, every piece then fits the batcher: a
    document longer than its size would otherwise be trained in a batch of its own or, with
    `discard_oversize`, never. Dev, test and production text still go through the configured
    windows. See `chunks.chunk_example` for where documents are cut.

    max_tokens: the most tokens of a chunk, counted in the pipeline's tokens (what the
        transformer and the batcher see), not the corpus's words.
    max_sentences: the most sentences of a chunk (1 trains on single sentences); None packs as
        many whole sentences as fit.
    """
    if max_tokens < 1:
        raise UserError(f"sentence_chunks: max_tokens must be at least 1, got {max_tokens}.")
    if max_sentences is not None and max_sentences < 1:
        raise UserError(f"sentence_chunks: max_sentences must be at least 1 or null, got {max_sentences}.")

    def split(nlp: Language, example: Example) -> Iterator[Example]:
        from .chunks import chunk_example

        return chunk_example(nlp, example, max_tokens, max_sentences)

    return split


@registry.loggers("spacy_bert_ner.jsonl_logger.v1")
def jsonl_logger(
    path: Optional[str] = None, progress_bar: bool = False
) -> Callable[[Language, IO, IO], Tuple[Callable[[Optional[Dict[str, Any]]], None], Callable[[], None]]]:
    """spaCy's console table per evaluation, plus one JSON line per evaluation in `path`.

    Each line holds step, epoch, seconds since start, words seen, training words/s (time spent
    in evaluation excluded), the losses since the last evaluation, the score and every dev
    score as a fraction (ents_p/r/f, ents_per_type, speed = dev words/s). Below each table row
    it prints the training words/s, which spaCy's table has no column for.
    """
    console = registry.get("loggers", "spacy.ConsoleLogger.v3")(progress_bar="eval" if progress_bar else None)

    def setup(nlp: Language, stdout: IO = sys.stdout, stderr: IO = sys.stderr):
        out = None
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            out = open(path, "w", encoding="utf8")
            print(f"Writing the training log to {path}", file=stdout, flush=True)
        log_console, finalize_console = console(nlp, stdout, stderr)
        start = last = time.perf_counter()
        train_seconds = 0.0
        last_words = 0

        def log_step(info: Optional[Dict[str, Any]]) -> None:
            nonlocal last, train_seconds, last_words
            now = time.perf_counter()
            if info is None:
                train_seconds += now - last
                last = now
                log_console(None)
                return
            words = int(info["words"])
            words_per_second = (words - last_words) / train_seconds if train_seconds > 0 else None
            log_console(info)
            if words_per_second is not None:
                print(f"  training words/s: {words_per_second:,.0f}", file=stdout, flush=True)
            if out is not None:
                record = {
                    "step": info["step"],
                    "epoch": info["epoch"],
                    "seconds": round(now - start, 2),
                    "words": words,
                    "words_per_second": None if words_per_second is None else round(words_per_second, 1),
                    "losses": {name: float(value) for name, value in info["losses"].items()},
                    "score": float(info["score"]),
                    "other_scores": info["other_scores"],
                }
                out.write(json.dumps(record, default=float) + "\n")
                out.flush()
            train_seconds, last_words = 0.0, words
            last = time.perf_counter()

        def finalize() -> None:
            finalize_console()
            if out is not None:
                out.close()

        return log_step, finalize

    return setup
