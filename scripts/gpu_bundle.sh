#!/usr/bin/env bash
# Everything the GPU check (scripts/gpu_check.sh) needs on a machine that has Python 3.12, torch,
# cupy and numpy but no spaCy, and no registry to install it from: the cp312 wheels of spaCy,
# thinc, spacy-transformers and their run-time dependencies, installed into one site folder,
# stripped, pruned and packed, with the corpus and the encoder's shape, so that the bundle and the
# project's files travel in one 64 MiB upload (the device tool's limit, which counts bytes as
# they lie on disk: even stripped the site is 78 MiB, blis alone 34, so it travels packed: 15 MiB).
#
#   scripts/gpu_bundle.sh gpu_bundle              # here: prints what it carries and the upload's size
#   BUNDLE=gpu_bundle scripts/gpu_check.sh        # there: unpacks the site and puts it on PYTHONPATH
#
# Versions are those installed here (where the test suite runs them): spacy-transformers 1.4 holds
# transformers below 4.53.3, where the device has 5.x, so transformers 4.53, with the tokenizers
# and huggingface_hub it accepts, travel too and shadow the device's through PYTHONPATH.
# What the device has already (DEVICE_HAS, from the device notes' package list) is not carried;
# the script stops if a carried package needs something neither carried nor on that list.
#
# DIR holds:
#   site.tar.xz        the packages (pip install --no-deps --target of the wheels), extension
#                      modules stripped of symbols, tests, Cython sources and unused transformers
#                      model folders dropped; plus a metadata-only spacy_bert_ner dist-info whose
#                      entry points (factories, registered functions) point into the working tree
#   corpus/            UNER Danish (CORPUS_DIR) as train/dev/test .spacy DocBins, and the report
#   encoder_shape/     config and tokenizer of the trimmed encoder (ENCODER), without weights: the
#                      device builds a randomly initialised encoder of exactly its shape
#   site/, wheels/     the unpacked site and the downloaded wheels (not carried)
#
# Environment: CORPUS_DIR, ENCODER, PYTHON (the interpreter whose installed versions are pinned).
set -euo pipefail
cd "$(dirname "$0")/.."

DIR=${1:?usage: scripts/gpu_bundle.sh DIR}
CORPUS_DIR=${CORPUS_DIR:-../shared/data/uner_danish_ddt}
ENCODER=${ENCODER:-training/harness/encoders/multilingual-e5-small-trimmed-da}
PYTHON=${PYTHON:-python}
# Carried: spaCy's, thinc's and spacy-transformers' run-time closure minus what the device has.
CARRY="spacy spacy-legacy spacy-loggers thinc blis murmurhash cymem preshed srsly wasabi catalogue
confection weasel cloudpathlib smart-open pydantic pydantic-core annotated-types typing-inspection
typing-extensions spacy-transformers spacy-alignments transformers tokenizers huggingface-hub"
# On the device image already (the device notes' package list), in the versions these accept.
DEVICE_HAS="numpy torch requests tqdm jinja2 packaging setuptools typer click filelock fsspec hf-xet
pyyaml regex safetensors httpx wrapt matplotlib"
# transformers/models folders kept: the encoders the configs name, the auto classes and what
# they import; spacy_bert_ner.training.vocab_trim uses gpt2's byte table.
KEEP_MODELS="bert roberta xlm_roberta distilbert electra deberta_v2 auto encoder_decoder gpt2"
PLATFORMS="--platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_27_x86_64
--platform manylinux_2_28_x86_64 --platform manylinux_2_31_x86_64 --platform manylinux_2_34_x86_64"
PIP_TARGET_ARGS="--only-binary=:all: --python-version 3.12 --implementation cp --abi cp312 $PLATFORMS"

