"""The encoder's CPU arithmetic (components/encoder.py, int8.py): fp32, bf16 autocast, int8 in ONNX Runtime."""
import sys

import numpy
import pytest
import spacy
import torch
from thinc.api import Adam

import spacy_bert_ner.components.int8 as int8_module
from spacy_bert_ner.components.encoder import CPUInferenceShim
from spacy_bert_ner.errors import UserError
from spacy_bert_ner.inference.loading import load_pipeline
from spacy_bert_ner.inference.packaging import package

pytestmark = pytest.mark.slow  # the session's trained pipeline

SAMPLE = ["Mette Frederiksen besøgte Novo Nordisk i Kalundborg i går.",
          "Anders Fogh Rasmussen talte med Københavns Kommune om Roskilde Festival.",
          "Hun flyttede fra Aarhus til Berlin for at arbejde hos Siemens."]
# Entity tags (IOB + type) that may differ from float32 on the tiny random test model: its logits
# are close together, so int8 weights move a few tokens across a boundary. The real measure is
# the F1 of a trained encoder, which BENCHMARKS.md gives (within 0.005 of fp32 on two corpora).
MAX_CHANGED_TAGS = 0.05


def shim(nlp) -> CPUInferenceShim:
    return nlp.get_pipe("transformer").model.layers[0].shims[0]


def tags(nlp):
    return [(t.ent_iob_, t.ent_type_) for doc in nlp.pipe(SAMPLE) for t in doc]


def changed(a, b) -> float:
    assert len(a) == len(b)
    return sum(x != y for x, y in zip(a, b)) / len(a)


def op_types(graph: bytes) -> set:
    import onnx

    return {node.op_type for node in onnx.load_from_string(graph).graph.node}


def hidden(nlp):
    return [doc._.trf_data.model_output.last_hidden_state for doc in
            (nlp.get_pipe("transformer")(nlp.make_doc(text)) for text in SAMPLE)]


def test_int8_runs_an_int8_graph_close_to_float32(trained, tmp_path, monkeypatch):
    monkeypatch.setenv("SPACY_BERT_NER_CACHE", str(tmp_path / "cache"))
    fp32 = load_pipeline(str(trained))
    int8 = load_pipeline(str(trained), cpu_inference="int8")
    assert int8.config["components"]["transformer"]["model"]["cpu_inference"] == "int8"
    assert shim(int8).int8 is not None and shim(fp32).int8 is None
    # fused by ONNX Runtime (one attention op a layer), then quantized: int8 attention kernels
    assert {"QAttention", "MatMulInteger"} <= op_types(shim(int8).int8.graph)
    for mine, theirs in zip(hidden(int8), hidden(fp32)):
        assert mine.shape == theirs.shape
        cosine = torch.nn.functional.cosine_similarity(torch.tensor(mine), torch.tensor(theirs), dim=-1)
        assert 0.9 < float(cosine.mean()) < 0.99999  # close, and not float32 itself
    assert changed(tags(fp32), tags(int8)) <= MAX_CHANGED_TAGS
    scores = [s for doc in int8.pipe(SAMPLE) for s in doc.spans["ents"].attrs["scores"]]
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert len(list((tmp_path / "cache" / "int8").glob("*.onnx"))) == 1


