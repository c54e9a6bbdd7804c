"""Turn a trained pipeline into an installable wheel whose meta says what it is and how good it is."""
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from wasabi import msg

from ..errors import UserError
from ..extras import require
from ..jsonfiles import write_json
from ..package_meta import check_sources, check_version, meta_name

USAGE = """### Usage

```python
import spacy

nlp = spacy.load("{package}")
doc = nlp("...")
print([(ent.text, ent.label_, ent.start_char, ent.end_char) for ent in doc.ents])
```

Batch prediction over a file: `spacy-bert-ner predict {package} input.jsonl output.jsonl`.
The transformer weights are inside the package: no download is needed at load time."""


def training_settings(config) -> Dict[str, Any]:
    """The settings a reader of the meta needs to reproduce or judge the training."""
    training = config.get("training", {})
    optimizer = training.get("optimizer", {})
    learn_rate = optimizer.get("learn_rate", {})
    settings = {
        "max_steps": training.get("max_steps"),
        "max_epochs": training.get("max_epochs"),
        "dropout": training.get("dropout"),
        "accumulate_gradient": training.get("accumulate_gradient"),
        "patience": training.get("patience"),
        "seed": training.get("seed"),
        "optimizer": optimizer.get("@optimizers"),
        "learn_rate": learn_rate if isinstance(learn_rate, dict) else {"initial_rate": learn_rate},
        "grad_clip": optimizer.get("grad_clip"),
        "batcher": {k: v for k, v in training.get("batcher", {}).items() if k in ("@batchers", "size")},
    }
    return {k: v for k, v in settings.items() if v is not None}


def encoder_info(name: str, model_dir: Path) -> Dict[str, Any]:
    """The encoder a pipeline was trained from, seen through `prepare-encoder`'s trim_info.json.

    The config names the prepared local directory; the reader of the meta wants the original
    encoder and whether its vocabulary was trimmed. A relative name is relative to where training
    ran: the current directory, or one of the model directory's parents (training/encoder for
    training/bert_ner/model-best).
    """
    candidates = [Path(name)] if Path(name).is_absolute() else [
        Path.cwd() / name, *(parent / name for parent in Path(model_dir).resolve().parents)]
    info_path = next((c / "trim_info.json" for c in candidates if (c / "trim_info.json").is_file()), None)
    if info_path is None:
        return {"name": name}
    info = json.loads(info_path.read_text(encoding="utf8"))
    summary = {"name": info.get("original_encoder", name), "trimmed": bool(info.get("trimmed"))}
    if summary["trimmed"]:
        summary["vocab"] = {"original_pieces": info.get("original_pieces"), "kept_pieces": info.get("kept_pieces"),
                            "texts": list(info.get("texts", {}))}
    return summary


def performance(metrics: Dict[str, Any]) -> Dict[str, Any]:
    """spaCy's meta `performance` block from an evaluate metrics.json: the headline score (raw
    text, what production gets, where the corpus has it) with spaCy's key names, and the
    gold-token score beside it."""
    def block(scores: Dict[str, Any]) -> Dict[str, Any]:
        out = {k: scores[k] for k in ("ents_p", "ents_r", "ents_f", "ents_per_type") if k in scores}
        if "ents_token_acc" in scores:
            out["token_acc"] = scores["ents_token_acc"]
        return out

    perf = block(metrics)
    if "tokenization" in metrics:
        perf["tokenization"] = metrics["tokenization"]
    if "gold_tokens" in metrics:
        perf["gold_tokens"] = block(metrics["gold_tokens"])
    return perf


def build_meta(model_dir: Path, name: str, version: str, metrics_path: Optional[Path],
               corpus: Optional[str], corpus_license: Optional[str], corpus_url: Optional[str]) -> Dict[str, Any]:
    from spacy import util

    meta = util.load_meta(model_dir / "meta.json")
    config = util.load_config(model_dir / "config.cfg", interpolate=False)
    meta["name"], meta["version"] = name, version
    meta["encoder"] = {
        comp: encoder_info(str(comp_cfg["model"]["name"]), model_dir)
        for comp, comp_cfg in config["components"].items()
        if isinstance(comp_cfg.get("model"), dict) and "name" in comp_cfg["model"]
    }
    meta["training"] = training_settings(config)
    meta.setdefault("description", "Named entity recognition built with spacy-bert-ner.")
    if metrics_path is not None:
        if not metrics_path.exists():
            raise UserError(f"Metrics file {metrics_path} does not exist: run `spacy-bert-ner evaluate` first.")
        meta["performance"] = performance(json.loads(metrics_path.read_text(encoding="utf8")))
    if corpus:
        source = {"name": corpus}
        if corpus_license:
            source["license"] = corpus_license
        if corpus_url:
            source["url"] = corpus_url
        meta["sources"] = [source]
    meta["notes"] = USAGE.format(package=f"{meta['lang']}_{name}")
    return meta


def spacy_load_names(model_dir: Path) -> List[str]:
    from spacy import util

    return list(util.load_config(model_dir / "config.cfg", interpolate=False)["nlp"]["pipeline"])


def with_pipes(model_dir: Path, factories: Sequence[str], out: Path) -> Path:
    """A copy of the pipeline with components its training config did not declare appended
    (default settings), for a pipeline trained without them. The configs declare
    `bert_ner_overlap` themselves, so what was evaluated is what ships; the model's requirements
    include spacy-bert-ner, whose entry points provide our components."""
    import spacy

    nlp = spacy.load(model_dir)
    for factory in factories:
        if factory not in spacy.registry.factories:
            raise UserError(f"Unknown component factory {factory!r} for --add-pipe; "
                            "ours are bert_ner_overlap and bert_ner_cleanup.")
        if factory not in nlp.pipe_names:
            nlp.add_pipe(factory)
    nlp.to_disk(out)
    return out


