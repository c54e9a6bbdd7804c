"""The encoder's CPU arithmetic (components/encoder.py, int8.py): fp32, bf16 autocast, int8 in ONNX Runtime."""
import os
import sys

import numpy
import pytest
import spacy
import srsly
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

    monkeypatch.setattr(optimizer, "optimize_model", wrong_fusion)
    fp32 = load_pipeline(str(trained))
    names = int8_module.input_names(shim(fp32)._hfmodel.tokenizer)
    with pytest.warns(UserWarning, match="quantized unfused"):  # what the child building it runs
        graph = int8_module.build_int8_onnx(shim(fp32)._model, names)
    ops = op_types(graph)
    assert "MatMulInteger" in ops and "QAttention" not in ops
    int8 = load_pipeline(str(trained), cpu_inference="fp32")
    shim(int8).int8 = int8_module.Int8Encoder(graph, names)
    assert changed(tags(fp32), tags(int8)) <= MAX_CHANGED_TAGS


def test_an_encoder_whose_graph_differs_from_pytorch_stops_with_one_message(trained, tmp_path, monkeypatch):
    fp32 = load_pipeline(str(trained))
    names = int8_module.input_names(shim(fp32)._hfmodel.tokenizer)
    monkeypatch.setattr(int8_module, "hidden_state_error", lambda *args: 1.0)  # fused and exported alike
    with pytest.raises(ValueError, match="does not export to ONNX faithfully.*fp32"):
        int8_module.build_int8_onnx(shim(fp32)._model, names)


def test_a_failed_build_in_the_child_stops_the_load_and_caches_nothing(trained, tmp_path, monkeypatch):
    monkeypatch.setenv("SPACY_BERT_NER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(int8_module, "__name__", "spacy_bert_ner.no_such_module")  # the child cannot start
    with pytest.raises(ValueError, match="Building the int8 encoder graph failed: .*no_such_module"):
        load_pipeline(str(trained), cpu_inference="int8")
    assert not list((tmp_path / "cache").rglob("*.onnx"))  # nothing cached that would be loaded next time


def test_int8_graph_is_cached_and_built_where_the_cache_cannot_be_written(trained, tmp_path, monkeypatch):
    monkeypatch.setenv("SPACY_BERT_NER_CACHE", str(tmp_path / "cache"))
    expected = tags(load_pipeline(str(trained), cpu_inference="int8"))

    def no_build(*args):
        raise AssertionError("built again although cached")

    with monkeypatch.context() as m:
        m.setattr(int8_module, "build_in_child", no_build)
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


def test_an_int8_pipeline_saves_its_graph_predicts_and_does_not_train(trained, tmp_path, monkeypatch):
    monkeypatch.setenv("SPACY_BERT_NER_CACHE", str(tmp_path / "cache"))
    nlp = load_pipeline(str(trained), cpu_inference="int8")
    expected = tags(nlp)
    nlp.to_disk(tmp_path / "copy")  # the float32 weights and the int8 graph, the setting in its config
    monkeypatch.setenv("SPACY_BERT_NER_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setattr(int8_module, "build_in_child", lambda *args: pytest.fail("built although stored"))
    again = spacy.load(tmp_path / "copy")
    assert shim(again).int8.graph == shim(nlp).int8.graph and tags(again) == expected
    assert not (tmp_path / "empty-cache").exists()
    again.to_disk(tmp_path / "copy2")  # saved again: the same graph, no rebuild
    assert shim(spacy.load(tmp_path / "copy2")).int8.graph == shim(nlp).int8.graph
    fp32 = load_pipeline(str(tmp_path / "copy"), cpu_inference="fp32")  # the stored graph costs fp32 nothing
    assert shim(fp32).int8 is None and changed(tags(fp32), expected) <= MAX_CHANGED_TAGS
    examples = [spacy.training.Example.from_dict(nlp.make_doc(SAMPLE[0]), {})]
    with pytest.raises(ValueError, match="predicts only"):
        nlp.update(examples, sgd=Adam(0.001))


def test_bad_settings_stop_with_one_message(trained, tmp_path, monkeypatch):
    with pytest.raises(UserError, match="one of fp32, bf16, int8, auto; got 'int4'"):
        load_pipeline(str(trained), cpu_inference="int4")
    with pytest.raises(UserError, match="--cpu-inference int8 is for CPU inference, and --gpu-id 0"):
        load_pipeline(str(trained), gpu_id=0, cpu_inference="int8")
    rules = spacy.blank("da")
    rules.add_pipe("entity_ruler").add_patterns([{"label": "LOC", "pattern": "Aarhus"}])
    rules.to_disk(tmp_path / "rules")
    with pytest.raises(UserError, match="has no transformer component"):
        load_pipeline(str(tmp_path / "rules"), cpu_inference="int8")
    with pytest.raises(UserError, match="one of fp32, bf16, int8, auto"):
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


def test_a_stored_graph_of_other_weights_is_rebuilt_with_a_warning(trained, tmp_path, monkeypatch):
    monkeypatch.setenv("SPACY_BERT_NER_CACHE", str(tmp_path / "cache"))
    load_pipeline(str(trained), cpu_inference="int8").to_disk(tmp_path / "copy")
    model = tmp_path / "copy" / "transformer" / "model"
    data = srsly.msgpack_loads(model.read_bytes())
    (node,) = [i for i, shims in enumerate(data["shims"]) if shims]  # thinc: each node's shims' bytes
    shim_msg = srsly.msgpack_loads(data["shims"][node][0])
    shim_msg[int8_module.STORED]["weights"] = "0" * 32  # as if the weights changed after it was made
    data["shims"][node] = [srsly.msgpack_dumps(shim_msg)]
    model.write_bytes(srsly.msgpack_dumps(data))
    with pytest.warns(UserWarning, match="not made from its weights.*rebuilt"):
        again = spacy.load(tmp_path / "copy")
    assert shim(again).int8 is not None  # from the cache the first load filled, by the weights' own hash


def test_package_int8_stores_the_graph_in_the_wheel(trained, tmp_path, monkeypatch):
    import subprocess
    import zipfile

    monkeypatch.setenv("SPACY_BERT_NER_CACHE", str(tmp_path / "cache"))
    fp32_wheel = package(trained, tmp_path / "fp32", "plain_ner", "0.1.0")
    wheel = package(trained, tmp_path / "int8", "fast_ner", "0.1.0", cpu_inference="int8")
    sizes = [sum(i.file_size for i in zipfile.ZipFile(w).infolist()) for w in (fp32_wheel, wheel)]
    graph = next((tmp_path / "cache" / "int8").glob("*.onnx")).stat().st_size
    assert 0 < sizes[1] - sizes[0] < graph * 1.01 + 10_000  # the graph, and nothing else of size
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), str(wheel)],
                   check=True)
    site.chmod(0o555)  # a read-only install, and an empty, read-only cache
    (tmp_path / "ro-cache").mkdir(mode=0o555)
    code = ("import sys, warnings; sys.path.insert(0, sys.argv[1]); warnings.simplefilter('error'); import spacy; "
            "nlp = spacy.load('da_fast_ner'); shim = nlp.get_pipe('transformer').model.layers[0].shims[0]; "
            "assert shim.int8 is not None; print([e.text for e in nlp(sys.argv[2]).ents])")
    env = {**os.environ, "SPACY_BERT_NER_CACHE": str(tmp_path / "ro-cache")}
    result = subprocess.run([sys.executable, "-c", code, str(site), SAMPLE[0]], capture_output=True, text=True, env=env)
    site.chmod(0o755)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Building the int8" not in result.stderr


