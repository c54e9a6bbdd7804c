#!/usr/bin/env bash
# GPU check: training and `predict` words/s and peak GPU memory of the project's pipeline, in one
# run of benchmarks/gpu_check.py (its docstring says what each phase measures): today's check (a
# base-size random BERT on the demo corpus), then configs/ner_trf.cfg's training step on UNER
# Danish at 2,000 and 8,000 padded words a batch with mixed precision, then `predict` at batch 64
# and 256. No network is needed; random-init encoders give speeds, not F-scores.
#
#   scripts/gpu_check.sh                              # GPU 0, with the project installed here
#   BUNDLE=gpu_bundle scripts/gpu_check.sh            # a machine without spaCy: scripts/gpu_bundle.sh's bundle
#   GPU_ID=-1 SIZE=tiny DEMO_STEPS=6 PHASE_SECONDS=1 CORPUS=assets/demo scripts/gpu_check.sh   # CPU dry run
#
# Settings (environment): GPU_ID (0), SIZE (base | tiny), CONFIG (configs/ner_trf.cfg), CORPUS
# (train/dev/test .spacy or *train/*dev/*test.iob2; default the bundle's, else
# ../shared/data/uner_danish_ddt), ENCODER_SHAPE (encoder folder whose config and tokenizer the
# UNER phases use with random weights; default the bundle's), DEMO_STEPS (150), BATCHES
# (2000,8000), PREDICT_BATCHES (64,256), PHASE_SECONDS (30: timed seconds per phase), PYTHON
# (python3), WORK (a new temporary folder). Figures go to $OUT/gpu_check.json (OUT: WORK if unset).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
WORK=${WORK:-$(mktemp -d -t gpu_check.XXXXXX)}
OUT=${OUT:-$WORK}
if [ -n "${BUNDLE:-}" ]; then
    if [ ! -f "$BUNDLE/site.tar.xz" ]; then
        echo "gpu_check: no $BUNDLE/site.tar.xz; make the bundle first: scripts/gpu_bundle.sh $BUNDLE" >&2
        exit 2
    fi
    "$PYTHON" -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2], filter="data")' \
        "$BUNDLE/site.tar.xz" "$WORK"
    # The working tree first (spacy_bert_ner, benchmarks), then the bundle, then the machine's own.
    export PYTHONPATH="$PWD:$WORK/site${PYTHONPATH:+:$PYTHONPATH}"
    CORPUS=${CORPUS:-$BUNDLE/corpus}
    if [ -z "${ENCODER_SHAPE:-}" ] && [ -d "$BUNDLE/encoder_shape" ]; then
        ENCODER_SHAPE=$BUNDLE/encoder_shape
    fi
fi

args=(--gpu-id "${GPU_ID:-0}" --size "${SIZE:-base}" --config "${CONFIG:-configs/ner_trf.cfg}"
      --work "$WORK" --output "$OUT/gpu_check.json")
if [ -n "${CORPUS:-}" ]; then args+=(--corpus "$CORPUS"); fi
if [ -n "${ENCODER_SHAPE:-}" ]; then args+=(--encoder-shape "$ENCODER_SHAPE"); fi
if [ -n "${DEMO_STEPS:-}" ]; then args+=(--demo-steps "$DEMO_STEPS"); fi
if [ -n "${BATCHES:-}" ]; then args+=(--batches "$BATCHES"); fi
if [ -n "${PREDICT_BATCHES:-}" ]; then args+=(--predict-batches "$PREDICT_BATCHES"); fi
if [ -n "${PHASE_SECONDS:-}" ]; then args+=(--seconds "$PHASE_SECONDS"); fi
exec "$PYTHON" -m benchmarks.gpu_check "${args[@]}"
