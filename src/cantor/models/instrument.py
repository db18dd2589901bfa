"""Instrument recognition: a CNN front end and a deep LSTM over CQT frames → GM family and GM program.

The CNN turns each ~46 ms slice of the CQT into a timbre vector (spectral envelope, partial structure); the stacked
LSTM follows how it evolves (attack, decay, vibrato), which is where instruments with similar spectra differ.
Per-frame outputs are averaged over a clip, weighted by loudness so that rests (which sound like nothing in
particular) do not outvote the notes; the same network labels a 3-s segment or a whole stem.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from cantor.data.instruments import DRUM_PROGRAM_LABEL, FAMILIES
from cantor.features.cqt import CQTConfig, log_compress

INSTRUMENT_KIND = "instrument-classifier"


@dataclass(frozen=True)
class InstrumentClassifierConfig:
    cqt: CQTConfig = field(default_factory=CQTConfig)
    channels: tuple[int, ...] = (16, 32, 64)  # CNN blocks; each halves time and divides frequency
    hidden: int = 192  # LSTM units
    layers: int = 3  # the "deep" LSTM
    families: tuple[str, ...] = FAMILIES
    programs: int = DRUM_PROGRAM_LABEL + 1  # 128 GM programs + drum kit

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @staticmethod
    def from_dict(payload: dict) -> InstrumentClassifierConfig:
        payload = dict(payload)
        payload["cqt"] = CQTConfig(**payload.get("cqt", {}))
        payload["channels"] = tuple(payload.get("channels", (16, 32, 64)))
        payload["families"] = tuple(payload.get("families", FAMILIES))
        return InstrumentClassifierConfig(**payload)


class InstrumentClassifier(nn.Module):
    """CQT magnitude ``[batch, bins, frames]`` → ``(family_logits [batch, F], program_logits [batch, P])``.

    ``frame_logits`` gives the per-frame version ``[batch, frames / 2^blocks, F]`` for segment-level labels.
    """

    def __init__(self, config: InstrumentClassifierConfig) -> None:
        super().__init__()
        self.config = config
        blocks: list[nn.Module] = []
        bins, previous = config.cqt.n_bins, 1
        pools = [config.cqt.bins_per_semitone] + [2] * (len(config.channels) - 1)
        for width, pool in zip(config.channels, pools, strict=True):
            blocks += [
                nn.Conv2d(previous, width, 3, padding=1),
                nn.BatchNorm2d(width),
                nn.GELU(),
                nn.MaxPool2d((pool, 2)),
            ]
            bins //= pool
            previous = width
        self.cnn = nn.Sequential(*blocks)
        self.time_stride = 2 ** len(config.channels)
        self.lstm = nn.LSTM(previous * bins, config.hidden, num_layers=config.layers, batch_first=True)
        self.family_head = nn.Linear(config.hidden, len(config.families))
        self.program_head = nn.Linear(config.hidden, config.programs)

    def frame_features(self, cqt: torch.Tensor) -> torch.Tensor:
        """``[batch, bins, frames]`` → LSTM outputs ``[batch, frames / 2^blocks, hidden]``: the timbre embedding."""
        x = self.cnn(log_compress(cqt)[:, None])  # (B, C, bins', N')
        x = x.flatten(1, 2).transpose(1, 2)  # (B, N', C·bins')
        x, _ = self.lstm(x)
        return x

    def forward(self, cqt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        family_logits, program_logits, _ = self.classify(cqt)
        return family_logits, program_logits

    def classify(self, cqt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``forward``'s logits and the :meth:`frame_features` they pool (one LSTM pass for both)."""
        features = self.frame_features(cqt)  # (B, N', H)
        loudness = F.avg_pool1d(cqt.mean(dim=1, keepdim=True), self.time_stride)[:, 0, : features.shape[1]]
        weights = loudness / (loudness.sum(dim=1, keepdim=True) + 1e-8)  # (B, N'), all zero for silence
        uniform = torch.full_like(weights, 1.0 / weights.shape[1])
        weights = torch.where(loudness.sum(dim=1, keepdim=True) > 1e-6, weights, uniform)
        pooled = torch.einsum("bn,bnh->bh", weights, features)
        return self.family_head(pooled), self.program_head(pooled), features
