"""Inference precision: a network's convolutions and matrix products in float32 or bfloat16.

``bf16`` runs them under ``torch.autocast`` and keeps in float32 what is sensitive to an 8-bit mantissa: the STFTs,
the separators' mask softmax, the GAN vocoder's held phase and every output. On a CPU that multiplies bfloat16
natively (AVX512-BF16 or AMX: AMD Zen 4, Intel Sapphire Rapids and later), measured with one thread: `band`
separation 1.3× faster at −0.01 dB SI-SDRi, `chorale` 1.2× at −0.002 dB, the `gan` vocoder 1.25× at the same
ViSQOL (`benchmarks/results/*-precision.md`; its output head joined the bfloat16 part later, 1.11× more at −0.001
ViSQOL: `vocoder-head-bf16.md`). Elsewhere bfloat16 is emulated and slower, so
``auto`` picks it only where it is native.
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
    # Private probes of torch 2.x (the pinned 2.13.0 has both); a torch without them is treated as not native.
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in probes)


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
