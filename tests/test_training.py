"""Freezing, the encoder's own learning rate, the JSONL log, and both configs training end to end."""
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest
import spacy
import torch
from spacy.tokens import Doc, DocBin, Span
from spacy.training import Example
from spacy.training.initialize import init_nlp
from spacy.training.loop import train
from thinc.api import Adam, ArgsKwargs, Config, fix_random_seed

from spacy_bert_ner.errors import UserError

ROOT = Path(__file__).resolve().parent.parent
SENTENCES = [
    ("Anna bor i Berlin .", [(0, 1, "PER"), (3, 4, "LOC")]),
    ("Peter arbejder hos Novo Nordisk .", [(0, 1, "PER"), (3, 5, "ORG")]),
    ("Maria Hansen mødte Lars i Aarhus .", [(0, 2, "PER"), (3, 4, "PER"), (5, 6, "LOC")]),
    ("Danske Bank har kontor i Odense .", [(0, 2, "ORG"), (5, 6, "LOC")]),
]


def gold_docs(vocab):
    docs = []
    for text, ents in SENTENCES:
        doc = Doc(vocab, words=text.split())
        doc.set_ents([Span(doc, s, e, label=label) for s, e, label in ents], default="outside")
        docs.append(doc)
    return docs


def build(tiny_transformer, cfg="ner_trf.cfg", **overrides):
    config = Config().from_disk(ROOT / "configs" / cfg, overrides={
        "components.transformer.model.name": str(tiny_transformer), **overrides,
    })
    fix_random_seed(0)
    return spacy.util.load_model_from_config(config, auto_fill=True, validate=True)


def initialized(tiny_transformer, cfg="ner_trf.cfg", **after_init):
    nlp = build(tiny_transformer, cfg, **{f"initialize.after_init.{k}": v for k, v in after_init.items()})
    examples = [Example(Doc(nlp.vocab, words=[t.text for t in d]), d) for d in gold_docs(nlp.vocab)]
    nlp.initialize(lambda: examples)
    return nlp, examples


def snapshot(nlp):
    hf = nlp.get_pipe("transformer").model.transformer
    encoder = {name: p.detach().clone() for name, p in hf.named_parameters()}
    head = nlp.get_pipe("ner").model
    head_params = {(node.id, name): node.get_param(name).copy()
                   for node in head.walk() for name in node.param_names if node.has_param(name)}
    return encoder, head_params


def changed(before, after):
    return {name for name in before if not torch.equal(before[name], after[name])}


def train_step(nlp, examples, sgd):
    """One step as `spacy train` takes it: all backward passes first, then every component's update."""
    nlp.update(examples, sgd=False)
    for _, proc in nlp.pipeline:
        if getattr(proc, "is_trainable", False):
            proc.finish_update(sgd)


def run_updates(nlp, examples, steps=3):
    # Weight decay on, as in the configs: frozen weights must not decay either.
    sgd = Adam(0.001, L2=0.01, L2_is_weight_decay=True, grad_clip=1.0)
    for _ in range(steps):
        train_step(nlp, examples, sgd)


def test_freezing_embeddings_and_lowest_layer(tiny_transformer):
    nlp, examples = initialized(tiny_transformer, freeze_layers=1)
    encoder_before, head_before = snapshot(nlp)
    run_updates(nlp, examples)
    encoder_after, head_after = snapshot(nlp)
    moved = changed(encoder_before, encoder_after)
    frozen = {n for n in encoder_before if n.startswith(("embeddings.", "encoder.layer.0."))}
    trainable = {n for n in encoder_before if n.startswith("encoder.layer.1.")}
    assert frozen and trainable
    assert not moved & frozen
    assert trainable <= moved
    hf = nlp.get_pipe("transformer").model.transformer
    assert all(not p.requires_grad for n, p in hf.named_parameters() if n in frozen)
    assert any((head_before[k] != head_after[k]).any() for k in head_before)


def test_freezing_word_embeddings_only(tiny_transformer):
    nlp, examples = initialized(tiny_transformer, freeze_word_embeddings=True)
    before, _ = snapshot(nlp)
    run_updates(nlp, examples)
    moved = changed(before, snapshot(nlp)[0])
    assert "embeddings.word_embeddings.weight" not in moved
    assert {"embeddings.position_embeddings.weight", "encoder.layer.0.attention.self.query.weight"} <= moved


