#!/usr/bin/env bash
# The whole loop on a CUDA GPU: the demo preset (SmolLM2-135M-Instruct), 2 rounds, vLLM
# backend (one warm engine with an explicit memory share, asleep while each round trains).
# Prints per-step seconds, peak GPU memory and the archive.
#   bash scripts/gpu_check.sh [OUT] [key=value ...]      e.g. bash scripts/gpu_check.sh runs/gpu
#   PRESET=tiny ROUNDS=1 PYTHON=/path/to/venv/bin/python bash scripts/gpu_check.sh
# Needs mosaic installed with its gpu extra (pip install -e '.[gpu]'); offline, no key.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON=python3
PRESET="${PRESET:-demo}"
ROUNDS="${ROUNDS:-2}"
OUT="${1:-runs/gpu-check-$(date +%Y%m%d-%H%M%S)}"
shift || true
"$PYTHON" -c "import torch; assert torch.cuda.is_available()" 2>/dev/null \
  || { echo "gpu_check: no CUDA GPU here (the loop's CPU path: make run)" >&2; exit 2; }
"$PYTHON" -c "import vllm" 2>/dev/null \
  || { echo "gpu_check: vllm is not installed (pip install -e '.[gpu]')" >&2; exit 2; }
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
mkdir -p "$(dirname "$OUT")"
MEMORY="$OUT.gpu_memory.csv"
# Whole-GPU memory in use every 200 ms (vLLM allocates outside torch's allocator).
nvidia-smi --query-gpu=memory.used,memory.total --format=csv,noheader,nounits -lms 200 \
  > "$MEMORY" 2>/dev/null &
POLLER=$!
trap 'kill $POLLER 2>/dev/null || true' EXIT
START=$(date +%s)
"$PYTHON" -m mosaic.cli run --preset "$PRESET" --rounds "$ROUNDS" --out "$OUT" \
  eval.backend=vllm "$@"
echo "gpu_check: the loop took $(( $(date +%s) - START )) s"
kill $POLLER 2>/dev/null || true
"$PYTHON" scripts/loop_timings.py "$OUT" --gpu-memory "$MEMORY"
"$PYTHON" -m mosaic.cli status "$OUT"