mkdir -p "$DIR/wheels"
pins=$("$PYTHON" - $CARRY <<'PY'
import sys
from importlib.metadata import PackageNotFoundError, version
pins = []
for name in sys.argv[1:]:
    try:
        pins.append(f"{name}=={version(name)}")
    except PackageNotFoundError:
        sys.exit(f"gpu_bundle: {name} is not installed here; install the project first "
                 "(python -m pip install -e '.[test]'), so the bundle carries the versions tested here.")
print(" ".join(pins))
PY
)
echo "gpu_bundle: $pins"
# This machine's pip configuration names local indexes that may not exist: their warnings are noise.
quiet() { "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }
# shellcheck disable=SC2086
quiet "$PYTHON" -m pip download -q --no-deps $PIP_TARGET_ARGS -d "$DIR/wheels" $pins

rm -rf "$DIR/site"
# shellcheck disable=SC2086
quiet "$PYTHON" -m pip install -q --no-deps --no-compile --no-index --find-links "$DIR/wheels" \
    $PIP_TARGET_ARGS --target "$DIR/site" $pins

site="$DIR/site"
echo "gpu_bundle: unpacked $(du -sm "$site" | cut -f1) MB; stripping and pruning"
find "$site" -name '*.so*' -type f -exec strip --strip-unneeded {} +
find "$site" -depth -type d \( -name tests -o -name __pycache__ \) -exec rm -rf {} +
# Cython sources and headers, type stubs: not read at run time. thinc/backends keeps its CUDA
# kernel sources (.cu, compiled by cupy when a GPU op first runs) and cpu_kernels.hh.
find "$site" -type f \( -name '*.pyx' -o -name '*.pxd' -o -name '*.pyi' -o -name '*.cpp' -o -name '*.c' \
    -o -name '*.h' \) -not -path "*/thinc/backends/*" -delete
for model in "$site"/transformers/models/*/; do
    name=$(basename "$model")
    case " $KEEP_MODELS " in *" $name "*) ;; *) rm -rf "$model" ;; esac
done
rm -rf "$site"/bin  # console scripts with this machine's interpreter path in them

# spacy_bert_ner's entry points, written from setup.cfg (the package itself is the working tree's).
"$PYTHON" - "$site" <<'PY'
import configparser, re, sys
from pathlib import Path
site = Path(sys.argv[1])
version = re.search(r'__version__ = "([^"]+)"', Path("spacy_bert_ner/about.py").read_text()).group(1)
setup = configparser.ConfigParser()
setup.read("setup.cfg")
points = configparser.ConfigParser()
for group, lines in setup["options.entry_points"].items():
    points[group] = dict(line.split("=", 1) for line in lines.strip().splitlines())
info = site / f"spacy_bert_ner-{version}.dist-info"
info.mkdir()
(info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: spacy-bert-ner\nVersion: {version}\n")
with open(info / "entry_points.txt", "w") as out:
    points.write(out)
PY

# Every requirement of a carried distribution is carried or on the device.
"$PYTHON" - "$site" $DEVICE_HAS <<'PY'
import sys
from importlib.metadata import distributions
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
site, device = sys.argv[1], {canonicalize_name(n) for n in sys.argv[2:]}
dists = {canonicalize_name(d.metadata["Name"]): d for d in distributions(path=[site])}
env = {"python_version": "3.12", "python_full_version": "3.12.3", "sys_platform": "linux",
       "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix",
       "implementation_name": "cpython", "platform_python_implementation": "CPython"}
missing, wanted = [], [(name, "") for name in dists]
seen = set()
while wanted:
    name, extra = wanted.pop()
    if (name, extra) in seen or name not in dists:
        continue
    seen.add((name, extra))
    for line in dists[name].requires or []:
        req = Requirement(line)
        if req.marker and not req.marker.evaluate({**env, "extra": extra}):
            continue
        dep = canonicalize_name(req.name)
        if dep in dists:
            wanted += [(dep, "")] + [(dep, e) for e in req.extras]
        elif dep not in device:
            missing.append(f"{dep} (needed by {name})")
if missing:
    sys.exit("gpu_bundle: neither carried nor on the device: " + ", ".join(sorted(set(missing))))
print(f"gpu_bundle: {len(dists)} distributions carried; all their requirements are carried or on the device")
PY

echo "gpu_bundle: converting $CORPUS_DIR"
rm -rf "$DIR/corpus"
"$PYTHON" -m spacy_bert_ner convert "$CORPUS_DIR"/*-train.iob2 "$CORPUS_DIR"/*-dev.iob2 "$CORPUS_DIR"/*-test.iob2 \
    --output "$DIR/corpus" --lang da --report "$DIR/corpus/report.json" >/dev/null
for split in train dev test; do mv "$DIR"/corpus/*-"$split".spacy "$DIR/corpus/$split.spacy"; done

rm -rf "$DIR/encoder_shape"
if [ -f "$ENCODER/config.json" ]; then
    mkdir -p "$DIR/encoder_shape"
    for f in config.json tokenizer.json tokenizer_config.json special_tokens_map.json trim_info.json; do
        if [ -f "$ENCODER/$f" ]; then cp "$ENCODER/$f" "$DIR/encoder_shape/"; fi
    done
else
    echo "gpu_bundle: no encoder at $ENCODER (make it with the harness or trim-vocab, or set ENCODER);" \
         "the device run will train the UNER runs on a base-size BERT with a WordPiece vocabulary instead"
fi

echo "gpu_bundle: packing"
tar -C "$DIR" -cf - site | xz -T0 -6 > "$DIR/site.tar.xz"

"$PYTHON" - "$DIR" <<'PY'
import subprocess, sys
from pathlib import Path
bundle = Path(sys.argv[1])
def size(path):
    path = Path(path)
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size
carried = {name: size(bundle / name) for name in ("site.tar.xz", "corpus", "encoder_shape") if (bundle / name).exists()}
tree = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                      capture_output=True, check=True).stdout.decode().split("\0")
carried["working tree (tracked and untracked, not ignored)"] = sum(size(f) for f in tree if f and Path(f).is_file())
total = sum(carried.values())
mib = 2 ** 20
print(f"gpu_bundle: unpacked site {size(bundle / 'site') / mib:.1f} MiB, packed into site.tar.xz")
for name, n in carried.items():
    print(f"  {n / mib:7.1f} MiB  {name}")
print(f"  {total / mib:7.1f} MiB  in all (the device tool's limit: 64 MiB)")
print("gpu_bundle: carry " + " ".join(str(bundle / name) for name in carried if not name.startswith("working")))
if total > 60 * mib:
    sys.exit("gpu_bundle: the upload does not fit well inside 64 MiB")
PY