def test_no_freezing_trains_every_layer(tiny_transformer):
    nlp, examples = initialized(tiny_transformer, freeze_layers=0, freeze_word_embeddings=False)
    before, _ = snapshot(nlp)
    run_updates(nlp, examples)
    moved = changed(before, snapshot(nlp)[0])
    assert {n for n in before if not n.startswith("pooler.")} <= moved  # the pooler is not used


def test_freezing_more_layers_than_the_encoder_has(tiny_transformer):
    with pytest.raises(UserError, match="only 2 layers"):
        initialized(tiny_transformer, freeze_layers=5)


def test_encoder_learn_rate_scale(tiny_transformer):
    """An Adam step moves each weight by about lr x its scale: the encoder 10x less, the head the same.

    The head starts at zero, so the encoder gets no gradient before the second update; both
    runs are identical up to then, and the encoder's first real step shows the scale alone."""
    deltas = {}
    for scale in (1.0, 0.1):
        nlp, examples = initialized(tiny_transformer, "tokcls_trf.cfg", encoder_lr_scale=scale)
        encoder_before, head_before = snapshot(nlp)
        sgd = Adam(0.001)
        for _ in range(2):
            train_step(nlp, examples, sgd)
        encoder_after, head_after = snapshot(nlp)
        encoder_step = torch.cat([(encoder_after[n] - encoder_before[n]).abs().flatten() for n in encoder_before])
        head_step = [abs(head_after[k] - head_before[k]) for k in head_before]
        deltas[scale] = (float(encoder_step.max()), sum(float(d.sum()) for d in head_step))
    assert deltas[0.1][0] == pytest.approx(deltas[1.0][0] * 0.1, rel=0.05)
    assert deltas[0.1][0] > 0
    assert deltas[0.1][1] == pytest.approx(deltas[1.0][1], rel=1e-4) and deltas[1.0][1] > 0


@pytest.mark.parametrize("cfg", ["ner_trf.cfg", "tokcls_trf.cfg"])
def test_spacy_training_loop_with_whole_encoder_frozen_and_jsonl_log(tiny_transformer, tmp_path, cfg):
    """`spacy train`'s loop: freeze_layers = "all" turns the encoder into an annotating, frozen
    component (no backward pass), the head still learns, and the logger writes one line per evaluation."""
    from transformers import AutoModel

    DocBin(docs=gold_docs(spacy.blank("da").vocab)).to_disk(tmp_path / "train.spacy")
    config = Config().from_disk(ROOT / "configs" / cfg, overrides={
        "components.transformer.model.name": str(tiny_transformer),
        "paths.train": str(tmp_path / "train.spacy"),
        "paths.dev": str(tmp_path / "train.spacy"),
        "paths.training_log": str(tmp_path / "log.jsonl"),
        "initialize.after_init.freeze_layers": "all",
        "training.max_steps": 4,
        "training.eval_frequency": 2,
        "training.optimizer.learn_rate.warmup_steps": 1,
        "training.optimizer.learn_rate.initial_rate": 0.01,
    })
    nlp = init_nlp(config)
    assert "transformer" in nlp.config["training"]["frozen_components"]
    head_before = snapshot(nlp)[1]
    train(nlp, None)
    original = AutoModel.from_pretrained(str(tiny_transformer)).state_dict()
    hf = nlp.get_pipe("transformer").model.transformer
    assert all(torch.equal(p, original[n]) for n, p in hf.state_dict().items() if n in original)
    head_after = snapshot(nlp)[1]
    assert any((head_before[k] != head_after[k]).any() for k in head_before)
    lines = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == [0, 2, 4]
    assert {"ents_p", "ents_r", "ents_f", "ents_per_type"} <= set(lines[-1]["other_scores"])
    assert lines[-1]["words_per_second"] > 0 and lines[-1]["seconds"] > 0
    assert set(lines[-1]["losses"]) == {"ner"}


def encoder_shim(nlp):
    return nlp.get_pipe("transformer").model.layers[0].shims[0]


