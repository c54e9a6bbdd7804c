"""The encoder's CPU arithmetic (components/encoder.py): fp32, bf16 autocast, int8 weights at load time."""
import json
import subprocess
import sys

import pytest
import spacy
import torch
from thinc.api import Adam

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
# the F1 of a trained encoder, which BENCHMARKS.md gives (UNER Danish: within 0.005 of fp32).
MAX_CHANGED_TAGS = 0.05


def shim(nlp) -> CPUInferenceShim:
    return nlp.get_pipe("transformer").model.layers[0].shims[0]


def tags(nlp):
    return [(t.ent_iob_, t.ent_type_) for doc in nlp.pipe(SAMPLE) for t in doc]


def changed(a, b) -> float:
    assert len(a) == len(b)
    return sum(x != y for x, y in zip(a, b)) / len(a)


def test_int8_quantizes_all_but_the_down_projections_and_keeps_the_entities(trained):
    fp32 = load_pipeline(str(trained))
    int8 = load_pipeline(str(trained), cpu_inference="int8")
    assert int8.config["components"]["transformer"]["model"]["cpu_inference"] == "int8"
    quantized = {name: module for name, module in shim(int8)._model.named_modules()
                 if isinstance(module, torch.ao.nn.quantized.dynamic.Linear)}
    plain = {name: module for name, module in shim(int8)._model.named_modules() if type(module) is torch.nn.Linear}
    assert quantized and plain
    assert all(m.in_features <= m.out_features for m in quantized.values())
    assert all(m.in_features > m.out_features for m in plain.values())  # the feed-forward down-projections
    assert not any(isinstance(m, torch.ao.nn.quantized.dynamic.Linear) for m in shim(fp32)._model.modules())
    assert changed(tags(fp32), tags(int8)) <= MAX_CHANGED_TAGS
    scores = [s for doc in int8.pipe(SAMPLE) for s in doc.spans["ents"].attrs["scores"]]
    assert all(0.0 <= s <= 1.0 for s in scores)


def test_bf16_predicts_in_bfloat16_and_keeps_the_entities(trained):
    bf16 = load_pipeline(str(trained), cpu_inference="bf16")
    seen = set()
    for module in shim(bf16)._model.modules():
        if isinstance(module, torch.nn.Linear):
            module.register_forward_hook(lambda module, inputs, output: seen.add(output.dtype))
    got = tags(bf16)
    assert seen == {torch.bfloat16}
    assert changed(tags(load_pipeline(str(trained))), got) <= MAX_CHANGED_TAGS


def test_an_int8_pipeline_predicts_only(trained, tmp_path):
    nlp = load_pipeline(str(trained), cpu_inference="int8")
    with pytest.raises(ValueError, match="float32 weights are not in memory"):
        nlp.to_disk(tmp_path / "copy")
    examples = [spacy.training.Example.from_dict(nlp.make_doc(SAMPLE[0]), {})]
    with pytest.raises(ValueError, match="predict only"):
        nlp.update(examples, sgd=Adam(0.001))


def test_bad_settings_stop_with_one_message(trained, tmp_path):
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


def test_int8_wheel_loads_offline_with_int8_weights(tmp_path, trained):
    """The packaged setting: the wheel's config says int8, its weights are float32 (same size),
    and spacy.load gives int8 Linear layers with entities close to the fp32 pipeline's."""
    wheel = package(trained, tmp_path / "pk", "int8_ner", "0.1.0", cpu_inference="int8")
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
                   check=True)
    script = (
        "import json, sys, spacy, torch\n"
        f"sys.path.insert(0, {str(site)!r})\n"
        "nlp = spacy.load('da_int8_ner')\n"
        "model = nlp.get_pipe('transformer').model.layers[0].shims[0]._model\n"
        "kinds = sorted({type(m).__module__ + '.' + type(m).__name__ for m in model.modules() if type(m).__name__ == 'Linear'})\n"
        f"docs = list(nlp.pipe({SAMPLE!r}))\n"
        "print(json.dumps({'setting': nlp.config['components']['transformer']['model']['cpu_inference'], 'kinds': kinds,\n"
        "                  'tags': [[t.ent_iob_, t.ent_type_] for d in docs for t in d]}))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env={"HF_HUB_OFFLINE": "1", "PATH": ""})
    assert result.returncode == 0, result.stderr[-3000:]
    got = json.loads(result.stdout.splitlines()[-1])
    assert got["setting"] == "int8"
    assert got["kinds"] == ["torch.ao.nn.quantized.dynamic.modules.linear.Linear", "torch.nn.modules.linear.Linear"]
    assert changed([tuple(t) for t in got["tags"]], tags(load_pipeline(str(trained)))) <= MAX_CHANGED_TAGS
    weights = (trained / "transformer" / "model").stat().st_size
    packaged = next(site.glob("da_int8_ner/da_int8_ner-0.1.0/transformer/model")).stat().st_size
    assert packaged == weights
