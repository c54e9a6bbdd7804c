#!/usr/bin/env bash
# GPU check: a short training run and an inference pass on the shipped demo corpus with a
# base-size (12 layers, 768 wide, 12 heads) randomly initialised BERT built locally, so no
# network is needed. Prints training and inference words/s; the F-score of a random-init
# encoder after a few hundred steps means nothing.
#
#   scripts/gpu_check.sh                     # GPU 0, configs/ner_trf.cfg, 300 steps
#   CONFIG=configs/tokcls_trf.cfg STEPS=500 BATCH=4000 GPU_ID=1 scripts/gpu_check.sh
#   GPU_ID=-1 SIZE=tiny STEPS=20 scripts/gpu_check.sh   # dry run of the script on a CPU
#
# Results also go to $OUT/gpu_check.json when OUT is set (else to the work directory).
# The demo vocabulary is small, so the embedding matrix is far smaller than a real base
# model's: optimizer time per step is below what xlm-roberta-base would need.
set -euo pipefail
cd "$(dirname "$0")/.."

GPU_ID=${GPU_ID:-0}
STEPS=${STEPS:-300}
# Padded words per batch: the configs' 500 suits a CPU; a GPU is used well by larger batches.
BATCH=${BATCH:-2000}
CONFIG=${CONFIG:-configs/ner_trf.cfg}
SIZE=${SIZE:-base}
EVAL_FREQUENCY=$(( STEPS >= 3 ? STEPS / 3 : 1 ))
WORK=${WORK:-$(mktemp -d -t gpu_check.XXXXXX)}
RESULTS=${OUT:-$WORK}/gpu_check.json
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

if [ "$GPU_ID" -ge 0 ]; then
    python - <<'EOF'
import sys
import torch
if not torch.cuda.is_available():
    sys.exit("gpu_check: torch sees no CUDA device (torch %s). Install a CUDA build of torch, "
             "or run with GPU_ID=-1 for a CPU dry run." % torch.__version__)
try:
    import cupy  # noqa: F401  thinc's GPU ops, needed by spaCy's require_gpu
except ImportError:
    sys.exit("gpu_check: cupy is not installed; install the wheel for your CUDA, e.g. "
             "pip install cupy-cuda12x")
print(f"gpu_check: {torch.cuda.get_device_name(0)}, torch {torch.__version__}, CUDA {torch.version.cuda}")
EOF
fi

echo "gpu_check: work directory $WORK"
python - "$WORK/encoder" "$SIZE" <<'EOF'
import importlib.util, sys
spec = importlib.util.spec_from_file_location("build", "scripts/build_tiny_transformer.py")
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
sizes = {"base": dict(hidden=768, layers=12, heads=12), "tiny": dict(hidden=64, layers=2, heads=2)}
splits = [f"assets/demo/{split}.iob2" for split in ("train", "dev", "test")]
module.build(sys.argv[1], splits, vocab_size=30000, **sizes[sys.argv[2]])
EOF

spacy-bert-ner convert assets/demo/train.iob2 assets/demo/dev.iob2 assets/demo/test.iob2 \
    --output "$WORK/corpus" --lang da

spacy-bert-ner train "$CONFIG" --output "$WORK/training" --gpu-id "$GPU_ID" \
    --paths.train "$WORK/corpus/train.spacy" --paths.dev "$WORK/corpus/dev.spacy" \
    --paths.training_log "$WORK/training_log.jsonl" \
    --components.transformer.model.name "$WORK/encoder" \
    --training.max_steps "$STEPS" --training.eval_frequency "$EVAL_FREQUENCY" --training.patience 0 \
    --training.batcher.size "$BATCH" \
    --initialize.after_init.encoder_lr_scale 1.0 --initialize.after_init.freeze_word_embeddings false

python - "$WORK" "$GPU_ID" "$CONFIG" "$STEPS" "$SIZE" "$RESULTS" "$BATCH" <<'EOF'
import json, sys, time
from pathlib import Path
import spacy
from spacy.tokens import DocBin

work, gpu_id, config, steps, size, results, batch = Path(sys.argv[1]), int(sys.argv[2]), *sys.argv[3:]
# Training words/s: the logger measures each interval between evaluations, evaluation excluded.
log = [json.loads(line) for line in (work / "training_log.jsonl").read_text().splitlines()]
intervals = [(b["words"] - a["words"], b["words_per_second"]) for a, b in zip(log, log[1:])]
if not intervals:
    sys.exit("gpu_check: the training log has no interval between two evaluations; use STEPS >= 3")
train_words = sum(words for words, _ in intervals)
train_seconds = sum(words / wps for words, wps in intervals)

if gpu_id >= 0:
    spacy.require_gpu(gpu_id)
nlp = spacy.load(work / "training" / "model-last")
test = list(DocBin().from_disk(work / "corpus" / "test.spacy").get_docs(nlp.vocab))
texts = [doc.text for doc in test] * 20
list(nlp.pipe(texts[:256], batch_size=64))  # warm-up: CUDA kernels, allocator
if gpu_id >= 0:
    import torch
    torch.cuda.synchronize()
start = time.perf_counter()
n_words = sum(len(doc) for doc in nlp.pipe(texts, batch_size=64))
if gpu_id >= 0:
    torch.cuda.synchronize()
infer_seconds = time.perf_counter() - start

figures = {
    "device": torch.cuda.get_device_name(gpu_id) if gpu_id >= 0 else "cpu",
    "config": config, "steps": int(steps), "batch_padded_words": int(batch), "encoder": f"{size}-size random-init BERT",
    "train_words": train_words, "train_words_per_second": round(train_words / train_seconds, 1),
    "inference_words": n_words, "inference_words_per_second": round(n_words / infer_seconds, 1),
    "final_dev_ents_f": log[-1]["other_scores"]["ents_f"],
}
Path(results).parent.mkdir(parents=True, exist_ok=True)
Path(results).write_text(json.dumps(figures, indent=2) + "\n")
print(f"gpu_check: training  {figures['train_words_per_second']:>10,.0f} words/s ({train_words:,} words, {steps} steps)")
print(f"gpu_check: inference {figures['inference_words_per_second']:>10,.0f} words/s ({n_words:,} words, batch 64)")
print(f"gpu_check: figures in {results}")
EOF