def test_auto_picks_the_arithmetic_the_measurements_favour(trained, monkeypatch, caplog):
    from spacy_bert_ner.components import cpu_features

    vnni = frozenset({"avx2", "avx512f", "avx512_vnni", "avx512_bf16"})
    assert cpu_features.choose(vnni, True, "x86_64")[0] == "int8"
    assert cpu_features.choose(frozenset({"avx2", "avx512f"}), True, "x86_64")[0] == "int8"
    amx = frozenset({"avx2", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8", "amx_tile"})
    assert cpu_features.choose(amx, True, "x86_64")[0] == "bf16"
    setting, why = cpu_features.choose(vnni, False, "x86_64")
    assert setting == "bf16" and "spacy-bert-ner[int8]" in why
    assert cpu_features.choose(frozenset({"avx2"}), False, "x86_64")[0] == "fp32"
    assert cpu_features.choose(frozenset({"asimd"}), True, "aarch64")[0] == "fp32"
    import spacy_bert_ner.components.encoder as encoder_module

    monkeypatch.setattr(encoder_module, "auto_cpu_inference", lambda: ("bf16", "a test says so"))
    with caplog.at_level("INFO", logger="spacy_bert_ner"):
        nlp = load_pipeline(str(trained), cpu_inference="auto")
    assert shim(nlp).cpu_inference == "bf16" and shim(nlp).int8 is None
    assert nlp.config["components"]["transformer"]["model"]["cpu_inference"] == "auto"
    assert 'cpu_inference = "auto": bf16, as a test says so.' in caplog.text