def test_bf16_autocast_on_cpu_trains_a_float32_model(tiny_transformer, tmp_path):
    """Training steps run the encoder in bfloat16 (its outputs differ from float32 a little) yet
    hand float32 to thinc, every weight still learns and stays float32, and the saved model loads."""
    nlp, examples = initialized(tiny_transformer, freeze_word_embeddings=False, bf16_on_cpu=True)
    shim = encoder_shim(nlp)
    assert shim.bf16_training
    hf = nlp.get_pipe("transformer").model.transformer
    for module in hf.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0  # the two passes then differ only by precision
    ids = torch.tensor([[2, 7, 9, 11, 3]])
    inputs = ArgsKwargs(args=(), kwargs={"input_ids": ids, "attention_mask": torch.ones_like(ids)})
    linear_dtypes = set()
    hooks = [m.register_forward_hook(lambda module, args, output: linear_dtypes.add(output.dtype))
             for m in hf.modules() if isinstance(m, torch.nn.Linear)]
    bf16, backprop = shim.begin_update(inputs)
    for hook in hooks:
        hook.remove()
    fp32 = shim.predict(inputs)
    assert linear_dtypes == {torch.bfloat16}
    assert all(out.dtype == torch.float32 for out in bf16.values())
    assert not torch.equal(bf16.last_hidden_state, fp32.last_hidden_state)
    assert torch.allclose(bf16.last_hidden_state, fp32.last_hidden_state, atol=0.1)
    before, _ = snapshot(nlp)
    run_updates(nlp, examples)
    after, _ = snapshot(nlp)
    assert {n for n in before if not n.startswith("pooler.")} <= changed(before, after)
    assert all(p.dtype == torch.float32 for p in after.values())
    nlp.to_disk(tmp_path / "model")
    loaded = spacy.load(tmp_path / "model")
    assert not encoder_shim(loaded).bf16_training  # a training setting: the saved model predicts as configured
    state = loaded.get_pipe("transformer").model.transformer.state_dict()
    assert all(torch.equal(state[n], p) for n, p in after.items())


def live_tensor_count() -> int:
    """How many torch tensors the garbage collector reaches after a collection."""
    import gc
    import warnings

    gc.collect()
    with warnings.catch_warnings():  # isinstance touches torch.distributed's deprecated reduce_op
        warnings.simplefilter("ignore", FutureWarning)
        return sum(isinstance(obj, torch.Tensor) for obj in gc.get_objects())


def test_a_training_step_updates_the_weights_as_thincs_shim_does_and_keeps_no_old_tensors(tiny_transformer):
    """CPUInferenceShim.finish_update replaces thinc's PyTorchShim.finish_update, which keeps one
    tensor per parameter alive from every step (benchmarks/repro_thinc_shim_chain.py): the same
    steps must give the same weights, and the number of live tensors must stay flat."""
    from types import MethodType

    from thinc.shims.pytorch import PyTorchShim

    def steps(nlp, examples, counts):
        sgd = Adam(0.001, L2=0.01, L2_is_weight_decay=True, grad_clip=1.0)
        fix_random_seed(0)  # the encoder's own dropout draws from torch's generator
        for _ in range(4):
            train_step(nlp, examples, sgd)
            counts.append(live_tensor_count())
        return snapshot(nlp)[0]

    # thinc's shim has no learning-rate factor of its own: compare at the heads' rate
    upstream, examples = initialized(tiny_transformer, freeze_word_embeddings=False, encoder_lr_scale=1.0)
    shim = encoder_shim(upstream)
    shim.finish_update = MethodType(PyTorchShim.finish_update, shim)
    upstream_counts, our_counts = [], []
    before = snapshot(upstream)[0]
    expected = steps(upstream, examples, upstream_counts)
    ours, examples = initialized(tiny_transformer, freeze_word_embeddings=False, encoder_lr_scale=1.0)
    got = steps(ours, examples, our_counts)
    assert all(b > a for a, b in zip(upstream_counts, upstream_counts[1:]))  # the upstream cause is still there
    assert our_counts[-1] == our_counts[0]
    assert changed(before, got) and not changed(expected, got)


CAPTURED = []