def test_a_fusion_that_changes_the_hidden_states_is_not_quantized(trained, tmp_path, monkeypatch):
    """ONNX Runtime fuses by pattern matching; a graph it fused wrongly must not be what predicts."""
    import onnx
    from onnxruntime.transformers import optimizer
    from onnxruntime.transformers.onnx_model import OnnxModel

    def wrong_fusion(path, **kwargs):  # the hidden states doubled, as a mismatched pattern could leave them
        graph = onnx.load(path)
        last = next(node for node in graph.graph.node if "last_hidden_state" in node.output)
        last.output[list(last.output).index("last_hidden_state")] = "unscaled"
        graph.graph.initializer.append(onnx.numpy_helper.from_array(numpy.array(2.0, dtype="float32"), "two"))
        graph.graph.node.append(onnx.helper.make_node("Mul", ["unscaled", "two"], ["last_hidden_state"]))
        return OnnxModel(graph)

    monkeypatch.setenv("SPACY_BERT_NER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(optimizer, "optimize_model", wrong_fusion)
    with pytest.warns(UserWarning, match="quantized unfused"):
        int8 = load_pipeline(str(trained), cpu_inference="int8")
    ops = op_types(shim(int8).int8.graph)
    assert "MatMulInteger" in ops and "QAttention" not in ops
    assert changed(tags(load_pipeline(str(trained))), tags(int8)) <= MAX_CHANGED_TAGS


def test_an_encoder_whose_graph_differs_from_pytorch_stops_with_one_message(trained, tmp_path, monkeypatch):
    monkeypatch.setenv("SPACY_BERT_NER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(int8_module, "hidden_state_error", lambda *args: 1.0)  # fused and exported alike
    with pytest.raises(ValueError, match="does not export to ONNX faithfully.*fp32"):
        load_pipeline(str(trained), cpu_inference="int8")
    assert not list((tmp_path / "cache").rglob("*.onnx"))  # nothing cached that would be loaded next time


def test_int8_graph_is_cached_and_built_where_the_cache_cannot_be_written(trained, tmp_path, monkeypatch):
    monkeypatch.setenv("SPACY_BERT_NER_CACHE", str(tmp_path / "cache"))
    expected = tags(load_pipeline(str(trained), cpu_inference="int8"))

    def no_build(*args):
        raise AssertionError("built again although cached")

    with monkeypatch.context() as m:
        m.setattr(int8_module, "build_int8_onnx", no_build)
        assert tags(load_pipeline(str(trained), cpu_inference="int8")) == expected
    # a graph of an earlier recipe for these weights goes when the new one is cached; others' stay
    (current,) = (tmp_path / "cache" / "int8").glob("*.onnx")
    key = current.name.split("-")[0]
    stale, other = (current.with_name(f"{key}-input_ids-attention_mask.onnx"),
                    current.with_name("x" * len(key) + "-input_ids-attention_mask.onnx"))
    current.rename(stale)
    other.write_bytes(b"")
    assert tags(load_pipeline(str(trained), cpu_inference="int8")) == expected
    assert current.is_file() and not stale.exists() and other.exists()
    (tmp_path / "not_a_dir").write_text("")
    monkeypatch.setenv("SPACY_BERT_NER_CACHE", str(tmp_path / "not_a_dir"))
    assert tags(load_pipeline(str(trained), cpu_inference="int8")) == expected


def test_bf16_predicts_in_bfloat16_and_keeps_the_entities(trained):
    bf16 = load_pipeline(str(trained), cpu_inference="bf16")
    seen = set()
    for module in shim(bf16)._model.modules():
        if isinstance(module, torch.nn.Linear):
            module.register_forward_hook(lambda module, inputs, output: seen.add(output.dtype))
    got = tags(bf16)
    assert seen == {torch.bfloat16}
    assert changed(tags(load_pipeline(str(trained))), got) <= MAX_CHANGED_TAGS


def test_an_int8_pipeline_predicts_and_saves_but_does_not_train(trained, tmp_path):
    nlp = load_pipeline(str(trained), cpu_inference="int8")
    expected = tags(nlp)
    nlp.to_disk(tmp_path / "copy")  # the float32 weights, with the setting in its config
    again = spacy.load(tmp_path / "copy")
    assert shim(again).int8 is not None and tags(again) == expected
    examples = [spacy.training.Example.from_dict(nlp.make_doc(SAMPLE[0]), {})]
    with pytest.raises(ValueError, match="predicts only"):
        nlp.update(examples, sgd=Adam(0.001))


def test_bad_settings_stop_with_one_message(trained, tmp_path, monkeypatch):
    with pytest.raises(UserError, match="one of fp32, bf16, int8; got 'int4'"):
        load_pipeline(str(trained), cpu_inference="int4")
    with pytest.raises(UserError, match="--cpu-inference int8 is for CPU inference, and --gpu-id 0"):
        load_pipeline(str(trained), gpu_id=0, cpu_inference="int8")
    rules = spacy.blank("da")
    rules.add_pipe("entity_ruler").add_patterns([{"label": "LOC", "pattern": "Aarhus"}])
    rules.to_disk(tmp_path / "rules")
    with pytest.raises(UserError, match="has no transformer component"):
        load_pipeline(str(tmp_path / "rules"), cpu_inference="int8")
    with pytest.raises(UserError, match="one of fp32, bf16, int8"):
        package(trained, tmp_path / "pk", "bad_ner", "0.1.0", cpu_inference="fast")
    assert not (tmp_path / "pk").exists()
    with pytest.raises(ValueError, match="cpu_inference must be one of"):
        spacy.load(trained, config={"components": {"transformer": {"model": {"cpu_inference": "int4"}}}})
    with pytest.raises(ValueError, match="last hidden state only"):
        spacy.load(trained, config={"components": {"transformer": {"model": {
            "cpu_inference": "int8", "transformer_config": {"output_hidden_states": True}}}}})
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if not installed
    with pytest.raises(ValueError, match=r"onnxruntime is not installed: pip install 'spacy-bert-ner\[int8\]'"):
        load_pipeline(str(trained), cpu_inference="int8")
