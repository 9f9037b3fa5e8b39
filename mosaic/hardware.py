"""What this machine computes natively: the one place training and generation ask."""

from __future__ import annotations

import platform


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 matmuls natively: AVX512-BF16 or AMX tiles on x86, the
    BF16 extension on ARM (asked of oneDNN there). Without them (AVX2, plain AVX-512) every
    bf16 matmul converts to fp32 and back: measured 0.36x fp32's generation speed on an AVX2
    EPYC, 1.8x on a Xeon with AMX (docs/generation.md)."""
    import torch

    if platform.machine().lower() in ("aarch64", "arm64"):
        try:
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):  # a torch build without oneDNN
            return False
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, check, lambda: False)() for check in checks)