@spacy.registry.optimizers("test_capturing_adam.v1")
def capturing_adam(learn_rate, beta1: float, beta2: float, eps: float, L2: float, L2_is_weight_decay: bool,
                   grad_clip: float, use_averages: bool):
    """thinc's Adam, kept here so the test can read the optimizer `spacy train` made."""
    optimizer = Adam(learn_rate, beta1=beta1, beta2=beta2, eps=eps, L2=L2, L2_is_weight_decay=L2_is_weight_decay,
                     grad_clip=grad_clip, use_averages=use_averages)
    CAPTURED.append(optimizer)
    return optimizer


@pytest.mark.parametrize("use_averages", [True, False])
def test_use_averages_evaluates_and_saves_the_averaged_encoder(tiny_transformer, tmp_path, use_averages):
    """With `use_averages = true`, spaCy's loop saves model-last inside `use_params(averages)`: the
    encoder on disk must hold the optimizer's averages (thinc's own shim kept the live weights), and
    the live weights come back afterwards. Off, the saved encoder is the live one, as before."""
    DocBin(docs=gold_docs(spacy.blank("da").vocab)).to_disk(tmp_path / "train.spacy")
    config = Config().from_disk(ROOT / "configs" / "ner_trf.cfg", overrides={
        "components.transformer.model.name": str(tiny_transformer),
        "paths.train": str(tmp_path / "train.spacy"),
        "paths.dev": str(tmp_path / "train.spacy"),
        "paths.training_log": str(tmp_path / "log.jsonl"),
        "initialize.after_init.freeze_word_embeddings": False,
        "training.max_steps": 6,
        "training.eval_frequency": 3,
        "training.optimizer.@optimizers": "test_capturing_adam.v1",
        "training.optimizer.use_averages": use_averages,
        "training.optimizer.learn_rate.warmup_steps": 1,
        "training.optimizer.learn_rate.initial_rate": 0.01,
    })
    nlp = init_nlp(config)
    CAPTURED.clear()
    (tmp_path / "out").mkdir()
    train(nlp, tmp_path / "out")
    optimizer, = CAPTURED
    live = snapshot(nlp)[0]
    saved = snapshot(spacy.load(tmp_path / "out" / "model-last"))[0]
    if not use_averages:
        assert optimizer.averages is None and not changed(live, saved)
        return
    shim_id = encoder_shim(nlp).id
    averaged = {name: torch.from_numpy(optimizer.averages[(shim_id, name)]) for name in live
                if (shim_id, name) in optimizer.averages}
    assert averaged.keys() >= {name for name in live if not name.startswith("pooler.")}
    assert not changed(averaged, saved)
    assert changed(averaged, live) == set(averaged)  # the live weights are back after saving


def test_bf16_setting(tiny_transformer):
    from spacy_bert_ner.training.hooks import native_bf16_cpu

    nlp, _ = initialized(tiny_transformer, bf16_on_cpu="auto")
    assert encoder_shim(nlp).bf16_training == native_bf16_cpu()
    nlp, _ = initialized(tiny_transformer, bf16_on_cpu=False)
    assert not encoder_shim(nlp).bf16_training
    with pytest.raises(UserError, match="bf16_on_cpu must be"):
        initialized(tiny_transformer, bf16_on_cpu="yes")


@pytest.mark.parametrize("after_init,error", [
    ({"bf16_on_cpu": True, "encoder_lr_scale": 1.0}, "bf16_on_cpu = true needs the encoder architecture"),
    ({"bf16_on_cpu": False, "encoder_lr_scale": 0.1}, "encoder_lr_scale = 0.1 needs the encoder architecture"),
])
def test_settings_our_encoder_applies_stop_on_spacy_transformers_own(tiny_transformer, after_init, error):
    config = Config().from_disk(ROOT / "configs" / "ner_trf.cfg", overrides={
        "components.transformer.model.name": str(tiny_transformer),
        **{f"initialize.after_init.{k}": v for k, v in after_init.items()}})
    model = config["components"]["transformer"]["model"]  # spacy-transformers' own encoder, as older configs name
    model["@architectures"] = "spacy-transformers.TransformerModel.v3"
    del model["cpu_inference"]
    nlp = spacy.util.load_model_from_config(config, auto_fill=True, validate=True)
    examples = [Example(Doc(nlp.vocab, words=[t.text for t in d]), d) for d in gold_docs(nlp.vocab)]
    with pytest.raises(UserError, match=error):
        nlp.initialize(lambda: examples)


