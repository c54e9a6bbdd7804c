"""The encoder's CPU arithmetic (components/encoder.py, int8.py): fp32, bf16 autocast, int8 in ONNX Runtime."""
import json
import subprocess
import sys
import zipfile

import pytest
import spacy
import torch
from thinc.api import Adam

import spacy_bert_ner.components.int8 as int8_module
from spacy_bert_ner.components.encoder import CPUInferenceShim
from spacy_bert_ner.errors import UserError
from spacy_bert_ner.loading import load_pipeline
from spacy_bert_ner.packaging import package

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


def hidden(nlp):
    return [doc._.trf_data.model_output.last_hidden_state for doc in
            (nlp.get_pipe("transformer")(nlp.make_doc(text)) for text in SAMPLE)]


def test_int8_runs_an_int8_graph_close_to_float32(trained, tmp_path, monkeypatch):
    monkeypatch.setenv("SPACY_BERT_NER_CACHE", str(tmp_path / "cache"))
    fp32 = load_pipeline(str(trained))
    int8 = load_pipeline(str(trained), cpu_inference="int8")
    assert int8.config["components"]["transformer"]["model"]["cpu_inference"] == "int8"
    assert shim(int8).int8 is not None and shim(fp32).int8 is None
    for mine, theirs in zip(hidden(int8), hidden(fp32)):
        assert mine.shape == theirs.shape
        cosine = torch.nn.functional.cosine_similarity(torch.tensor(mine), torch.tensor(theirs), dim=-1)
        assert 0.9 < float(cosine.mean()) < 0.99999  # close, and not float32 itself
    assert changed(tags(fp32), tags(int8)) <= MAX_CHANGED_TAGS
    scores = [s for doc in int8.pipe(SAMPLE) for s in doc.spans["ents"].attrs["scores"]]
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert len(list((tmp_path / "cache" / "int8").glob("*.onnx"))) == 1


def test_int8_graph_is_cached_and_built_where_the_cache_cannot_be_written(trained, tmp_path, monkeypatch):
    monkeypatch.setenv("SPACY_BERT_NER_CACHE", str(tmp_path / "cache"))
    expected = tags(load_pipeline(str(trained), cpu_inference="int8"))

    def no_build(*args):
        raise AssertionError("built again although cached")

    with monkeypatch.context() as m:
        m.setattr(int8_module, "build_int8_onnx", no_build)
        assert tags(load_pipeline(str(trained), cpu_inference="int8")) == expected
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


def test_int8_wheel_requires_onnxruntime_and_loads_offline(tmp_path, trained):
    """The packaged setting: the wheel's config says int8, it requires what int8 runs on, its
    weights are float32 (the same size), and spacy.load predicts with the int8 graph."""
    wheel = package(trained, tmp_path / "pk", "int8_ner", "0.1.0", cpu_inference="int8")
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read("da_int8_ner-0.1.0.dist-info/METADATA").decode()
    assert "Requires-Dist: onnxruntime>=1.17" in metadata and "Requires-Dist: onnx>=1.15" in metadata
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
                   check=True)
    script = (
        "import json, sys, spacy\n"
        f"sys.path.insert(0, {str(site)!r})\n"
        "nlp = spacy.load('da_int8_ner')\n"
        f"docs = list(nlp.pipe({SAMPLE!r}))\n"
        "print(json.dumps({'setting': nlp.config['components']['transformer']['model']['cpu_inference'],\n"
        "                  'int8': nlp.get_pipe('transformer').model.layers[0].shims[0].int8 is not None,\n"
        "                  'tags': [[t.ent_iob_, t.ent_type_] for d in docs for t in d]}))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env={"HF_HUB_OFFLINE": "1", "PATH": "", "SPACY_BERT_NER_CACHE": str(tmp_path / "cache")})
    assert result.returncode == 0, result.stderr[-3000:]
    got = json.loads(result.stdout.splitlines()[-1])
    assert got["setting"] == "int8" and got["int8"]
    assert changed([tuple(t) for t in got["tags"]], tags(load_pipeline(str(trained)))) <= MAX_CHANGED_TAGS
    weights = (trained / "transformer" / "model").stat().st_size
    packaged = next(site.glob("da_int8_ner/da_int8_ner-0.1.0/transformer/model")).stat().st_size
    assert packaged == weights
