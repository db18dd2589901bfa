"""The stem TCN-VAE: a stem's log-mel ↔ a slow latent sequence, for audio variations.

log-mel [M, N] ──► embedding ──► TCN ──► strided conv (÷ stride) ──► VAE bottleneck z [D, N / stride]
                                                                              │
log-mel [M, N] ◄── projection ◄── TCN ◄── transposed conv (× stride) ◄───────┘

The same building blocks as the separator (TCN feature extractor, variational bottleneck, TCN reconstruction
network), but an autoencoder of one stem whose decoder sees *only* the latent: the separator's decoder also sees a
skip of the mixture and masks it, so moving its latent cannot make new sound. The latent runs at a quarter of the
frame rate (46 ms at 44.1 kHz and hop 512), so a change of ``z`` shapes a note's colour and envelope rather than
one frame. The mel is the vocoder's (same filterbank and hop), so Cantor's GAN vocoder voices what this decodes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from cantor.features.mel import MelConfig
from cantor.features.stft import STFTConfig
from cantor.nn.tcn import TCN, FrameNorm, TCNConfig
from cantor.nn.vae import BottleneckConfig, LatentOutput, VariationalBottleneck

STEM_VAE_KIND = "stem-vae"
# Log-mels (natural log of magnitudes floored at 1e-5) lie in about [-11.5, 5]; the network works on
# (mel − centre) / spread, a fixed map so that weights mean the same on every input.
MEL_CENTRE, MEL_SPREAD = -5.0, 3.0


@dataclass(frozen=True)
class StemVAEConfig:
    """Architecture of the stem TCN-VAE; ``mel`` must be the vocoder's (``vocoder`` names the one it was trained
    beside)."""

    mel: MelConfig = field(default_factory=MelConfig)
    vocoder: str = "gan"
    hidden: int = 256
    encoder_tcn: TCNConfig = field(default_factory=lambda: TCNConfig(dilations=(1, 2, 4, 8), repeats=2))
    stride: int = 4
    bottleneck: BottleneckConfig = field(default_factory=lambda: BottleneckConfig(latent_dim=32))
    decoder_tcn: TCNConfig = field(default_factory=lambda: TCNConfig(dilations=(1, 2, 4, 8), repeats=2))

    def __post_init__(self) -> None:
        if self.stride < 1:
            raise ValueError(f"stride must be at least 1, got {self.stride}")
        if self.bottleneck.kind != "vae" or self.bottleneck.prior != "gaussian":
            raise ValueError("the stem VAE needs a variational bottleneck with a Gaussian prior (variations sample it)")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @staticmethod
    def from_dict(payload: dict) -> StemVAEConfig:
        payload = dict(payload)
        mel = dict(payload["mel"])
        mel["stft"] = STFTConfig(**mel["stft"])
        payload["mel"] = MelConfig(**mel)
        payload["bottleneck"] = BottleneckConfig(**payload["bottleneck"])
        for key in ("encoder_tcn", "decoder_tcn"):
            tcn = dict(payload[key])
            tcn["dilations"] = tuple(tcn["dilations"])
            payload[key] = TCNConfig(**tcn)
        return StemVAEConfig(**payload)


class StemVAE(nn.Module):
    """Log-mel ``[batch, n_mels, frames]`` ↔ latent ``[batch, latent_dim, ceil(frames / stride)]``."""

    def __init__(self, config: StemVAEConfig) -> None:
        super().__init__()
        self.config = config
        hidden, mels, stride = config.hidden, config.mel.n_mels, config.stride
        self.embed = nn.Sequential(nn.Conv1d(mels, hidden, 1), FrameNorm(hidden), nn.PReLU())
        self.encoder = TCN(dataclasses.replace(config.encoder_tcn, channels=hidden))
        self.downsample = nn.Conv1d(hidden, hidden, stride, stride=stride)
        self.bottleneck = VariationalBottleneck(hidden, config.bottleneck)
        self.upsample = nn.ConvTranspose1d(config.bottleneck.latent_dim, hidden, stride, stride=stride)
        self.decoder = TCN(dataclasses.replace(config.decoder_tcn, channels=hidden))
        self.project = nn.Conv1d(hidden, mels, 1)

    def encode(self, mel: torch.Tensor) -> LatentOutput:
        """``[B, M, N]`` → posterior over ``[B, D, ceil(N / stride)]`` (the end padded with silence)."""
        if mel.ndim != 3 or mel.shape[1] != self.config.mel.n_mels:
            raise ValueError(f"expected a log-mel [batch, {self.config.mel.n_mels}, frames], got {list(mel.shape)}")
        pad = -mel.shape[-1] % self.config.stride
        silence = torch.log(torch.tensor(self.config.mel.log_floor)).item()
        x = (F.pad(mel, (0, pad), value=silence) - MEL_CENTRE) / MEL_SPREAD
        return self.bottleneck(self.downsample(self.encoder(self.embed(x))))

    def decode(self, z: torch.Tensor, frames: int | None = None) -> torch.Tensor:
        """``[B, D, L]`` → log-mel ``[B, M, frames]`` (default ``L · stride``)."""
        mel = self.project(self.decoder(self.upsample(z))) * MEL_SPREAD + MEL_CENTRE
        return mel if frames is None else mel[..., :frames]

    def forward(self, mel: torch.Tensor) -> tuple[torch.Tensor, LatentOutput]:
        """Training pass: the reconstruction from a posterior sample (its mean in eval mode) and the posterior."""
        latent = self.encode(mel)
        return self.decode(latent.z, mel.shape[-1]), latent
