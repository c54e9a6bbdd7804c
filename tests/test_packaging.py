"""The wheel's meta says what the model is, how good it is, and where it came from."""
import json
import subprocess
import sys
import zipfile

import pytest
import srsly

from spacy_bert_ner.errors import UserError
from spacy_bert_ner.inference.packaging import encoder_info, package

pytestmark = pytest.mark.slow


def wheel_meta(wheel, name):
    with zipfile.ZipFile(wheel) as zf:
        path = next(n for n in zf.namelist() if n.endswith(f"{name}-0.2.0/meta.json"))
        readme = next(n for n in zf.namelist() if n.endswith(f"{name}-0.2.0/README.md"))
        requires = zf.read(next(n for n in zf.namelist() if n.endswith("METADATA"))).decode()
        return json.loads(zf.read(path)), zf.read(readme).decode(), requires


def test_meta_carries_metrics_corpus_encoder_and_settings(tmp_path, trained, demo_corpus):
    """The metrics.json that `evaluate` writes reaches the wheel's meta: the raw-text score as the
    headline, token accuracy included, the gold-token score beside it."""
    from spacy_bert_ner.evaluation.runner import evaluate

    metrics = evaluate(str(trained), demo_corpus / "test.spacy", tmp_path / "metrics", n_bootstrap=20)
    wheel = package(trained, tmp_path / "pk", "meta_ner", "0.2.0", tmp_path / "metrics" / "metrics.json",
                    corpus="UNER Danish", corpus_license="CC BY-SA 4.0", corpus_url="https://example.org/uner")
    meta, readme, requires = wheel_meta(wheel, "da_meta_ner")
    perf = meta["performance"]
    assert metrics["tokenization"] == perf["tokenization"] == "raw_text"
    # spacy package writes meta.json through srsly, which keeps 10 digits
    assert (perf["ents_f"], perf["token_acc"]) == pytest.approx((metrics["ents_f"], metrics["ents_token_acc"]))
    assert set(perf["ents_per_type"]) == set(metrics["ents_per_type"])
    assert perf["gold_tokens"]["ents_f"] == pytest.approx(metrics["gold_tokens"]["ents_f"])
    assert perf["gold_tokens"]["token_acc"] == pytest.approx(metrics["gold_tokens"]["ents_token_acc"])
    assert meta["sources"] == [{"name": "UNER Danish", "license": "CC BY-SA 4.0", "url": "https://example.org/uner"}]
    assert meta["encoder"]["transformer"]["name"].endswith("tiny")
    assert meta["training"]["max_steps"] == 150
    assert meta["training"]["learn_rate"]["initial_rate"] == pytest.approx(1e-3)
    assert meta["pipeline"] == ["transformer", "ner", "bert_ner_confidence", "bert_ner_overlap"]
    assert 'spacy.load("da_meta_ner")' in readme
    assert "spacy-bert-ner" in requires and "spacy-transformers" in requires


