"""Waveform discriminators for the GAN vocoder: multi-period (HiFi-GAN) and multi-resolution (UnivNet/Vocos).

Both are lean versions of the originals. HiFi-GAN's discriminators (channels up to 1024) cost tens of seconds per
step at batch 4 on two CPU cores; these keep the structure — periods 2, 3, 5, 7, 11 over the reshaped waveform, and
log-magnitude spectrograms at three resolutions — with a fraction of the width.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

Judgement = tuple[list[torch.Tensor], list[list[torch.Tensor]]]  # logits per sub-discriminator, features per one


class PeriodDiscriminator(nn.Module):
    """HiFi-GAN's period discriminator: the waveform folded into ``[time/period, period]``, 2-D convs along time.

    Shapes: ``[batch, time]`` → ``(logits [batch, 1, t', period], features)``.
    """

    def __init__(self, period: int, *, width: int = 16) -> None:
        super().__init__()
        self.period = period
        channels = [1, width, 2 * width, 4 * width, 4 * width]
        self.convs = nn.ModuleList(
            weight_norm(nn.Conv2d(channels[i], channels[i + 1], (5, 1), (3, 1) if i < 3 else 1, padding=(2, 0)))
            for i in range(len(channels) - 1)
        )
        self.out = weight_norm(nn.Conv2d(channels[-1], 1, (3, 1), padding=(1, 0)))

    def forward(self, audio: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        batch, length = audio.shape
        if length % self.period:
            audio = F.pad(audio, (0, self.period - length % self.period), mode="reflect")
        x = audio.view(batch, 1, -1, self.period)
        features = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), 0.1)
            features.append(x)
        return self.out(x), features


class ResolutionDiscriminator(nn.Module):
    """2-D convs over the log-magnitude spectrogram at one STFT resolution.

    Shapes: ``[batch, time]`` → ``(logits [batch, 1, bins', frames'], features)``.
    """

    def __init__(self, n_fft: int, hop_length: int, *, width: int = 16) -> None:
        super().__init__()
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        self.convs = nn.ModuleList(
            [
                weight_norm(nn.Conv2d(1, width, (7, 5), padding=(3, 2))),
                weight_norm(nn.Conv2d(width, width, (5, 3), stride=(2, 1), padding=(2, 1))),
                weight_norm(nn.Conv2d(width, width, (5, 3), stride=(2, 1), padding=(2, 1))),
                weight_norm(nn.Conv2d(width, width, (3, 3), stride=(2, 1), padding=1)),
            ]
        )
        self.out = weight_norm(nn.Conv2d(width, 1, 3, padding=1))

    def forward(self, audio: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        spec = torch.stft(audio, self.n_fft, self.hop_length, window=self.window, return_complex=True)
        x = torch.log1p(spec.abs()).unsqueeze(1)  # (B, 1, bins, frames)
        features = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), 0.1)
            features.append(x)
        return self.out(x), features


def high_pass(audio: torch.Tensor, cutoff: float) -> torch.Tensor:
    """Zero-phase high-pass in the frequency domain: bins below ``cutoff / 2`` removed, bins above ``cutoff`` kept,
    a linear ramp between (a brick wall would ring). ``cutoff`` is a fraction of the sample rate (0.5 = Nyquist).

    Shapes: ``[batch, time]`` → ``[batch, time]``.
    """
    length = audio.shape[-1]
    frequencies = torch.fft.rfftfreq(length, device=audio.device)  # cycles per sample
    gain = ((frequencies - cutoff / 2) / (cutoff / 2)).clamp(0.0, 1.0)
    return torch.fft.irfft(torch.fft.rfft(audio) * gain, n=length)


class VocoderDiscriminator(nn.Module):
    """All sub-discriminators; ``forward(audio [batch, time])`` → (logits list, features list), one entry each.

    ``highpass`` (a fraction of the sample rate; 0 = off): the discriminators judge only what lies above it. Their
    pressure on the lowest partials moved bass notes by octave-scale distances, which the reconstruction terms,
    still covering the whole band, hold in place without them.
    """

    def __init__(
        self,
        *,
        periods: tuple[int, ...] = (2, 3, 5, 7, 11),
        resolutions: tuple[tuple[int, int], ...] = ((512, 128), (1024, 256), (2048, 512)),
        width: int = 16,
        highpass: float = 0.0,
    ) -> None:
        super().__init__()
        if not 0.0 <= highpass < 0.5:
            raise ValueError(f"highpass is a fraction of the sample rate in [0, 0.5), got {highpass}")
        self.highpass = highpass
        self.discriminators = nn.ModuleList(
            [PeriodDiscriminator(p, width=width) for p in periods]
            + [ResolutionDiscriminator(n, h, width=width) for n, h in resolutions]
        )

    def forward(self, audio: torch.Tensor) -> Judgement:
        if self.highpass > 0:
            audio = high_pass(audio, self.highpass)
        logits, features = [], []
        for discriminator in self.discriminators:
            judged, activations = discriminator(audio)
            logits.append(judged)
            features.append(activations)
        return logits, features
