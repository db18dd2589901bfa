"""WaveFlow's building blocks: squeezing a waveform into rows, and the causal-in-height 2-D network of one flow.

Ping, Peng, Zhao & Song (2020), "WaveFlow: A Compact Flow-based Model for Raw Audio". The waveform ``x`` of length
``T`` is squeezed into an ``h × w`` matrix (``w = T / h``) whose column ``c`` holds samples ``c·h … c·h + h − 1``:
adjacent rows are adjacent samples. Each flow is autoregressive over the ``h`` rows and parallel along ``w``, so
sampling takes ``h`` sequential steps per flow instead of ``T``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def squeeze(audio: torch.Tensor, height: int) -> torch.Tensor:
    """``[batch, T]`` → ``[batch, 1, height, T / height]`` with ``out[b, 0, j, c] = audio[b, c·height + j]``."""
    batch, length = audio.shape
    return audio.view(batch, length // height, height).transpose(1, 2).unsqueeze(1)


def squeeze_features(features: torch.Tensor, height: int) -> torch.Tensor:
    """``[batch, D, T]`` → ``[batch, D, height, T / height]``, laid out like :func:`squeeze`."""
    batch, dim, length = features.shape
    return features.view(batch, dim, length // height, height).transpose(2, 3)


def unsqueeze(rows: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`squeeze`: ``[batch, 1, height, w]`` → ``[batch, height · w]``."""
    return rows.squeeze(1).transpose(1, 2).reshape(rows.shape[0], -1)


class GatedLayer(nn.Module):
    """One WaveNet-style layer in 2-D: a dilated conv, causal over rows and centred over columns, plus the
    conditioning, through a tanh·sigmoid gate into a residual and a skip path.

    Shapes: ``x [batch, C, h, w]``, ``condition [batch, D, h, w]`` → ``(residual out [batch, C, h, w], skip)``.
    """

    def __init__(self, channels: int, condition_dim: int, *, kernel_width: int, width_dilation: int) -> None:
        super().__init__()
        self.width_padding = (kernel_width - 1) * width_dilation // 2
        self.conv = nn.Conv2d(channels, 2 * channels, (3, kernel_width), dilation=(1, width_dilation))
        self.condition = nn.Conv2d(condition_dim, 2 * channels, 1)
        self.residual = nn.Conv2d(channels, channels, 1)
        self.skip = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor, condition: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # Two rows of zeros above: a row sees itself and the two rows before it, never one after.
        padded = F.pad(x, (self.width_padding, self.width_padding, 2, 0))
        return self._gate(x, self.conv(padded) + self.condition(condition))

    def step(
        self, row: torch.Tensor, condition_row: torch.Tensor, past: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One row ``[batch, C, 1, w]`` given the two input rows before it (``past [batch, C, 2, w]``, zeros at the
        top) → (output row, skip row, the new past). Exactly the matching row of :meth:`forward`."""
        window = torch.cat([past, row], dim=2)
        padded = F.pad(window, (self.width_padding, self.width_padding))
        out, skip = self._gate(row, self.conv(padded) + self.condition(condition_row))
        return out, skip, window[:, :, 1:]

    def _gate(self, x: torch.Tensor, preactivation: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        filter_, gate = preactivation.chunk(2, dim=1)
        gated = torch.tanh(filter_) * torch.sigmoid(gate)
        return (x + self.residual(gated)) * math.sqrt(0.5), self.skip(gated)


class FlowNetwork(nn.Module):
    """The network of one flow: ``layers`` gated layers with column dilations 1, 2, 4, … → (log-scale, shift).

    Row ``i`` of the outputs depends on rows ``i − 2·layers … i`` of the input, so callers pass the rows *shifted
    down by one* and row ``i``'s affine parameters depend only on rows before it.
    Shapes: ``shifted [batch, 1, h, w]``, ``condition [batch, D, h, w]`` → two ``[batch, 1, h, w]``.
    """

    def __init__(self, *, channels: int, condition_dim: int, layers: int, kernel_width: int) -> None:
        super().__init__()
        self.start = nn.Conv2d(1, channels, 1)
        self.layers = nn.ModuleList(
            GatedLayer(channels, condition_dim, kernel_width=kernel_width, width_dilation=2**i) for i in range(layers)
        )
        self.end = nn.Conv2d(channels, 2, 1)
        # Zero at the start: every flow begins as the identity, which keeps early training stable.
        nn.init.zeros_(self.end.weight)
        nn.init.zeros_(self.end.bias)

    def forward(self, shifted: torch.Tensor, condition: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.start(shifted)
        skips = 0
        for layer in self.layers:
            x, skip = layer(x, condition)
            skips = skips + skip
        log_scale, shift = self.end(torch.relu(skips)).chunk(2, dim=1)
        return log_scale, shift

    def step(
        self, shifted_row: torch.Tensor, condition_row: torch.Tensor, cache: list[torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The affine parameters of one row (``[batch, 1, 1, w]`` each), updating ``cache`` (each layer's last two
        input rows) in place: sampling a flow costs one pass over its rows, like training, not one per row."""
        x = self.start(shifted_row)
        skips = 0
        for index, layer in enumerate(self.layers):
            x, skip, cache[index] = layer.step(x, condition_row, cache[index])
            skips = skips + skip
        log_scale, shift = self.end(torch.relu(skips)).chunk(2, dim=1)
        return log_scale, shift

    def empty_cache(self, batch: int, width: int, *, device: torch.device) -> list[torch.Tensor]:
        channels = self.start.out_channels
        return [torch.zeros(batch, channels, 2, width, device=device) for _ in self.layers]


def shift_down(rows: torch.Tensor) -> torch.Tensor:
    """Rows moved down by one with a zero row on top: row ``i`` of the result is row ``i − 1`` of the input."""
    return F.pad(rows, (0, 0, 1, 0))[:, :, :-1]


class AffineRowFlow(nn.Module):
    """One autoregressive affine flow over rows: ``z_i = x_i · exp(s_i(x_<i, c)) + t_i(x_<i, c)``.

    Shapes: ``x, z [batch, 1, h, w]``, ``condition [batch, D, h, w]``.
    """

    def __init__(self, *, channels: int, condition_dim: int, layers: int, kernel_width: int) -> None:
        super().__init__()
        self.network = FlowNetwork(
            channels=channels, condition_dim=condition_dim, layers=layers, kernel_width=kernel_width
        )

    def forward(self, x: torch.Tensor, condition: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x → (z, log-determinant per item ``[batch]``): all rows at once (training)."""
        log_scale, shift = self.network(shift_down(x), condition)
        return x * torch.exp(log_scale) + shift, log_scale.flatten(1).sum(dim=1)

    def inverse(self, z: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """z → x, one row at a time, each layer's earlier rows cached (the inverse needs row ``i − 1`` of x before
        it can compute row ``i``)."""
        batch, _, height, width = z.shape
        cache = self.network.empty_cache(batch, width, device=z.device)
        rows = []
        previous = torch.zeros_like(z[:, :, :1])
        for row in range(height):
            log_scale, shift = self.network.step(previous, condition[:, :, row : row + 1], cache)
            previous = (z[:, :, row : row + 1] - shift) * torch.exp(-log_scale)
            rows.append(previous)
        return torch.cat(rows, dim=2)