def extra_requirements(extra: str) -> List[str]:
    """The requirements of one of our extras, as setup.cfg declares them (the one place)."""
    from importlib.metadata import requires

    marker = f'extra == "{extra}"'
    return [r.split(";")[0].strip() for r in requires("spacy-bert-ner") or [] if marker in r]


def with_overrides(model_dir: Path, overrides: Dict[str, Any], out: Path) -> Path:
    """The pipeline at `out` (a copy unless it is already there) with `overrides` in its config."""
    from spacy import util

    if model_dir != out:
        shutil.copytree(model_dir, out)
    util.load_config(model_dir / "config.cfg", overrides=overrides, interpolate=False).to_disk(out / "config.cfg")
    return out


def with_int8_graph(pipeline: Path) -> int:
    """Store the int8 encoder graph in the transformer data of the pipeline copy at `pipeline`,
    beside the float32 weights, so the wheel loads it as it is (components/int8.py); the bytes
    it adds. Loading the copy set to int8 builds the graph, which the transformer then saves."""
    import spacy

    from .loading import cpu_inference_overrides

    config = spacy.util.load_config(pipeline / "config.cfg", interpolate=False)
    overrides = cpu_inference_overrides(config, "int8", str(pipeline))
    names = [key.split(".")[1] for key in overrides if key.endswith(".cpu_inference")]
    nlp = spacy.load(pipeline, config=overrides)
    before = sum((pipeline / name / "model").stat().st_size for name in names)
    for name in names:
        nlp.get_pipe(name).to_disk(pipeline / name, exclude=["vocab"])  # the pipeline keeps its own
    return sum((pipeline / name / "model").stat().st_size for name in names) - before


def package(model_dir: Path, output_dir: Path, name: str, version: str, metrics_path: Optional[Path] = None,
            corpus: Optional[str] = None, corpus_license: Optional[str] = None,
            corpus_url: Optional[str] = None, add_pipes: Sequence[str] = (),
            cpu_inference: Optional[str] = None) -> Path:
    """Build a wheel under output_dir and return its path. name: with or without the pipeline's
    `<lang>_` (package_meta.meta_name), the package is `<lang>_<name>` either way. cpu_inference:
    the encoder's arithmetic when the wheel predicts on a CPU (components/encoder.py); None keeps
    the pipeline's."""
    from spacy import util
    from spacy.cli.package import package as spacy_package

    model_dir, output_dir = Path(model_dir), Path(output_dir)
    # spacy package builds the wheel with `python -m build`
    require("build", "packaging a model needs")
    if not (model_dir / "config.cfg").exists():
        raise UserError(f"{model_dir} is not a trained pipeline directory (no config.cfg): train first.")
    name = meta_name(name, util.load_config(model_dir / "config.cfg", interpolate=False)["nlp"]["lang"])
    check_version(version)
    check_sources(corpus, corpus_license, corpus_url)
    if not (model_dir / "meta.json").exists():
        raise UserError(f"{model_dir} has no meta.json, which spaCy saves beside config.cfg: package the "
                        "model-best or model-last folder that training wrote.")
    overrides = {}
    if cpu_inference is not None:  # a bad setting stops before anything is built
        from .loading import cpu_inference_overrides

        config = util.load_config(model_dir / "config.cfg", interpolate=False)
        overrides = cpu_inference_overrides(config, cpu_inference, str(model_dir))
    meta = build_meta(model_dir, name, version, metrics_path, corpus, corpus_license, corpus_url)
    if cpu_inference in ("int8", "auto"):  # the wheel then installs what its encoder may run on
        from ..components.int8 import require_onnxruntime

        try:  # packaging builds the int8 graph
            require_onnxruntime("--cpu-inference")
        except ValueError as err:
            raise UserError(str(err)) from None
        meta.setdefault("requirements", []).extend(extra_requirements("int8"))
    output_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        if add_pipes:
            model_dir = with_pipes(model_dir, add_pipes, Path(tmp) / "pipeline")
            meta["pipeline"] = meta["components"] = list(spacy_load_names(model_dir))
        if overrides:
            model_dir = with_overrides(model_dir, overrides, Path(tmp) / "pipeline")
        if cpu_inference in ("int8", "auto"):
            added = with_int8_graph(model_dir)
            msg.info(f"Stored the int8 encoder graph beside the float32 weights: the model data grows by "
                     f"{added / 1e6:.1f} MB (less, compressed in the wheel), and loading builds nothing.")
        meta_path = Path(tmp) / "meta.json"
        write_json(meta_path, meta)
        spacy_package(model_dir, output_dir, meta_path=meta_path, name=name, version=version,
                      create_sdist=False, create_wheel=True, force=True, silent=False)
    full_name = f"{meta['lang']}_{name}"
    wheels = sorted((output_dir / f"{full_name}-{version}" / "dist").glob("*.whl"))
    if not wheels:
        raise UserError(f"spacy package built no wheel under {output_dir}; see its output above.")
    # A stable location that project.yml and users can find without knowing spaCy's layout.
    target = output_dir / wheels[-1].name
    shutil.copy(wheels[-1], target)
    return target
