"""ConvNeXt blocks over frames: the backbone of the GAN vocoder.

After Liu et al. (2022), "A ConvNet for the 2020s", in the 1-D form Vocos uses (Siuzdak, 2023): a depthwise
convolution mixes neighbouring frames, two pointwise layers mix channels. Every operation is per frame or a
fixed-width convolution, so a frame's output depends only on its neighbours: chunked inference equals a whole pass.
"""

from __future__ import annotations

import torch
from torch import nn


class ConvNeXtBlock(nn.Module):
    """depthwise conv (k frames) → layer norm → Linear(dim→intermediate) → GELU → Linear(→dim) → ×γ, plus residual.

    Shapes: ``[batch, dim, frames]`` → same.
    """

    def __init__(self, dim: int, intermediate: int, *, kernel_size: int = 7, layer_scale: float = 0.1) -> None:
        super().__init__()
        self.depthwise = nn.Conv1d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)
        self.norm = nn.LayerNorm(dim)
        self.expand = nn.Linear(dim, intermediate)
        self.activation = nn.GELU()
        self.project = nn.Linear(intermediate, dim)
        # A small per-channel scale keeps a deep stack close to the identity at the start of training.
        self.gamma = nn.Parameter(torch.full((dim,), layer_scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.depthwise(x).transpose(1, 2)  # (B, F, dim)
        y = self.project(self.activation(self.expand(self.norm(y))))
        return x + (self.gamma * y).transpose(1, 2)


class ConvNeXtBackbone(nn.Module):
    """Input conv → ``layers`` ConvNeXt blocks → layer norm.

    Shapes: ``[batch, in_channels, frames]`` → ``[batch, frames, dim]``. The receptive field is
    ``1 + (layers + 1) · (kernel_size − 1)`` frames (centred).
    """

    def __init__(self, in_channels: int, *, dim: int, intermediate: int, layers: int, kernel_size: int = 7) -> None:
        super().__init__()
        self.embed = nn.Conv1d(in_channels, dim, kernel_size, padding=kernel_size // 2)
        self.embed_norm = nn.LayerNorm(dim)
        self.blocks = nn.ModuleList(
            ConvNeXtBlock(dim, intermediate, kernel_size=kernel_size, layer_scale=1.0 / layers) for _ in range(layers)
        )
        self.final_norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.embed_norm(self.embed(x).transpose(1, 2)).transpose(1, 2)
        for block in self.blocks:
            x = block(x)
        return self.final_norm(x.transpose(1, 2))
