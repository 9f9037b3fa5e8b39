#!/usr/bin/env bash
# Train a LoRA with mosaic's loop on a ~100M-parameter model for about 60 s on a CUDA GPU;
# prints tokens/s and peak memory. Needs torch, transformers, peft and accelerate only.
#   bash scripts/gpu_check.sh [--seconds 60] [--pack-tokens 4096] [--bf16 auto|yes|no]
#   PYTHON=/path/to/venv/bin/python bash scripts/gpu_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python}"
"$PYTHON" -c "import torch; assert torch.cuda.is_available()" 2>/dev/null \
  || { echo "gpu_check: no CUDA GPU here (for a CPU smoke run: python scripts/gpu_check.py --seconds 5 --hidden 64 --layers 2)" >&2; exit 2; }
exec "$PYTHON" scripts/gpu_check.py "$@"
