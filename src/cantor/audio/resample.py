"""Sample-rate conversion with soxr (high quality, linear phase)."""

from __future__ import annotations

import numpy as np
import soxr
import torch


def resample(audio: torch.Tensor, *, orig_sample_rate: int, target_sample_rate: int) -> torch.Tensor:
    """Resample ``audio`` ``[channels, time]`` from ``orig_sample_rate`` to ``target_sample_rate`` (float32)."""
    if orig_sample_rate == target_sample_rate:
        return audio
    if orig_sample_rate <= 0 or target_sample_rate <= 0:
        raise ValueError(f"sample rates must be positive, got {orig_sample_rate} → {target_sample_rate}")
    array = audio.detach().cpu().numpy().astype(np.float32).T  # soxr wants [time, channels]
    out = soxr.resample(np.ascontiguousarray(array), orig_sample_rate, target_sample_rate, quality="HQ")
    return torch.from_numpy(np.ascontiguousarray(out.T.astype(np.float32)))


def fit_length(audio: torch.Tensor, length: int) -> torch.Tensor:
    """Trim or zero-pad the last axis to ``length`` (a resampling round trip can be off by a sample)."""
    if audio.shape[-1] >= length:
        return audio[..., :length]
    return torch.nn.functional.pad(audio, (0, length - audio.shape[-1]))