def test_packaging_options_load_from_the_wheel(tmp_path, trained):
    """The trained config's overlap component, an appended cleanup component and int8 CPU inference,
    from the installed wheel offline: the wheel's config.cfg is the trained one plus what packaging
    set, it requires what int8 runs on and carries the same float32 weights as the pipeline."""
    from spacy import util

    wheel = package(trained, tmp_path / "pk", "overlap_ner", "0.2.0", add_pipes=["bert_ner_cleanup"],
                    cpu_inference="int8")
    requires = wheel_meta(wheel, "da_overlap_ner")[2]
    with zipfile.ZipFile(wheel) as zf:
        config_path = next(n for n in zf.namelist() if n.endswith("da_overlap_ner-0.2.0/config.cfg"))
        shipped = util.load_config_from_str(zf.read(config_path).decode(), interpolate=False)
    trained_config = util.load_config(trained / "config.cfg", interpolate=False)
    assert shipped["components"]["bert_ner_overlap"] == trained_config["components"]["bert_ner_overlap"]
    assert shipped["components"]["bert_ner_overlap"]["policy"] == {"@misc": "spacy_bert_ner.longest_span.v1"}
    assert shipped["nlp"]["pipeline"] == trained_config["nlp"]["pipeline"] + ["bert_ner_cleanup"]
    assert "Requires-Dist: onnxruntime>=1.17" in requires and "Requires-Dist: onnx>=1.15" in requires
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
                   check=True)
    script = (
        "import sys, spacy\n"
        f"sys.path.insert(0, {str(site)!r})\n"
        "nlp = spacy.load('da_overlap_ner')\n"
        "doc = nlp('Mette Frederiksen besøgte Novo Nordisk i Kalundborg.')\n"
        "print(nlp.pipe_names)\n"
        "print(len(doc.spans['ent_candidates']) >= len(doc.ents))\n"
        "print(nlp.config['components']['transformer']['model']['cpu_inference'],\n"
        "      nlp.get_pipe('transformer').model.layers[0].shims[0].int8 is not None)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env={"HF_HUB_OFFLINE": "1", "PATH": "", "SPACY_BERT_NER_CACHE": str(tmp_path / "cache")})
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split("\n")[:3] == ["['transformer', 'ner', 'bert_ner_confidence', 'bert_ner_overlap', 'bert_ner_cleanup']",
                                              "True", "int8 True"]
    packaged = next(site.glob("da_overlap_ner/da_overlap_ner-0.2.0/transformer/model"))
    # the same float32 weights and the int8 graph beside them (--add-pipe saves the pipeline again,
    # a few bytes of header differ)
    from spacy_bert_ner.components.int8 import read_stored

    (shim,) = [shims[0] for shims in srsly.msgpack_loads(packaged.read_bytes())["shims"] if shims]
    graph = read_stored(shim)[1]["graph"]
    assert packaged.stat().st_size == pytest.approx((trained / "transformer" / "model").stat().st_size + len(graph),
                                                    rel=0.001)


def test_a_name_with_or_without_the_language_prefix_gives_one_package(tmp_path, trained):
    """spaCy names its pipelines <lang>_<name> (da_core_news_trf): `--name da_news_ner` gives the
    package da_news_ner, as `--name news_ner` does. spaCy's `package` named the folder da_news_ner
    but its setup.py looked for da_da_news_ner, so the name with the prefix used to end in
    NotADirectoryError and no wheel."""
    for name in ("news_ner", "da_news_ner"):
        wheel = package(trained, tmp_path / name, name, "0.2.0")
        assert wheel.name == "da_news_ner-0.2.0-py3-none-any.whl"
        meta, readme, _ = wheel_meta(wheel, "da_news_ner")
        assert meta["name"] == "news_ner" and 'spacy.load("da_news_ner")' in readme
        with zipfile.ZipFile(wheel) as zf:
            assert "da_news_ner/__init__.py" in zf.namelist()
    with pytest.raises(UserError, match="twice"):
        package(trained, tmp_path / "twice", "da_da_news_ner", "0.2.0")
    with pytest.raises(UserError, match="give its name"):
        package(trained, tmp_path / "licence", "news_ner", "0.2.0", corpus_license="MIT")


def test_unknown_pipe_and_missing_metrics_are_user_errors(tmp_path, trained):
    with pytest.raises(UserError, match="no_such_factory"):
        package(trained, tmp_path / "pk", "x_ner", "0.2.0", add_pipes=["no_such_factory"])
    with pytest.raises(UserError, match="evaluate"):
        package(trained, tmp_path / "pk", "x_ner", "0.2.0", tmp_path / "missing-metrics.json")


def test_encoder_info_reports_original_name_and_trimming(tmp_path, monkeypatch):
    prepared = tmp_path / "encoder"
    prepared.mkdir()
    (prepared / "trim_info.json").write_text(json.dumps(
        {"original_encoder": "intfloat/multilingual-e5-small", "trimmed": True, "original_pieces": 250002,
         "kept_pieces": 13000, "texts": {"train.iob2": 10}}))
    expected = {
        "name": "intfloat/multilingual-e5-small", "trimmed": True,
        "vocab": {"original_pieces": 250002, "kept_pieces": 13000, "texts": ["train.iob2"]},
    }
    model_dir = tmp_path / "bert_ner" / "model-best"
    assert encoder_info(str(prepared), model_dir) == expected
    assert encoder_info("xlm-roberta-base", model_dir) == {"name": "xlm-roberta-base"}
    # A config names the encoder relative to where training ran; packaging may run elsewhere.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert encoder_info("encoder", model_dir) == expected
