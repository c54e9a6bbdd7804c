"""The preflight (training/preflight.py): what every step of the `all` workflow needs, checked before
any training, one line per problem naming the var; and the package names and versions it shares
with `package` (package_meta.py)."""
import copy
import os
import re
import shutil
import subprocess
import sys
from collections import namedtuple
from pathlib import Path

import pytest
import srsly

from spacy_bert_ner.errors import UserError
from spacy_bert_ner.package_meta import check_sources, check_version, meta_name, package_name
from spacy_bert_ner.training import preflight as preflight_module
from spacy_bert_ner.training.preflight import preflight

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "assets" / "demo"


def demo_args(encoder: Path) -> list:
    """The vars that point `all` at the shipped demo corpus and the tiny encoder, as typed."""
    return ["--vars.corpus_dir", str(DEMO), "--vars.train_file", "train.iob2", "--vars.dev_file", "dev.iob2",
            "--vars.test_file", "test.iob2", "--vars.transformer", str(encoder)]


def check(project: Path, encoder: Path, *args: str):
    """The preflight of `project` with the demo vars and `args`, parsed as the command line parses them."""
    from weasel.util import parse_config_overrides

    return preflight(project, parse_config_overrides([*demo_args(encoder), *args]))


@pytest.fixture
def project(tmp_path) -> Path:
    """The project's workflow file and configs, in a folder of its own."""
    root = tmp_path / "project"
    root.mkdir()
    shutil.copy(ROOT / "project.yml", root)
    shutil.copytree(ROOT / "configs", root / "configs")
    return root


def listing(root: Path) -> list:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def lines_naming(problems, setting):
    return [line for line in problems if setting in line]


def test_the_demo_vars_pass_and_nothing_is_written(project, tiny_transformer):
    before = listing(project)
    report = check(project, tiny_transformer, "--vars.sweep_lr", "0.1")
    assert report.problems == []
    assert report.notes == ["vars: sweep_lr is given but no step of `all` reads it"]
    assert "train: train.iob2 converts: 40 documents, 400 sentences, 618 entities" in report.passed
    assert any(line.startswith("train: ner_trf.cfg loads; one epoch is") for line in report.passed)
    assert "package: da_bert_ner, the name pip and spacy.load will use" in report.passed
    assert listing(project) == before


def test_each_problem_is_one_line_naming_its_var(project, tiny_transformer):
    problems = check(project, tiny_transformer, "--vars.max_step", "10", "--vars.max_steps", "abc",
                     "--vars.package_name", "da_da_ner", "--vars.package_version", "1.0 beta", "--vars.corpus_url",
                     "github.com/x", "--vars.trim_vocab", "yes", "--vars.cpu_inference", "int4").problems
    for setting in ("--vars.max_step:", "--vars.max_steps", "--vars.package_name", "--vars.package_version",
                    "--vars.corpus_url", "--vars.trim_vocab", "--vars.cpu_inference"):
        assert len(lines_naming(problems, setting)) == 1, (setting, problems)
    assert len(problems) == 7 and all("\n" not in line for line in problems)
    assert "did you mean max_steps?" in lines_naming(problems, "--vars.max_step:")[0]
    assert "training.max_steps takes a whole number" in lines_naming(problems, "--vars.max_steps")[0]


def test_the_settings_later_steps_read_are_checked_ahead(project, tiny_transformer):
    """Each of these would stop or spoil a step after training: model-best never past step 0,
    calibrate without a scoring component, evaluate asked for int8 on a GPU, a missing test file."""
    from thinc.util import gpu_is_available

    problems = check(project, tiny_transformer, "--vars.max_steps", "100", "--vars.eval_frequency", "500",
                     "--vars.disabled", '["bert_ner_confidence"]', "--vars.gpu_id", "0", "--vars.cpu_inference", "int8",
                     "--vars.test_file", "missing.iob2").problems
    assert "model-best would be the untrained model" in lines_naming(problems, "--vars.eval_frequency")[0]
    assert "`calibrate` fits" in lines_naming(problems, "--vars.disabled")[0]
    assert "`evaluate` scores on the GPU" in lines_naming(problems, "--vars.cpu_inference")[0]
    assert "missing.iob2 does not exist" in lines_naming(problems, "--vars.test_file")[0]
    assert len(problems) == 4 + (not gpu_is_available())


