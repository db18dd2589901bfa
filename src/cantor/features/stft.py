"""STFT and its inverse as modules, so the window travels with the model (``.to(device)``, state dict)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class STFTConfig:
    """Short-time Fourier transform parameters (librosa's vocabulary). ``n_fft`` must be even."""

    n_fft: int = 2048
    hop_length: int = 512
    center: bool = True

    def __post_init__(self) -> None:
        if self.n_fft <= 0 or self.n_fft % 2:
            raise ValueError(f"n_fft must be a positive even number, got {self.n_fft}")
        if not 0 < self.hop_length <= self.n_fft:
            raise ValueError(f"hop_length must be in (0, n_fft], got {self.hop_length}")

    @property
    def n_bins(self) -> int:
        return self.n_fft // 2 + 1


class STFT(nn.Module):
    """Complex STFT with a periodic Hann window.

    Shapes: ``[..., time]`` → complex ``[..., n_bins, frames]`` with ``n_bins = n_fft // 2 + 1`` and
    ``frames = time // hop_length + 1`` (centered).
    """

    def __init__(self, config: STFTConfig) -> None:
        super().__init__()
        self.config = config
        self.register_buffer("window", torch.hann_window(config.n_fft), persistent=False)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        leading, length = audio.shape[:-1], audio.shape[-1]
        flat = audio.reshape(-1, length)
        if self.config.center and length <= self.config.n_fft // 2:
            # Centering reflects half a window at each end, which needs more samples than that: a tiny input
            # (a click, 10 ms) is zero-extended first, and keeps the frame count of its own length.
            flat = torch.nn.functional.pad(flat, (0, self.config.n_fft // 2 + 1 - length))
        spec = torch.stft(
            flat,
            n_fft=self.config.n_fft,
            hop_length=self.config.hop_length,
            window=self.window,
            center=self.config.center,
            return_complex=True,
        )
        if self.config.center:
            spec = spec[..., : length // self.config.hop_length + 1]
        return spec.reshape(*leading, *spec.shape[-2:])


class ISTFT(nn.Module):
    """Inverse of :class:`STFT`: complex ``[..., n_bins, frames]`` → ``[..., length]``."""

    def __init__(self, config: STFTConfig) -> None:
        super().__init__()
        self.config = config
        self.register_buffer("window", torch.hann_window(config.n_fft), persistent=False)

    def forward(self, spec: torch.Tensor, *, length: int) -> torch.Tensor:
        leading = spec.shape[:-2]
        flat = spec.reshape(-1, *spec.shape[-2:])
        audio = torch.istft(
            flat,
            n_fft=self.config.n_fft,
            hop_length=self.config.hop_length,
            window=self.window,
            center=self.config.center,
            length=length,
        )
        return audio.reshape(*leading, length)