def test_encoder_learn_rate_scale_must_be_positive(tiny_transformer):
    for bad in (0, -0.1):
        with pytest.raises(UserError, match="encoder_lr_scale must be a number above 0"):
            initialized(tiny_transformer, encoder_lr_scale=bad)



# Runs in a fresh interpreter: glibc's threshold is process-wide, and a training test before this
# one may have fixed it already. Freeing a 30 MB mapped block raises glibc's dynamic threshold to
# 30 MB, so a 24 MB block then comes from the heap, unless the threshold is fixed below it, when it
# is mapped (mallinfo2's hblkhd, the bytes in mapped blocks, grows by it).
MMAP_CHECK = """
import ctypes, json, sys
from spacy.util import registry
import spacy_bert_ner

class MallInfo2(ctypes.Structure):  # glibc's struct mallinfo2: ten size_t fields, hblkhd the fifth
    _fields_ = [(name, ctypes.c_size_t) for name in "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
libc.free(libc.malloc(30 << 20))
registry.callbacks.get("spacy_bert_ner.malloc_mmap_threshold.v1")(threshold_mb=float(sys.argv[1]))(None)
before = libc.mallinfo2().hblkhd
block = libc.malloc(24 << 20)
print(json.dumps(libc.mallinfo2().hblkhd - before >= 24 << 20))
libc.free(block)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt")
@pytest.mark.parametrize("threshold_mb, mapped", [(1, True), (0, False)])
def test_mmap_threshold_maps_batch_sized_blocks_again(threshold_mb, mapped):
    out = subprocess.run([sys.executable, "-c", MMAP_CHECK, str(threshold_mb)], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parent.parent,
                         env={k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")})
    assert json.loads(out.stdout.strip().splitlines()[-1]) is mapped


def resident_mb() -> float:
    """This process's resident memory (VmRSS in /proc/self/status), MB."""
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) / 1024


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc_trim")
def test_malloc_trim_returns_freed_heap_pages_every_n_steps():
    """200 MB of small heap blocks, touched and freed, stay resident behind a block that pins the
    heap's top, until the step the callback trims on."""
    import ctypes

    from spacy.util import registry

    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    size = 64 << 10  # below any mmap threshold: from the heap
    blocks = [libc.malloc(size) for _ in range(3200)]
    pin = libc.malloc(size)
    for block in blocks:
        ctypes.memset(block, 1, size)
    for block in blocks:
        libc.free(block)
    try:
        before_update = registry.callbacks.get("spacy_bert_ner.malloc_trim.v1")(every_steps=100)
        kept = resident_mb()
        before_update(None, {"step": 99, "epoch": 0})
        assert resident_mb() > kept - 50
        before_update(None, {"step": 100, "epoch": 0})
        assert resident_mb() < kept - 150
    finally:
        libc.free(pin)


@pytest.mark.parametrize("bad", [0, -5, 2.5, True])
def test_malloc_trim_every_steps_names_the_setting(bad):
    from spacy.util import registry

    with pytest.raises(UserError, match=r"\[training.before_update\] every_steps"):
        registry.callbacks.get("spacy_bert_ner.malloc_trim.v1")(every_steps=bad)


@pytest.mark.parametrize("bad", [-1, 33, "1MB"])
def test_mmap_threshold_out_of_range_names_the_setting(bad):
    from spacy.util import registry

    with pytest.raises(UserError, match=r"\[initialize.before_init\] threshold_mb"):
        registry.callbacks.get("spacy_bert_ner.malloc_mmap_threshold.v1")(threshold_mb=bad)

THREE_SENTENCES = [("Anna bor i Berlin .", ["B-PER", "O", "O", "B-LOC", "O"]),
                   ("Peter arbejder hos Novo Nordisk .", ["B-PER", "O", "O", "B-ORG", "I-ORG", "O"]),
                   ("Hej Lars .", ["O", "B-PER", "O"])]


