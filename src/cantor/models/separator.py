"""The TCN-VAE source separator.

mixture ──STFT──► log-magnitude frames ──► embedding ──► TCN (or BLSTM) encoder ──► VAE bottleneck z
                                               │                                         │
                                               └─────────────── skip ──────────┐         ▼
                                                                              reconstruction network (TCN)
                                                                                         │
                        sources ◄──iSTFT── softmax masks × mixture STFT ◄────────────────┘

With ``reconstruction="vocoder"`` the reconstruction network predicts each source's log-mel instead of an STFT mask
(the mixture's log-mel plus the log of a softmax mask over the sources), and a GAN vocoder (Cantor's own, its
weights loaded before training: the seed's "initialise from a pretrained WaveGlow/MelGAN") turns it into that
source's waveform; the mixture's residual is then shared equally among the sources, which restores mixture
consistency.

Why this shape: on two CPU cores a time-domain network at 44.1 kHz costs seconds per training step, while a model
over STFT frames (one frame per 512 samples) trains at ~2 s per batch and runs far faster than real time. Softmax
masks over the sources make the estimates add up to the mixture exactly (mixture consistency), because the iSTFT is
linear. The reconstruction network sees the latent ``z`` and a skip of the mixture embedding: ``z`` carries what
the encoder learned about the sources, the skip the fine spectral detail a 64-dimensional latent cannot hold.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from cantor.features.mel import MelConfig
from cantor.features.stft import ISTFT, STFT, STFTConfig
from cantor.models.vocoder import GANVocoder, GANVocoderConfig
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
    reconstruction: str = "mask"
    vocoder: GANVocoderConfig | None = None

    def __post_init__(self) -> None:
        if self.encoder not in ("tcn", "lstm"):
            raise ValueError(f"encoder must be 'tcn' or 'lstm', got {self.encoder!r}")
        if len(self.sources) < 2:
            raise ValueError("a separator needs at least two sources")
        if self.reconstruction not in ("mask", "vocoder"):
            raise ValueError(f"reconstruction must be 'mask' or 'vocoder', got {self.reconstruction!r}")
        if self.reconstruction == "vocoder":
            if self.vocoder is None:
                raise ValueError("reconstruction='vocoder' needs a vocoder config")
            if self.vocoder.mel.stft != self.stft or self.vocoder.mel.sample_rate != self.sample_rate:
                raise ValueError("the vocoder's STFT and sample rate must be the separator's (frames must align)")

    @property
    def receptive_field_samples(self) -> int:
        """Samples on each side of an output sample that can change it (the TCN's reach plus one STFT window).

        Infinite (``-1``) for the BLSTM encoder, whose context is the whole input.
        """
        if self.encoder == "lstm":
            return -1
        frames = (self.encoder_tcn.receptive_field + self.decoder_tcn.receptive_field) // 2
        if self.vocoder is not None and self.reconstruction == "vocoder":
            frames += self.vocoder.context_frames
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
        if payload.get("vocoder"):
            vocoder = dict(payload["vocoder"])
            mel = dict(vocoder["mel"])
            mel["stft"] = STFTConfig(**mel["stft"])
            vocoder["mel"] = MelConfig(**mel)
            payload["vocoder"] = GANVocoderConfig(**vocoder)
        return SeparatorConfig(**payload)


class SeparatorOutput:
    """``sources`` ``[batch, sources, channels, time]``; ``latent`` the bottleneck; ``spec`` the sources' complex
    STFTs ``[batch, sources, channels, bins, frames]``, computed on first use: inference rarely needs them, and the
    masked spectra of every source took a tenth of the forward pass."""

    def __init__(self, sources: torch.Tensor, latent: LatentOutput, spec: Callable[[], torch.Tensor]) -> None:
        self.sources = sources
        self.latent = latent
        self._compute_spec = spec

    @functools.cached_property
    def spec(self) -> torch.Tensor:
        return self._compute_spec()


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
        if config.reconstruction == "mask":
            self.mask_head = nn.Conv1d(config.hidden, len(config.sources) * features, 1)
        else:
            mel = config.vocoder.mel
            self.register_buffer("mel_filters", mel.filterbank(), persistent=False)
            # Logits of a softmax mask over the sources, per mel band and frame.
            self.mel_head = nn.Conv1d(config.hidden, len(config.sources) * config.channels * mel.n_mels, 1)
            self.vocoder = GANVocoder(config.vocoder)

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
        if self.config.reconstruction == "vocoder":
            return self._vocode(mixture, spec, hidden, latent)
        # Frame-major from here on: the mask head as a matrix product over frames, and torch.stft's output, which is
        # frame-major seen transposed, give masked spectra already in the layout the inverse FFT reads, with no
        # transposing copy of the largest tensors in the model.
        count = len(self.config.sources)
        weight, bias = self.mask_head.weight.squeeze(-1), self.mask_head.bias
        logits = F.linear(hidden.transpose(1, 2), weight, bias).reshape(batch, frames, count, channels, -1)
        # float32 from here even under bfloat16 autocast: masks with an 8-bit mantissa agreed 0.2–1.5 dB less with
        # float32 stems (and chunked output 2–5 dB less with a whole-file pass).
        masks = torch.softmax(logits.float(), dim=2).permute(0, 2, 3, 1, 4)  # (B, S, C, N, F), sums to one over sources
        spec_frames = spec.transpose(-1, -2)  # (B, C, N, F)
        # The masks sum to one and the iSTFT is linear, so the last source is the mixture minus the others: one
        # inverse STFT fewer, and the stems add up to the input exactly. Real masks on the real and imaginary parts:
        # a real × complex product would first copy the masks to complex. The spectrum goes first: the product takes
        # its (source-major) layout, which the inverse FFT reads as it is; after the masks, it would take theirs
        # (frame-major) and be copied before the FFT.
        masked = torch.view_as_complex(torch.view_as_real(spec_frames).unsqueeze(1) * masks[:, :-1].unsqueeze(-1))
        others = self.istft.from_frames(masked, length=length)  # (B, S − 1, C, T)
        sources = torch.cat([others, mixture.unsqueeze(1) - others.sum(dim=1, keepdim=True)], dim=1)  # (B, S, C, T)
        return SeparatorOutput(sources, latent, spec=lambda: masks.transpose(-1, -2) * spec.unsqueeze(1))

    def _vocode(
        self, mixture: torch.Tensor, spec: torch.Tensor, hidden: torch.Tensor, latent: LatentOutput
    ) -> SeparatorOutput:
        batch, channels, length = mixture.shape
        count, frames = len(self.config.sources), spec.shape[-1]
        floor = self.config.vocoder.mel.log_floor
        mixture_mel = torch.log(torch.clamp(torch.matmul(self.mel_filters, spec.abs()), min=floor))  # (B, C, M, N)
        logits = self.mel_head(hidden).reshape(batch, count, channels, -1, frames)
        # A mask on the mel magnitudes, as a log added to the mixture's log-mel; the floor keeps the vocoder's input
        # inside the range it was trained on. Neither this nor free offsets separated in the ablation: the network
        # learns to silence the vocoder, whose invented phase loses to the mixture / S under these losses
        # (benchmarks/results/separation-ablations-vocoder.md).
        masked = mixture_mel.unsqueeze(1) + torch.log_softmax(logits, dim=1)
        source_mels = masked.clamp_min(math.log(floor)).reshape(batch * count * channels, -1, frames)
        voiced = self.vocoder(source_mels)  # (B·S·C, (N − 1)·hop)
        voiced = F.pad(voiced, (0, max(0, length - voiced.shape[-1])))[..., :length]
        sources = voiced.reshape(batch, count, channels, length)
        # Mixture consistency: the part of the mixture no source explains is shared equally.
        sources = sources + (mixture.unsqueeze(1) - sources.sum(dim=1, keepdim=True)) / count
        return SeparatorOutput(sources, latent, spec=lambda: self.stft(sources))
