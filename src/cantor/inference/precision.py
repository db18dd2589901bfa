"""Inference precision: the network's matrix products in float32 or bfloat16.

``bf16`` runs convolutions and matrix products in bfloat16 (``torch.autocast``) and everything around them — the
STFT, the masks' softmax, the iSTFT, the output — in float32. On a CPU that multiplies bfloat16 natively
(AVX512-BF16 or AMX: AMD Zen 4, Intel Sapphire Rapids and later) that made `band` separation a fifth faster with
stems within 45–50 dB of float32's, far below what separation itself gets wrong; on other CPUs bfloat16 is emulated
and slower, so ``auto`` picks it only where it is native.
"""

from __future__ import annotations

import contextlib

import torch

from cantor.errors import UsageError

PRECISIONS = ("auto", "fp32", "bf16")


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` multiplies bfloat16 matrices in hardware (CPU only: GPUs keep float32 under ``auto``)."""
    if device.type != "cpu":
        return False
    return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto`` → ``bf16`` where it is native (:func:`native_bf16`), else ``fp32``; a usage error for unknown
    names."""
    if precision not in PRECISIONS:
        raise UsageError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    return precision


def precision_context(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """The context to run a network in at a resolved ``precision`` (``fp32`` or ``bf16``)."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
