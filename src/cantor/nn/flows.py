"""WaveFlow's building blocks: squeezing a waveform into rows, and the causal-in-height 2-D network of one flow.

Ping, Peng, Zhao & Song (2020), "WaveFlow: A Compact Flow-based Model for Raw Audio". The waveform ``x`` of length
``T`` is squeezed into an ``h × w`` matrix (``w = T / h``) whose column ``c`` holds samples ``c·h … c·h + h − 1``:
adjacent rows are adjacent samples. Each flow is autoregressive over the ``h`` rows and parallel along ``w``, so
sampling takes ``h`` sequential steps per flow instead of ``T``. With a ``group`` of ``G`` samples per cell (as
channels, WaveGlow's squeeze) the matrix is ``h × T / (h·G)``: the network runs once per cell rather than once per
sample, which divides the cost of sampling by about ``G``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def squeeze(audio: torch.Tensor, height: int, group: int = 1) -> torch.Tensor:
    """``[batch, T]`` → ``[batch, group, height, T / (height · group)]``: cell ``(j, c)`` holds the ``group`` samples
    from ``(c·height + j) · group`` on, as channels, so ``out[b, k, j, c] = audio[b, (c·height + j)·group + k]``."""
    batch, length = audio.shape
    return audio.view(batch, length // (height * group), height, group).permute(0, 3, 2, 1)


def squeeze_features(features: torch.Tensor, height: int) -> torch.Tensor:
    """``[batch, D, cells]`` → ``[batch, D, height, cells / height]``, laid out like :func:`squeeze`'s cells."""
    batch, dim, length = features.shape
    return features.view(batch, dim, length // height, height).transpose(2, 3)


def unsqueeze(rows: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`squeeze`: ``[batch, group, height, w]`` → ``[batch, height · w · group]``."""
    return rows.permute(0, 3, 2, 1).reshape(rows.shape[0], -1)


def _project(weight: torch.Tensor, bias: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """A 1×1 convolution on one row as the matrix product it is, item by item: ``weight [out, in, 1, 1]`` (or
    ``[out, in]``) on ``rows [batch, in, w]`` → ``[batch, out, w]``. (``conv2d`` on a one-row tensor took a slow path,
    and ``matmul`` of a matrix with a batch computes the transpose and copies it back.)"""
    weight = weight.flatten(1)
    out = rows.new_empty(rows.shape[0], weight.shape[0], rows.shape[2])
    for item in range(rows.shape[0]):
        torch.addmm(bias[:, None], weight, rows[item], out=out[item])
    return out


def _gated(preactivation: torch.Tensor) -> torch.Tensor:
    """WaveNet's gate: ``tanh(filter) · sigmoid(gate)``, the two halves of ``preactivation``'s channels."""
    filter_, gate = preactivation.chunk(2, dim=1)
    return torch.tanh(filter_) * torch.sigmoid(gate)


class RowWindow:
    """The last three input rows of one layer, as sampling needs them: one zero-padded buffer ``[batch, 3C, w + 2p]``
    whose three channel blocks take the rows in turn, so a new row is one copy and no padding is redone."""

    def __init__(self, batch: int, channels: int, width: int, padding: int, *, like: torch.Tensor) -> None:
        self.buffer = like.new_zeros(batch, 3 * channels, width + 2 * padding)  # like's device and dtype
        self.channels, self.width, self.padding = channels, width, padding
        self.newest = 2  # the block of the newest row; the rows above the first are the zeros

    def push(self, row: torch.Tensor) -> None:
        """Make ``row [batch, C, w]`` the newest row; the oldest is forgotten."""
        self.newest = (self.newest + 1) % 3
        block = slice(self.newest * self.channels, (self.newest + 1) * self.channels)
        self.buffer[:, block, self.padding : self.padding + self.width].copy_(row)

    def kernel_rows(self) -> list[int]:
        """For each block, the row of a height-3 kernel that meets it (2: the newest row, 0: two rows before)."""
        return [2 - (self.newest - block) % 3 for block in range(3)]


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
        gated = _gated(self.conv(padded) + self.condition(condition))
        return (x + self.residual(gated)) * math.sqrt(0.5), self.skip(gated)

    def step(
        self, row: torch.Tensor, condition_row: torch.Tensor, window: RowWindow
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One row ``[batch, C, w]``, pushed into ``window`` (which holds the rows before it), and the conditioning's
        row ``[batch, D, w]`` → (output row, skip row): the matching row of :meth:`forward`.

        The dilated convolution is one matrix product per column tap, reading shifted views of the window's padded
        buffer in place: as one ``conv2d`` on a padded copy of three rows it took 2.5× as long, and it is most of
        sampling.
        """
        window.push(row)
        preactivation = _project(self.condition.weight, self.condition.bias + self.conv.bias, condition_row)
        kernel_rows, width, dilation = window.kernel_rows(), window.width, self.conv.dilation[1]
        for tap in range(self.conv.kernel_size[1]):
            weight = torch.cat([self.conv.weight[:, :, kernel_row, tap] for kernel_row in kernel_rows], dim=1)
            for item in range(row.shape[0]):
                preactivation[item].addmm_(weight, window.buffer[item, :, tap * dilation : tap * dilation + width])
        gated = _gated(preactivation)
        residual, half = self.residual.weight.flatten(1), math.sqrt(0.5)
        out = torch.empty_like(row)
        for item in range(row.shape[0]):  # (row + residual · gated + bias) · √½, without the intermediate sum
            torch.addmm(row[item], residual, gated[item], beta=half, alpha=half, out=out[item])
        out.add_(self.residual.bias[:, None], alpha=half)
        return out, _project(self.skip.weight, self.skip.bias, gated)


class FlowNetwork(nn.Module):
    """The network of one flow: ``layers`` gated layers with column dilations 1, 2, 4, … → (log-scale, shift).

    Row ``i`` of the outputs depends on rows ``i − 2·layers … i`` of the input, so callers pass the rows *shifted
    down by one* and row ``i``'s affine parameters depend only on rows before it.
    Shapes: ``shifted [batch, G, h, w]``, ``condition [batch, D, h, w]`` → two ``[batch, G, h, w]`` (``G`` samples
    per cell, :func:`squeeze`'s ``group``).
    """

    def __init__(self, *, channels: int, condition_dim: int, layers: int, kernel_width: int, group: int = 1) -> None:
        super().__init__()
        self.start = nn.Conv2d(group, channels, 1)
        self.layers = nn.ModuleList(
            GatedLayer(channels, condition_dim, kernel_width=kernel_width, width_dilation=2**i) for i in range(layers)
        )
        self.end = nn.Conv2d(channels, 2 * group, 1)
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
        self, shifted_row: torch.Tensor, condition_row: torch.Tensor, windows: list[RowWindow]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The affine parameters of one row (``[batch, G, w]`` each) from the row before it (``[batch, G, w]``) and
        the conditioning's row (``[batch, D, w]``), each layer's earlier rows kept in ``windows``
        (:meth:`new_windows`): sampling a flow costs one pass over its rows, like training, not one per row."""
        x = _project(self.start.weight, self.start.bias, shifted_row)
        skips = 0
        for layer, window in zip(self.layers, windows, strict=True):
            x, skip = layer.step(x, condition_row, window)
            skips = skips + skip
        log_scale, shift = _project(self.end.weight, self.end.bias, torch.relu(skips)).chunk(2, dim=1)
        return log_scale, shift

    def new_windows(self, batch: int, width: int, *, like: torch.Tensor) -> list[RowWindow]:
        channels = self.start.out_channels
        return [RowWindow(batch, channels, width, layer.width_padding, like=like) for layer in self.layers]


def shift_down(rows: torch.Tensor) -> torch.Tensor:
    """Rows moved down by one with a zero row on top: row ``i`` of the result is row ``i − 1`` of the input."""
    return F.pad(rows, (0, 0, 1, 0))[:, :, :-1]


class AffineRowFlow(nn.Module):
    """One autoregressive affine flow over rows: ``z_i = y_i · exp(s_i(y_<i, c)) + t_i(y_<i, c)`` with ``y = M x``.

    ``M`` mixes the ``G`` samples of a cell (``group`` > 1): a fixed random rotation, drawn at construction and
    saved with the weights (as WaveGlow's invertible 1×1 convolution, but orthogonal, so its inverse is its
    transpose and its log-determinant zero). Without it a cell's samples would each be shifted and scaled on their
    own in every flow. Shapes: ``x, z [batch, G, h, w]``, ``condition [batch, D, h, w]``.
    """

    def __init__(self, *, channels: int, condition_dim: int, layers: int, kernel_width: int, group: int = 1) -> None:
        super().__init__()
        self.network = FlowNetwork(
            channels=channels, condition_dim=condition_dim, layers=layers, kernel_width=kernel_width, group=group
        )
        self.mixing: torch.Tensor | None
        if group > 1:
            rotation, _ = torch.linalg.qr(torch.randn(group, group, dtype=torch.float64))
            self.register_buffer("mixing", rotation.float())
        else:
            self.mixing = None

    def _mix(self, x: torch.Tensor, *, inverse: bool = False) -> torch.Tensor:
        if self.mixing is None:
            return x
        mixing = self.mixing.T if inverse else self.mixing
        return torch.einsum("gk,bkhw->bghw", mixing, x)

    def forward(self, x: torch.Tensor, condition: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x → (z, log-determinant per item ``[batch]``): all rows at once (training)."""
        y = self._mix(x)
        log_scale, shift = self.network(shift_down(y), condition)
        return y * torch.exp(log_scale) + shift, log_scale.flatten(1).sum(dim=1)

    @torch.no_grad()
    def inverse(self, z: torch.Tensor, condition: torch.Tensor, *, reversed_rows: bool = False) -> torch.Tensor:
        """z → x, one row at a time, each layer's earlier rows cached (the inverse needs row ``i − 1`` of y before
        it can compute row ``i``). ``reversed_rows``: ``condition``'s rows run the other way from ``z``'s (flows
        alternate their order, and reading rows backwards saves flipping a copy of the conditioning). For sampling
        only: the row products write into buffers, which autograd cannot follow."""
        batch, _, height, width = z.shape
        windows = self.network.new_windows(batch, width, like=z)
        rows = []
        previous = torch.zeros_like(z[:, :, 0])
        for row in range(height):
            condition_row = condition[:, :, height - 1 - row if reversed_rows else row]
            log_scale, shift = self.network.step(previous, condition_row, windows)
            previous = (z[:, :, row] - shift) * torch.exp(-log_scale)
            rows.append(previous)
        return self._mix(torch.stack(rows, dim=2), inverse=True)
