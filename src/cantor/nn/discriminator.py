"""A lean discriminator that judges separated sources against real stems on their log-magnitude spectrograms.

Kept small on purpose: a full HiFi-GAN-style discriminator costs tens of seconds per step on two cores.
"""

from __future__ import annotations

import torch
from torch import nn


class SpectrogramDiscriminator(nn.Module):
    """Patch discriminator over (frequency, frame), told which source it is judging by one-hot planes.

    Shapes: ``log_magnitude`` ``[batch, sources, channels, bins, frames]`` → ``(logits, features)`` where logits is
    ``[batch·sources, 1, bins', frames']`` and features the activations used for feature matching.
    """

    def __init__(self, *, sources: int, channels: int, width: int = 32, freq_pool: int = 4) -> None:
        super().__init__()
        self.sources = sources
        self.pool = nn.AvgPool2d((freq_pool, 1))
        layers = []
        in_channels = channels + sources
        for out_channels, stride in ((width, (2, 1)), (width, (2, 2)), (2 * width, (2, 2)), (2 * width, (2, 2))):
            layers.append(nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, stride, 1), nn.LeakyReLU(0.2)))
            in_channels = out_channels
        self.layers = nn.ModuleList(layers)
        self.out = nn.Conv2d(in_channels, 1, 3, 1, 1)

    def forward(self, log_magnitude: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        batch, sources, channels, bins, frames = log_magnitude.shape
        x = self.pool(log_magnitude.reshape(batch * sources, channels, bins, frames))
        one_hot = torch.eye(sources, device=x.device, dtype=x.dtype).repeat(batch, 1)  # (B·S, S)
        planes = one_hot[:, :, None, None].expand(-1, -1, x.shape[-2], x.shape[-1])
        x = torch.cat([x, planes], dim=1)
        features = []
        for layer in self.layers:
            x = layer(x)
            features.append(x)
        return self.out(x), features
