"""The TCN-VAE source separator.

mixture ──STFT──► log-magnitude frames ──► embedding ──► TCN (or BLSTM) encoder ──► VAE bottleneck z
                                               │                                         │
                                               └─────────────── skip ──────────┐         ▼
                                                                              reconstruction network (TCN)
                                                                                         │
                        sources ◄──iSTFT── softmax masks × mixture STFT ◄────────────────┘

Why this shape: on two CPU cores a time-domain network at 44.1 kHz costs seconds per training step, while a model
over STFT frames (one frame per 512 samples) trains at ~2 s per batch and runs far faster than real time. Softmax
masks over the sources make the estimates add up to the mixture exactly (mixture consistency), because the iSTFT is
linear. The reconstruction network sees the latent ``z`` and a skip of the mixture embedding: ``z`` carries what
the encoder learned about the sources, the skip the fine spectral detail a 64-dimensional latent cannot hold.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import torch
from torch import nn

from cantor.features.stft import ISTFT, STFT, STFTConfig
from cantor.nn.tcn import BLSTM, TCN, FrameNorm, TCNConfig
from cantor.nn.vae import BottleneckConfig, LatentOutput, VariationalBottleneck

SEPARATOR_KIND = "separator"  # the "kind" written beside separator weights


@dataclass(frozen=True)
class SeparatorConfig:
    """Everything that defines a separator's architecture (saved beside its weights)."""

    sources: tuple[str, ...] = ("drums", "bass", "melody", "other")
    sample_rate: int = 44100
    channels: int = 2
    stft: STFTConfig = field(default_factory=STFTConfig)
    hidden: int = 256
    encoder: str = "tcn"
    encoder_tcn: TCNConfig = field(default_factory=TCNConfig)
    lstm_layers: int = 2
    bottleneck: BottleneckConfig = field(default_factory=BottleneckConfig)
    decoder_tcn: TCNConfig = field(default_factory=lambda: TCNConfig(dilations=(1, 2, 4, 8), repeats=1))

    def __post_init__(self) -> None:
        if self.encoder not in ("tcn", "lstm"):
            raise ValueError(f"encoder must be 'tcn' or 'lstm', got {self.encoder!r}")
        if len(self.sources) < 2:
            raise ValueError("a separator needs at least two sources")

    @property
    def receptive_field_samples(self) -> int:
        """Samples on each side of an output sample that can change it (the TCN's reach plus one STFT window).

        Infinite (``-1``) for the BLSTM encoder, whose context is the whole input.
        """
        if self.encoder == "lstm":
            return -1
        frames = (self.encoder_tcn.receptive_field + self.decoder_tcn.receptive_field) // 2
        return frames * self.stft.hop_length + self.stft.n_fft

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @staticmethod
    def from_dict(payload: dict) -> SeparatorConfig:
        payload = dict(payload)
        payload["sources"] = tuple(payload["sources"])
        payload["stft"] = STFTConfig(**payload["stft"])
        payload["bottleneck"] = BottleneckConfig(**payload["bottleneck"])
        for key in ("encoder_tcn", "decoder_tcn"):
            tcn = dict(payload[key])
            tcn["dilations"] = tuple(tcn["dilations"])
            payload[key] = TCNConfig(**tcn)
        return SeparatorConfig(**payload)


@dataclass
class SeparatorOutput:
    """``sources`` ``[batch, sources, channels, time]``; ``spec`` their complex STFTs; ``latent`` the bottleneck."""

    sources: torch.Tensor
    spec: torch.Tensor
    masks: torch.Tensor
    latent: LatentOutput


class TCNVAESeparator(nn.Module):
    """Mixture ``[batch, channels, time]`` → :class:`SeparatorOutput`, one waveform per source, same length."""

    def __init__(self, config: SeparatorConfig) -> None:
        super().__init__()
        self.config = config
        bins = config.stft.n_bins
        features = config.channels * bins
        self.stft = STFT(config.stft)
        self.istft = ISTFT(config.stft)
        # Per-bin input normalisation, learned (log-magnitudes span very different ranges across frequency).
        self.input_shift = nn.Parameter(torch.zeros(features, 1))
        self.input_scale = nn.Parameter(torch.ones(features, 1))
        self.embed = nn.Sequential(nn.Conv1d(features, config.hidden, 1), FrameNorm(config.hidden), nn.PReLU())
        if config.encoder == "tcn":
            self.encoder: nn.Module = TCN(dataclasses.replace(config.encoder_tcn, channels=config.hidden))
        else:
            self.encoder = BLSTM(config.hidden, config.lstm_layers)
        self.bottleneck = VariationalBottleneck(config.hidden, config.bottleneck)
        self.expand = nn.Conv1d(config.bottleneck.latent_dim + config.hidden, config.hidden, 1)
        self.decoder = TCN(dataclasses.replace(config.decoder_tcn, channels=config.hidden))
        self.mask_head = nn.Conv1d(config.hidden, len(config.sources) * features, 1)

    def forward(self, mixture: torch.Tensor) -> SeparatorOutput:
        batch, channels, length = mixture.shape
        if channels != self.config.channels:
            raise ValueError(f"expected {self.config.channels} channels, got {channels}")
        spec = self.stft(mixture)  # (B, C, F, N) complex
        frames = spec.shape[-1]
        features = torch.log1p(spec.abs()).reshape(batch, -1, frames)  # (B, C·F, N)
        embedded = self.embed((features - self.input_shift) * self.input_scale)  # (B, H, N)
        latent = self.bottleneck(self.encoder(embedded))
        hidden = self.decoder(self.expand(torch.cat([latent.z, embedded], dim=1)))  # (B, H, N)
        logits = self.mask_head(hidden).reshape(batch, len(self.config.sources), channels, -1, frames)
        masks = torch.softmax(logits, dim=1)  # (B, S, C, F, N), sums to one over sources
        source_spec = masks * spec.unsqueeze(1)
        sources = self.istft(source_spec, length=length)  # (B, S, C, T)
        return SeparatorOutput(sources=sources, spec=source_spec, masks=masks, latent=latent)