def three_sentence_doc(vocab, ents=None):
    words = [w for text, _ in THREE_SENTENCES for w in text.split()]
    starts = [i == 0 for text, _ in THREE_SENTENCES for i in range(len(text.split()))]
    return Doc(vocab, words=words, sent_starts=starts, ents=ents or [t for _, tags in THREE_SENTENCES for t in tags])


@pytest.mark.parametrize("max_tokens,max_sentences,chunks", [
    (100, 1, [[0], [1], [2]]),  # single sentences
    (100, 2, [[0, 1], [2]]),
    (9, None, [[0], [1, 2]]),
    (11, None, [[0, 1], [2]]),
    (14, None, [[0, 1, 2]]),  # the document fits: unchanged
])
def test_sentence_chunks_split_documents_at_sentences_and_keep_every_entity(max_tokens, max_sentences, chunks):
    from spacy_bert_ner.training.hooks import sentence_chunks

    nlp = spacy.blank("da")
    doc = three_sentence_doc(nlp.vocab)
    out = list(sentence_chunks(max_tokens, max_sentences)(nlp, Example(nlp.make_doc(doc.text), doc)))
    assert [eg.reference.text.split() for eg in out] == [
        [w for i in chunk for w in THREE_SENTENCES[i][0].split()] for chunk in chunks]
    assert [eg.predicted.text for eg in out] == [eg.reference.text for eg in out]
    assert [(e.text, e.label_) for eg in out for e in eg.reference.ents] == [(e.text, e.label_) for e in doc.ents]


def test_sentence_chunks_cut_long_sentences_and_unsegmented_text_but_never_an_entity():
    """Sentences longer than max_tokens, and text without sentence boundaries, are cut into windows;
    a cut never falls inside an entity, and an entity longer than the limit stays whole."""
    from spacy_bert_ner.training.hooks import sentence_chunks

    nlp = spacy.blank("da")
    across = three_sentence_doc(nlp.vocab, ["O"] * 3 + ["B-LOC", "I-LOC", "I-LOC"] + ["O"] * 8)
    unsegmented = Doc(nlp.vocab, words=["Anna", "bor", "i", "Berlin", "og", "Peter", "i", "Aarhus"],
                      ents=["B-PER", "O", "O", "B-LOC", "O", "B-PER", "O", "B-LOC"])
    long_entity = Doc(nlp.vocab, words="a b c d e f".split(), ents=["O", "B-ORG", "I-ORG", "I-ORG", "I-ORG", "O"])
    for doc, max_tokens, pieces in [
        (across, 4, [["Anna", "bor", "i"], ["Berlin", ".", "Peter", "arbejder"], ["hos", "Novo", "Nordisk", "."],
                     ["Hej", "Lars", "."]]),
        (unsegmented, 3, [["Anna", "bor", "i"], ["Berlin", "og", "Peter"], ["i", "Aarhus"]]),
        (long_entity, 2, [["a"], ["b", "c", "d", "e"], ["f"]]),
    ]:
        out = list(sentence_chunks(max_tokens)(nlp, Example(nlp.make_doc(doc.text), doc)))
        assert [[t.text for t in eg.reference] for eg in out] == pieces
        assert [(e.text, e.label_) for eg in out for e in eg.reference.ents] == [(e.text, e.label_) for e in doc.ents]
        assert "".join(eg.reference.text for eg in out) == doc.text
        assert all(eg.predicted.text == eg.reference.text for eg in out)
    with pytest.raises(UserError, match="max_tokens must be at least 1"):
        sentence_chunks(0)
    with pytest.raises(UserError, match="max_sentences must be at least 1"):
        sentence_chunks(10, 0)


def test_sentence_chunks_count_the_pipelines_tokens():
    """A gold word the tokenizer splits counts as its tokens: in Chinese, one token per character."""
    from spacy_bert_ner.training.hooks import sentence_chunks

    nlp = spacy.blank("zh")
    gold = Doc(nlp.vocab, words=["北京", "是", "中国", "的", "首都"], spaces=[False] * 5,
               ents=["B-LOC", "O", "B-LOC", "O", "O"])
    out = list(sentence_chunks(4)(nlp, Example(nlp.make_doc(gold.text), gold)))
    assert [eg.reference.text for eg in out] == ["北京是", "中国的", "首都"]
    assert [len(eg.predicted) for eg in out] == [3, 3, 2]
