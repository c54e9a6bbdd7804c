"""A packaged model needs only the run time: spacy.load works without the workbench's libraries,
and the workbench, where one is missing, says which extra installs it."""
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from installed import closure
from spacy_bert_ner import __version__
from spacy_bert_ner.extras import MissingExtra, require

ROOT = Path(__file__).resolve().parent.parent
TEXT = "Mette Frederiksen besøgte Novo Nordisk i Kalundborg."
# What the train extra brings that the run time must not need (typer comes with spaCy itself).
WORKBENCH_ONLY = {"matplotlib", "build"}
RUNTIME_MODULES = re.compile(r"spacy_bert_ner(\.about|\.cache|\.components(\.\w+)?)?$")


def run_blocked(blocked, *args, cwd=None):
    """`python -c CODE ARGS` with the modules in `blocked` unimportable, as if not installed."""
    code = "import sys\n" + "".join(f"sys.modules[{name!r}] = None\n" for name in blocked) + args[0]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-c", code, *map(str, args[1:])], capture_output=True, text=True,
                          env=env, cwd=cwd or ROOT)


CLI = "import runpy; runpy.run_module('spacy_bert_ner', run_name='__main__', alter_sys=True)"


def test_require_names_the_extra_and_ignores_bare_folders(tmp_path, monkeypatch):
    with pytest.raises(MissingExtra, match=re.escape("tests need no_such_lib: pip install 'spacy-bert-ner[train]'")):
        require("no_such_lib", "tests need")
    # A folder named like the library (setuptools' build/ beside setup.cfg) is not the library.
    (tmp_path / "folder_not_a_lib").mkdir()
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(MissingExtra, match="folder_not_a_lib"):
        require("folder_not_a_lib", "tests need")


def test_components_import_nothing_of_the_workbench():
    """Every module spacy.load may import, with matplotlib and build absent: no CLI, readers,
    evaluation, plotting or training module comes along (typer cannot be blocked: spaCy imports it)."""
    code = (
        "import importlib, json, pkgutil\n"
        "import spacy_bert_ner, spacy_bert_ner.components as c\n"
        "for m in pkgutil.iter_modules(c.__path__): importlib.import_module(f'spacy_bert_ner.components.{m.name}')\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('spacy_bert_ner'))))\n"
    )
    result = run_blocked(WORKBENCH_ONLY, code)
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(result.stdout)
    assert "spacy_bert_ner.components.overlap" in loaded
    assert [m for m in loaded if not RUNTIME_MODULES.match(m)] == []


@pytest.mark.parametrize("blocked, args, message", [
    ("typer", ["models"], "the spacy-bert-ner command needs typer"),
    ("matplotlib", ["evaluate", "no-model", "no-data.spacy", "--output", "{out}"], "plots need matplotlib"),
    ("build", ["package", "no-model", "--output", "{out}", "--name", "x_ner"], "packaging a model needs build"),
])
def test_cli_without_the_train_extra_says_what_to_install(tmp_path, blocked, args, message):
    out = tmp_path / "out"
    result = run_blocked([blocked], CLI, *(a.format(out=out) for a in args))
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr == f"Error: {message}: pip install 'spacy-bert-ner[train]'\n"
    assert not out.exists()  # stopped before any work


def repack(dist, folder: Path) -> Path:
    """A wheel of an installed distribution, rebuilt from the files its RECORD lists.

    Uncompressed (it only travels to the next pip); scripts outside site-packages and bytecode
    are left out (pip writes console scripts from entry_points.txt); RECORD is written anew."""
    tags = [line.split(": ", 1)[1].split("-") for line in dist.read_text("WHEEL").splitlines()
            if line.startswith("Tag: ")]
    tag = "-".join(".".join(sorted({t[i] for t in tags})) for i in range(3))
    name = re.sub(r"[-_.]+", "_", dist.metadata["Name"])
    wheel = folder / f"{name}-{dist.version}-{tag}.whl"
    info = next(file.parts[0] for file in dist.files if file.parts[0].endswith(".dist-info"))
    skip = {f"{info}/{name}" for name in ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json")}
    records = []
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_STORED) as zf:
        for file in dist.files:
            if file.parts[0] == ".." or "__pycache__" in file.parts or str(file) in skip:
                continue
            zf.write(dist.locate_file(file), str(file))
            records.append(f"{file},,")
        zf.writestr(f"{info}/RECORD", "\n".join(records + [f"{info}/RECORD,,"]) + "\n")
    return wheel


