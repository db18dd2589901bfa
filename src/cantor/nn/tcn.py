"""Temporal convolutional network: residual blocks of dilated depthwise-separable 1-D convolutions.

After Bai, Kolter & Koltun (2018), "An Empirical Evaluation of Generic Convolutional and Recurrent Networks", with
Conv-TasNet's depthwise-separable block (Luo & Mesgarani, 2019) to keep the cost per frame low on a CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class TCNConfig:
    """A TCN of ``repeats`` stacks of blocks with the given dilations (non-causal, 'same' length)."""

    channels: int = 256
    hidden: int = 512
    kernel_size: int = 3
    dilations: tuple[int, ...] = (1, 2, 4, 8, 16)
    repeats: int = 2
    dropout: float = 0.0

    @property
    def receptive_field(self) -> int:
        """Frames seen by one output frame (centred)."""
        return 1 + self.repeats * sum((self.kernel_size - 1) * d for d in self.dilations)


class FrameNorm(nn.Module):
    """Layer norm over channels, frame by frame (Conv-TasNet's "cLN").

    Not ``GroupNorm(1, C)``: that normalises over all frames at once, so a frame's output would depend on how long
    the input is, and chunked inference could never equal a whole-file pass. Shapes: ``[batch, channels, frames]``.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # LayerNorm's parameters, computed along the channel axis where it lies: a layer norm over transposed
        # frames copied the activations twice per call, a tenth of the separator's inference time.
        # (torch.var_mean along that axis was slower still than the copies; two means are 5× faster.)
        centered = x - x.mean(dim=1, keepdim=True)
        scale = torch.rsqrt(centered.square().mean(dim=1, keepdim=True) + self.norm.eps)
        return torch.addcmul(self.norm.bias[:, None], centered * scale, self.norm.weight[:, None])


class TemporalBlock(nn.Module):
    """1×1 conv → PReLU → norm → dilated depthwise conv → PReLU → norm → 1×1 conv, plus the residual.

    Shapes: ``[batch, channels, frames]`` → same.
    """

    def __init__(self, channels: int, hidden: int, kernel_size: int, dilation: int, dropout: float) -> None:
        super().__init__()
        padding = (kernel_size - 1) * dilation // 2
        self.net = nn.Sequential(
            nn.Conv1d(channels, hidden, 1),
            nn.PReLU(),
            FrameNorm(hidden),
            nn.Conv1d(hidden, hidden, kernel_size, dilation=dilation, padding=padding, groups=hidden),
            nn.PReLU(),
            FrameNorm(hidden),
            nn.Dropout(dropout),
            nn.Conv1d(hidden, channels, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.net(x)


class TCN(nn.Module):
    """A stack of :class:`TemporalBlock`. Shapes: ``[batch, channels, frames]`` → same."""

    def __init__(self, config: TCNConfig) -> None:
        super().__init__()
        if config.kernel_size % 2 == 0:
            raise ValueError("kernel_size must be odd so the output stays aligned with the input")
        self.blocks = nn.Sequential(
            *(
                TemporalBlock(config.channels, config.hidden, config.kernel_size, d, config.dropout)
                for _ in range(config.repeats)
                for d in config.dilations
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x)


class BLSTM(nn.Module):
    """Bidirectional LSTM over frames with a residual connection (the LSTM-VAE ablation's extractor).

    Shapes: ``[batch, channels, frames]`` → same; ``channels`` must be even.
    """

    def __init__(self, channels: int, layers: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(channels, channels // 2, num_layers=layers, batch_first=True, bidirectional=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x.transpose(1, 2))
        return x + out.transpose(1, 2)
