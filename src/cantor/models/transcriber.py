"""Note transcription: a CRNN over the CQT with onset, frame and offset outputs for the 88 piano keys.

Convolutions at a third of a semitone find partials; a stride-3 convolution lands on one row per key, where a
±6-semitone kernel and an octave-dilated one relate a note to its harmonics (pitch is a shift on this axis, so one
kernel serves every key), and a 1×1 convolution gives each key its own logits. A bidirectional LSTM then reads
the frames in order and adds a correction to every key's logits — the context that tells a repeated note from a
held one. The per-key path makes the model pitch-equivariant and quick to train; the LSTM alone learns each key
separately and stalls at "no notes". Polyphonic by construction: each key has its own sigmoids.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import torch
from torch import nn

from cantor.features.cqt import CQTConfig, log_compress

TRANSCRIBER_KIND = "transcriber"
NOTE_OUTPUTS = ("onset", "frame", "offset")


@dataclass(frozen=True)
class TranscriberConfig:
    cqt: CQTConfig = field(default_factory=CQTConfig)
    channels: int = 16  # of the fine-resolution convolutions
    key_channels: int = 16  # of the per-key convolutions (they dominate the cost: ~88·k²·39 MACs a frame)
    hidden: int = 128  # LSTM units per direction
    embedding: int = 256  # per-frame vector fed to the LSTM

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @staticmethod
    def from_dict(payload: dict) -> TranscriberConfig:
        payload = dict(payload)
        payload["cqt"] = CQTConfig(**payload.get("cqt", {}))
        return TranscriberConfig(**payload)


class Transcriber(nn.Module):
    """CQT magnitude ``[batch, bins, frames]`` → logits ``{onset, frame, offset}``, each ``[batch, 88, frames]``."""

    def __init__(self, config: TranscriberConfig) -> None:
        super().__init__()
        self.config = config
        c, k = config.channels, config.key_channels
        per_semitone = config.cqt.bins_per_semitone
        self.fine = nn.Sequential(
            nn.Conv2d(1, c, 3, padding=1),
            nn.GELU(),
            nn.Conv2d(c, c, 3, padding=1),
            nn.GELU(),
        )
        self.to_keys = nn.Conv2d(c, k, (per_semitone, 1), stride=(per_semitone, 1))
        self.keys = nn.Sequential(
            nn.GELU(),
            nn.Conv2d(k, k, (13, 3), padding=(6, 1)),
            nn.GELU(),
            nn.Conv2d(k, k, (3, 3), padding=(12, 1), dilation=(12, 1)),
            nn.GELU(),
            nn.Conv2d(k, 8, 1),
        )
        self.local_heads = nn.Conv2d(8, len(NOTE_OUTPUTS), 1)
        semitones = config.cqt.semitones
        self.embed = nn.Sequential(nn.Linear(8 * semitones, config.embedding), nn.LayerNorm(config.embedding))
        self.lstm = nn.LSTM(config.embedding, config.hidden, batch_first=True, bidirectional=True)
        self.heads = nn.Linear(2 * config.hidden, len(NOTE_OUTPUTS) * semitones)

    def forward(self, cqt: torch.Tensor) -> dict[str, torch.Tensor]:
        batch, _, frames = cqt.shape
        x = self.fine(log_compress(cqt)[:, None])  # (B, c, bins, N)
        keys = self.keys(self.to_keys(x))  # (B, 8, 88, N)
        x = self.embed(keys.reshape(batch, -1, frames).transpose(1, 2))  # (B, N, E)
        x, _ = self.lstm(x)  # (B, N, 2H)
        context = self.heads(x).transpose(1, 2).reshape(batch, len(NOTE_OUTPUTS), -1, frames)
        logits = self.local_heads(keys) + context  # (B, 3, 88, N)
        return {name: logits[:, index] for index, name in enumerate(NOTE_OUTPUTS)}