def wheel_requires(wheel: Path):
    with zipfile.ZipFile(wheel) as zf:
        metadata = zf.read(next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    return [Requirement(line.split(": ", 1)[1]) for line in metadata.splitlines() if line.startswith("Requires-Dist: ")]


@pytest.mark.slow
def test_model_wheel_installs_only_the_runtime_and_runs_there(tmp_path, trained):
    """Install the demo's kind of wheel (a trained pipeline with bert_ner_overlap) with its dependencies
    into a fresh `python -m venv` that sees nothing of this machine's site-packages, offline.

    The registries are not to be used, and a download of torch alone is some 200 MB, so the wheel
    folder pip installs from is built here: spacy-bert-ner's wheel from a copy of this checkout,
    and every other distribution repacked from its installed files (the versions this suite tests).
    The folder holds the run time's closure and also typer, matplotlib and build with theirs, so
    which of them lands in the venv is pip's decision from the wheels' metadata, not this test's.
    Then spacy.load + nlp(text) run in the venv, and the spacy-bert-ner command there says which
    extra to install (typer is there: spaCy requires it)."""
    from spacy_bert_ner.inference.packaging import package

    wheels = tmp_path / "wheels"
    wheels.mkdir()
    model_wheel = package(trained, tmp_path / "pk", "lean_ner", "0.1.0")

    # The model requires spacy-bert-ner with no extra, in a range of our minor version.
    ours = [r for r in wheel_requires(model_wheel) if canonicalize_name(r.name) == "spacy-bert-ner"]
    assert len(ours) == 1 and not ours[0].extras, ours
    major, minor = map(int, __version__.split(".")[:2])
    assert __version__ in ours[0].specifier and f"{major}.{minor + 1}.0" not in ours[0].specifier

    src = tmp_path / "src"
    shutil.copytree(ROOT / "spacy_bert_ner", src / "spacy_bert_ner", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--isolated", "-q", "--no-deps", "--no-build-isolation",
                    "--no-index", "-w", str(wheels), str(src)], check=True)
    runtime_requires = wheel_requires(next(wheels.glob("spacy_bert_ner-*.whl")))
    unconditional = {canonicalize_name(r.name) for r in runtime_requires if r.marker is None}
    assert unconditional == {"spacy", "spacy-transformers", "thinc", "torch"}

    roots = [str(r) for r in wheel_requires(model_wheel) + runtime_requires if r.name != "spacy-bert-ner"]
    for dist in {**closure(roots), **closure(["typer", "matplotlib", "build"])}.values():
        repack(dist, wheels)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    report = tmp_path / "report.json"
    subprocess.run([sys.executable, "-m", "pip", "--isolated", "--python", str(python), "install", "-q",
                    "--no-index", "--find-links", str(wheels), "--no-compile", "--report", str(report),
                    str(model_wheel)], check=True)
    installed = {canonicalize_name(item["metadata"]["name"]) for item in json.loads(report.read_text())["install"]}
    assert {"da-lean-ner", "spacy-bert-ner", "spacy-transformers", "torch"} <= installed
    assert installed & (WORKBENCH_ONLY | {"pyproject-hooks", "contourpy", "kiwisolver"}) == set()

    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    script = (
        "import importlib.util, json, sys, spacy\n"
        "nlp = spacy.load('da_lean_ner')\n"
        f"doc = nlp({TEXT!r})\n"
        "import spacy_bert_ner\n"
        "print(json.dumps({'pipes': nlp.pipe_names, 'ents': [[e.text, e.label_] for e in doc.ents],\n"
        "    'scores': [s for s in doc.spans['ents'].attrs['scores']],\n"
        "    'candidates': len(doc.spans['ent_candidates']), 'ours': spacy_bert_ner.__file__,\n"
        "    'modules': sorted(m for m in sys.modules if m.startswith('spacy_bert_ner')),\n"
        "    'absent': [m for m in ('matplotlib', 'build') if importlib.util.find_spec(m) is None]}))\n"
    )
    result = subprocess.run([str(python), "-c", script], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout)
    assert seen["pipes"] == ["transformer", "ner", "bert_ner_confidence", "bert_ner_overlap"]
    assert len(seen["scores"]) == len(seen["ents"]) and all(0.0 <= s <= 1.0 for s in seen["scores"])
    assert seen["candidates"] >= len(seen["ents"])
    # the same entities as the pipeline gives in this, the full, environment
    import spacy

    nlp = spacy.load(trained)
    assert seen["ents"] == [[e.text, e.label_] for e in nlp(TEXT).ents]
    assert Path(seen["ours"]).is_relative_to(venv)
    assert seen["absent"] == ["matplotlib", "build"]
    # spacy.load resolves [nlp] and [components] only: neither the training callbacks, the
    # augmenter nor the logger the saved config names is imported.
    assert [m for m in seen["modules"] if not RUNTIME_MODULES.match(m)] == []

    result = subprocess.run([str(venv / "bin" / "spacy-bert-ner"), "evaluate", "da_lean_ner", "test.spacy",
                             "--output", "metrics"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert (result.returncode, result.stderr) == (1, "Error: plots need matplotlib: pip install 'spacy-bert-ner[train]'\n")