def test_a_dev_file_without_raw_text_is_named_for_calibrate(tmp_path, project, tiny_transformer):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for split in ("train", "dev", "test"):  # tokens without `# text` or SpaceAfter: spacing unknown
        (corpus / f"{split}.conll").write_text("Maria\tB-PER\nbor\tO\ni\tO\nAarhus\tB-LOC\n.\tO\n\n", encoding="utf8")
    problems = check(project, tiny_transformer, "--vars.corpus_dir", str(corpus), "--vars.train_file", "train.conll",
                     "--vars.dev_file", "dev.conll", "--vars.test_file", "test.conll").problems
    assert len(problems) == 1 and "`calibrate` fits on dev's raw text" in lines_naming(problems, "dev.conll")[0]


def test_disk_space_for_the_weights_is_counted(project, tiny_transformer, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(preflight_module.shutil, "disk_usage", lambda path: usage(10**9, 10**9, 1000))
    problems = check(project, tiny_transformer).problems
    assert len(problems) == 1 and "free, and encoder, train, package write about" in problems[0]


def test_an_unknown_var_stops_spacy_project_run_all_in_its_first_step(project, tiny_transformer):
    """weasel drops a var project.yml does not declare; the preflight step reads it from the
    `spacy project run` command line and stops the run before any other step."""
    shutil.copytree(ROOT / "scripts", project / "scripts")
    args = demo_args(tiny_transformer)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-m", "spacy", "project", "run", "all", str(project), *args,
                             "--vars.max_step", "10"], capture_output=True, text=True, env=env, cwd=project)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    assert "--vars.max_step: project.yml has no var 'max_step'" in output and "did you mean max_steps?" in output
    assert "the preflight found 1 problem" in output and "Traceback" not in output
    assert "fetch_assets" not in output and not (project / "project.lock").exists()


def test_project_yml_passes_every_var_the_workflow_reads_to_the_preflight():
    written = srsly.read_yaml(ROOT / "project.yml")
    commands = {cmd["name"]: cmd for cmd in written["commands"]}
    steps = written["workflows"]["all"]
    assert steps[0] == "preflight"
    text = "\n".join(srsly.yaml_dumps(commands[name]) for name in steps[1:])
    read = set(re.findall(r"\$\{vars\.(\w+)\}", text))
    script = commands["preflight"]["script"][0]
    passed = dict(re.findall(r"--vars\.(\w+) ['\"]?\$\{vars\.(\w+)\}", script))
    assert all(name == var for name, var in passed.items())
    assert read <= set(passed), read - set(passed)
    # The wheel is <lang>_<name>, and a name that begins with <lang>_ keeps it once: no join of
    # the two vars spells it (the bug of issue 42's `package` outputs).
    assert "${vars.lang}_" not in (ROOT / "project.yml").read_text(encoding="utf8")


def test_weasel_still_drops_unknown_vars_and_interpolates_overrides():
    """What the preflight relies on in weasel: an override of a declared var reaches every
    reference to it (the preflight's own section of references included) while `vars` comes back
    as written, and a var nobody declared is dropped without a word."""
    from weasel.util import substitute_project_variables

    config = {"vars": {"steps": 1}, "commands": [{"name": "c", "script": ["train ${vars.steps}"]}],
              "probe": {"steps": "${vars.steps}"}}
    out = substitute_project_variables(copy.deepcopy(config), {"vars.steps": 2, "vars.step": 3})
    assert out["commands"][0]["script"] == ["train 2"] and out["probe"] == {"steps": 2}
    assert out["vars"] == {"steps": 1}


def test_package_names_with_and_without_the_language_prefix():
    assert meta_name("news_ner", "da") == meta_name("da_news_ner", "da") == "news_ner"
    assert package_name("pt_news_ner", "pt") == package_name("news_ner", "pt") == "pt_news_ner"
    assert package_name("da_news_ner", "pt") == "pt_da_news_ner"  # another language's prefix is a word
    assert package_name("da", "da") == "da_da"
    for name, fragment in (("da_da_ner", "twice; write da_ner"), ("news-ner", "single underscores"),
                           ("news__ner", "single underscores"), ("_ner", "single underscores"),
                           ("nær", "ASCII"), ("da_", "single underscores")):
        with pytest.raises(UserError, match=fragment):
            meta_name(name, "da", "--vars.package_name")
    check_version("0.1.0")
    with pytest.raises(UserError, match="write 1.0"):
        check_version("01.0")
    with pytest.raises(UserError, match="PEP 440"):
        check_version("0.1 beta", "--vars.package_version")
    check_sources("UNER Danish", "CC BY-SA 4.0", "https://github.com/UniversalNER/UNER_Danish-DDT")
    check_sources(None, None, None)
    for args, fragment in ((("", "MIT", None), "give its name"), (("UNER", None, "github.com/x"), "web address"),
                           (("UNER\nDanish", None, None), "one line")):
        with pytest.raises(UserError, match=fragment):
            check_sources(*args)
