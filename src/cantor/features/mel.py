"""Mel filterbank and log-mel spectrogram.

The filterbank is computed here rather than borrowed from librosa at run time so a model's features depend only on
its config; a test pins it to ``librosa.filters.mel`` within 1e-5 for both mel scales.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from cantor.features.stft import STFT, STFTConfig


def hz_to_mel(frequencies: torch.Tensor, *, htk: bool = False) -> torch.Tensor:
    """Hz → mel. Slaney (librosa's default): linear below 1 kHz, logarithmic above; HTK: 2595·log10(1 + f/700)."""
    frequencies = torch.as_tensor(frequencies, dtype=torch.float64)
    if htk:
        return 2595.0 * torch.log10(1.0 + frequencies / 700.0)
    f_sp = 200.0 / 3
    min_log_hz, logstep = 1000.0, math.log(6.4) / 27.0
    min_log_mel = min_log_hz / f_sp
    linear = frequencies / f_sp
    log = min_log_mel + torch.log(torch.clamp(frequencies, min=min_log_hz) / min_log_hz) / logstep
    return torch.where(frequencies >= min_log_hz, log, linear)


def mel_to_hz(mels: torch.Tensor, *, htk: bool = False) -> torch.Tensor:
    """Inverse of :func:`hz_to_mel`."""
    mels = torch.as_tensor(mels, dtype=torch.float64)
    if htk:
        return 700.0 * (10.0 ** (mels / 2595.0) - 1.0)
    f_sp = 200.0 / 3
    min_log_hz, logstep = 1000.0, math.log(6.4) / 27.0
    min_log_mel = min_log_hz / f_sp
    return torch.where(mels >= min_log_mel, min_log_hz * torch.exp(logstep * (mels - min_log_mel)), f_sp * mels)


def mel_filterbank(
    *, sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None, htk: bool = False
) -> torch.Tensor:
    """Triangular mel filters with Slaney area normalisation, ``[n_mels, n_fft // 2 + 1]`` (float32)."""
    fmax = sample_rate / 2 if fmax is None else fmax
    if not 0 <= fmin < fmax <= sample_rate / 2:
        raise ValueError(f"need 0 <= fmin < fmax <= sample_rate/2, got fmin={fmin}, fmax={fmax}")
    fft_freqs = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1, dtype=torch.float64)
    mel_points = torch.linspace(
        hz_to_mel(torch.tensor(fmin), htk=htk).item(), hz_to_mel(torch.tensor(fmax), htk=htk).item(), n_mels + 2
    )
    hz_points = mel_to_hz(mel_points, htk=htk)
    widths = torch.diff(hz_points)
    ramps = hz_points[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = torch.clamp(torch.minimum(lower, upper), min=0.0)
    weights *= (2.0 / (hz_points[2:] - hz_points[:-2]))[:, None]
    return weights.float()


@dataclass(frozen=True)
class MelConfig:
    """Log-mel front end. ``fmax=None`` means Nyquist: full band, which music needs."""

    sample_rate: int = 44100
    stft: STFTConfig = field(default_factory=STFTConfig)
    n_mels: int = 128
    fmin: float = 0.0
    fmax: float | None = None
    htk: bool = False
    log_floor: float = 1e-5

    def filterbank(self) -> torch.Tensor:
        """``[n_mels, n_fft // 2 + 1]``: the filters these settings describe."""
        return mel_filterbank(
            sample_rate=self.sample_rate,
            n_fft=self.stft.n_fft,
            n_mels=self.n_mels,
            fmin=self.fmin,
            fmax=self.fmax,
            htk=self.htk,
        )


class LogMel(nn.Module):
    """Log-magnitude mel spectrogram: ``[..., time]`` → ``[..., n_mels, frames]``.

    Magnitude (not power) is used and floored before the log so silence maps to ``log(log_floor)`` rather than -inf.
    """

    def __init__(self, config: MelConfig) -> None:
        super().__init__()
        self.config = config
        self.stft = STFT(config.stft)
        self.register_buffer("filters", config.filterbank(), persistent=False)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        magnitude = self.stft(audio).abs()
        mel = torch.matmul(self.filters, magnitude)
        return torch.log(torch.clamp(mel, min=self.config.log_floor))
