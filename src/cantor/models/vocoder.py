"""Neural vocoders: log-mel frames in, waveform out. Two families share one mel front end (:class:`MelConfig`).

* :class:`GANVocoder` — ConvNeXt backbone over mel frames and an inverse-STFT head (Vocos, Siuzdak 2023; iSTFTNet):
  the network predicts each frame's magnitude and phase and one inverse FFT makes the samples, so it runs at the
  frame rate (86 frames/s) instead of the sample rate. Trained with reconstruction losses, then adversarially.
  A network that is convolutional over frames gives a steady input the same output in every frame, and identical
  frames overlap-add to a signal periodic in one hop: with phases in each frame's own time (``phase="local"``) a
  held note comes out at the nearest multiple of ``sample_rate / hop`` (86 Hz). ``phase="accumulated"`` adds a
  path whose phase advances from frame to frame, as a steady partial's does: at the frequency of the spectral peak
  each bin belongs to (read off the predicted magnitudes, as a phase vocoder locks bins to peaks), summed over
  frames (carried across chunks by the :class:`~cantor.inference.vocode.Vocoder`), and a per-bin gate between
  the two paths (transients keep the local phase).
* :class:`WaveFlow` — a flow trained by maximum likelihood (Ping et al., 2020). The squeeze height ``h`` is the
  preset's knob: ``h = 2`` is a WaveGlow-like bipartite coupling (two groups, almost parallel), large ``h`` a
  WaveNet-like autoregressive model (``h`` sequential steps per flow). ``h = 1`` leaves no rows to condition on —
  each sample would depend on the mel alone — so the smallest height is 2.

Both map ``[batch, n_mels, frames]`` to ``[batch, (frames − 1) · hop_length]`` samples: a mel computed (centred)
from ``T`` samples has ``T // hop_length + 1`` frames.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import torch
from torch import nn

from cantor.features.mel import MelConfig
from cantor.features.stft import ISTFT, STFTConfig
from cantor.nn.convnext import ConvNeXtBackbone
from cantor.nn.flows import AffineRowFlow, squeeze, squeeze_features, unsqueeze

VOCODER_KIND = "vocoder"  # the "kind" written beside vocoder weights
FAMILIES = ("gan", "waveflow")
PHASE_MODELS = ("local", "accumulated")


@dataclass(frozen=True)
class GANVocoderConfig:
    """ConvNeXt backbone (``layers`` blocks of width ``dim``) and an iSTFT head with the mel's own STFT."""

    mel: MelConfig = field(default_factory=MelConfig)
    dim: int = 256
    intermediate: int = 768
    layers: int = 8
    kernel_size: int = 7
    max_log_magnitude: float = 6.0  # exp(6) ≈ 400: no real frame is louder; keeps early training finite
    phase: str = "local"  # "local": per-frame phase only; "accumulated": plus a phase advancing across frames

    def __post_init__(self) -> None:
        if self.phase not in PHASE_MODELS:
            raise ValueError(f"phase must be one of {', '.join(PHASE_MODELS)}, got {self.phase!r}")
        if self.phase == "accumulated" and self.mel.stft.n_fft % self.mel.stft.hop_length:
            raise ValueError("accumulated phase needs a hop that divides n_fft (each bin's advance is then exact)")

    @property
    def head_outputs(self) -> int:
        """Values per frequency bin: log-magnitude and phase; with accumulated phase also the gate."""
        return 2 if self.phase == "local" else 3

    @property
    def context_frames(self) -> int:
        """Frames on each side that can change an output frame (backbone reach + the iSTFT's overlap)."""
        return (self.layers + 1) * (self.kernel_size - 1) // 2 + self.mel.stft.n_fft // self.mel.stft.hop_length // 2


@dataclass(frozen=True)
class WaveFlowConfig:
    """WaveFlow's size in the paper's letters: ``flows``; ``layers`` (L) per flow; ``channels`` (C, the residual
    kernels); ``condition_dim`` (D, the conditioning features); ``height`` (h), the squeeze height.

    ``attention_window`` > 0 adds a non-local block: multi-head self-attention over the conditioning frames, each
    frame attending to ``±attention_window`` frames (a bounded window keeps chunked decoding exact).
    """

    mel: MelConfig = field(default_factory=MelConfig)
    height: int = 16
    flows: int = 6
    layers: int = 6
    channels: int = 48
    condition_dim: int = 64
    kernel_width: int = 3
    attention_window: int = 0
    attention_heads: int = 4
    sigma: float = 1.0

    def __post_init__(self) -> None:
        if self.height < 2:
            raise ValueError(f"height must be at least 2 (h = 1 has no rows to condition on), got {self.height}")
        if self.mel.stft.hop_length % self.height:
            raise ValueError(f"height {self.height} must divide hop_length {self.mel.stft.hop_length}")

    @property
    def context_frames(self) -> int:
        """Frames on each side that can change an output sample: every flow reaches ``(kernel_width − 1) / 2 ·
        (2^layers − 1)`` columns of ``height`` samples further, and the conditioner one frame (plus attention)."""
        columns = self.flows * ((self.kernel_width - 1) // 2 * (2**self.layers - 1) + 1)
        frames = math.ceil(columns * self.height / self.mel.stft.hop_length)
        return frames + 2 + self.attention_window


@dataclass(frozen=True)
class VocoderConfig:
    """A vocoder: its family and that family's config (the other is ``None``)."""

    family: str = "gan"
    gan: GANVocoderConfig | None = None
    waveflow: WaveFlowConfig | None = None

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {', '.join(FAMILIES)}, got {self.family!r}")
        if (self.gan is None) == (self.waveflow is None) or getattr(self, self.family) is None:
            raise ValueError(f"a {self.family} vocoder config needs exactly its own section")

    @property
    def mel(self) -> MelConfig:
        return self.family_config.mel

    @property
    def family_config(self) -> GANVocoderConfig | WaveFlowConfig:
        return self.gan if self.family == "gan" else self.waveflow

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @staticmethod
    def from_dict(payload: dict) -> VocoderConfig:
        family = payload["family"]
        section = dict(payload[family])
        mel = dict(section["mel"])
        mel["stft"] = STFTConfig(**mel["stft"])
        section["mel"] = MelConfig(**mel)
        family_config = GANVocoderConfig(**section) if family == "gan" else WaveFlowConfig(**section)
        return VocoderConfig(family=family, **{family: family_config})


class GANVocoder(nn.Module):
    """Mel → ConvNeXt → per-frame log-magnitude and phase (with accumulated phase, also a gate) → inverse STFT.

    Shapes: ``mel [batch, n_mels, frames]`` → ``audio [batch, (frames − 1) · hop_length]``.
    """

    def __init__(self, config: GANVocoderConfig) -> None:
        super().__init__()
        self.config = config
        self.backbone = ConvNeXtBackbone(
            config.mel.n_mels,
            dim=config.dim,
            intermediate=config.intermediate,
            layers=config.layers,
            kernel_size=config.kernel_size,
        )
        self.head = nn.Linear(config.dim, config.head_outputs * config.mel.stft.n_bins)
        self.istft = ISTFT(config.mel.stft)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self.synthesize(mel)[0]

    def synthesize(
        self, mel: torch.Tensor, *, start_frame: int = 0, anchor: tuple[int, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """``mel`` whose first frame is frame ``start_frame`` of a longer signal → (audio, the accumulated drift
        ``[batch, frames, n_bins]`` in radians or ``None`` with local phase, the predicted log-magnitudes
        ``[batch, frames, n_bins]``: a training target).

        ``anchor = (frame, drift)`` pins the drift at that frame of this mel (``drift [batch, n_bins]``, as an
        earlier chunk reached it), so a chunk continues the whole signal's phase; without it the drift starts at 0.
        """
        config, stft = self.config, self.config.mel.stft
        hidden = self.backbone(mel)  # (B, F, dim)
        # (B, F, bins) each: frame-major, as the inverse FFT reads them
        outputs = self.head(hidden).chunk(config.head_outputs, dim=-1)
        magnitude = torch.exp(torch.clamp(outputs[0], max=config.max_log_magnitude))
        # Phase as an angle, not (re, im): the magnitude alone sets the level, so the network can't cheat loudness.
        # (cos and sin written out: torch.polar took 6× as long on one CPU thread, 15 ms vs 2.6 ms per 10 s.)
        phase = outputs[1]
        length = (mel.shape[-1] - 1) * stft.hop_length
        if config.phase == "local":
            spec = torch.complex(magnitude * torch.cos(phase), magnitude * torch.sin(phase))
            return self.istft.from_frames(spec, length=length), None, outputs[0]
        gate = torch.sigmoid(outputs[2])
        # A partial at bin k + d advances 2π (k + d) · hop / n_fft per frame. The k part is exact from the absolute
        # frame number (hop divides n_fft); the drift d is read off the predicted magnitudes (the offset of the
        # spectral peak each bin belongs to, as a phase vocoder locks bins to peaks) and summed over the frames.
        # Learnt freely instead, the drift never found the partials: the phase it feeds is too rugged a landscape.
        drift_rate = peak_offsets(outputs[0].detach())
        drift = torch.cumsum(drift_rate, dim=1) * (2 * math.pi * stft.hop_length / stft.n_fft)
        if anchor is not None:
            frame, value = anchor
            drift = drift - drift[:, frame : frame + 1] + value[:, None]
        ratio = stft.n_fft // stft.hop_length
        frames = torch.arange(start_frame, start_frame + mel.shape[-1], device=mel.device)
        bins = torch.arange(stft.n_bins, device=mel.device)
        centre = ((frames[:, None] * bins[None, :]) % ratio).to(phase.dtype) * (2 * math.pi / ratio)
        held = phase + centre + drift
        local_share, held_share = magnitude * (1 - gate), magnitude * gate
        real = local_share * torch.cos(phase) + held_share * torch.cos(held)
        imag = local_share * torch.sin(phase) + held_share * torch.sin(held)
        return self.istft.from_frames(torch.complex(real, imag), length=length), drift, outputs[0]

    @staticmethod
    def with_accumulated_phase(local: GANVocoder, *, gate_bias: float = -3.0) -> GANVocoder:
        """A vocoder with accumulated phase that starts from ``local``: the same backbone, magnitude and phase, and the
        gate at ``sigmoid(gate_bias)`` (−3: mostly the local path; +3: mostly the held one)."""
        config = dataclasses.replace(local.config, phase="accumulated")
        model = GANVocoder(config)
        model.backbone.load_state_dict(local.backbone.state_dict())
        bins = config.mel.stft.n_bins
        with torch.no_grad():
            model.head.weight.zero_()
            model.head.bias.zero_()
            model.head.weight[: 2 * bins] = local.head.weight
            model.head.bias[: 2 * bins] = local.head.bias
            model.head.bias[2 * bins :] = gate_bias
        return model


def peak_offsets(log_magnitude: torch.Tensor) -> torch.Tensor:
    """For every bin of every frame, how far (in bins) the spectral peak it belongs to lies from it: the nearest
    local maximum's bin plus its parabolic offset (through the log-magnitudes of the maximum and its neighbours,
    within ±0.5), minus the bin. A steady partial between bins k and k + 1 gives each bin of its peak the same
    frequency, so they all advance alike. Shapes: ``[..., bins]`` → same.
    """
    bins = log_magnitude.shape[-1]
    below = torch.cat([log_magnitude[..., :1], log_magnitude[..., :-1]], dim=-1)  # bin k − 1 (edge repeated)
    above = torch.cat([log_magnitude[..., 1:], log_magnitude[..., -1:]], dim=-1)  # bin k + 1
    is_peak = (log_magnitude >= below) & (log_magnitude > above)
    curvature = below - 2 * log_magnitude + above
    safe = torch.where(curvature < 0, curvature, torch.full_like(curvature, -1.0))
    offset = torch.where(is_peak & (curvature < 0), 0.5 * (below - above) / safe, torch.zeros_like(curvature))
    offset = offset.clamp(-0.5, 0.5)
    index = torch.arange(bins, device=log_magnitude.device).expand_as(log_magnitude)
    # the last peak at or below each bin, and the first at or above it (sentinels where a side has none)
    before = torch.cummax(torch.where(is_peak, index, torch.full_like(index, -2 * bins)), dim=-1).values
    after = torch.where(is_peak, index, torch.full_like(index, 3 * bins)).flip(-1).cummin(dim=-1).values.flip(-1)
    peak = torch.where(index - before <= after - index, before, after)
    if bins and not bool(is_peak.any(dim=-1).all()):  # a flat frame has no peak: its bins keep their own centre
        peak = torch.where(is_peak.any(dim=-1, keepdim=True), peak, index)
    peak = peak.clamp(0, bins - 1)
    return peak - index + torch.gather(offset, -1, peak)


@dataclass
class FlowOutput:
    """``z [batch, T]`` (the audio mapped to noise) and ``log_det [batch]`` (sum of the flows' log-scales)."""

    z: torch.Tensor
    log_det: torch.Tensor


class LocalAttention(nn.Module):
    """Self-attention over frames, each frame seeing ``±window`` frames, plus the residual.

    Shapes: ``[batch, dim, frames]`` → same.
    """

    def __init__(self, dim: int, *, heads: int, window: int) -> None:
        super().__init__()
        self.window = window
        self.norm = nn.LayerNorm(dim)
        self.attention = nn.MultiheadAttention(dim, heads, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        frames = x.shape[-1]
        index = torch.arange(frames, device=x.device)
        blocked = (index[:, None] - index[None, :]).abs() > self.window  # True = may not attend
        y = self.norm(x.transpose(1, 2))
        attended, _ = self.attention(y, y, y, attn_mask=blocked, need_weights=False)
        return x + attended.transpose(1, 2)


class WaveFlow(nn.Module):
    """WaveFlow: ``flows`` autoregressive affine flows over the squeezed waveform, rows reversed between flows.

    ``forward(audio, mel)`` maps audio to noise for the likelihood; ``infer(mel)`` samples audio from noise.
    Shapes: ``audio [batch, T]`` with ``T = (frames − 1) · hop_length``, ``mel [batch, n_mels, frames]``.
    """

    def __init__(self, config: WaveFlowConfig) -> None:
        super().__init__()
        self.config = config
        self.condition_in = nn.Conv1d(config.mel.n_mels, config.condition_dim, 3, padding=1)
        self.attention = (
            LocalAttention(config.condition_dim, heads=config.attention_heads, window=config.attention_window)
            if config.attention_window
            else None
        )
        self.flows = nn.ModuleList(
            AffineRowFlow(
                channels=config.channels,
                condition_dim=config.condition_dim,
                layers=config.layers,
                kernel_width=config.kernel_width,
            )
            for _ in range(config.flows)
        )

    def _condition(self, mel: torch.Tensor) -> torch.Tensor:
        """Mel frames → ``[batch, D, h, w]``: features per frame, repeated to the samples each frame centres on."""
        features = self.condition_in(mel)
        if self.attention is not None:
            features = self.attention(features)
        hop = self.config.mel.stft.hop_length
        length = (mel.shape[-1] - 1) * hop
        nearest = (torch.arange(length, device=mel.device) + hop // 2) // hop  # centred frames: frame f ↔ f·hop
        return squeeze_features(features[:, :, nearest], self.config.height)

    def forward(self, audio: torch.Tensor, mel: torch.Tensor) -> FlowOutput:
        condition = self._condition(mel)
        x = squeeze(audio, self.config.height)
        log_det = audio.new_zeros(audio.shape[0])
        for flow in self.flows:
            x, flow_log_det = flow(x, condition)
            log_det = log_det + flow_log_det
            # Reverse the rows so the next flow's autoregressive order runs the other way.
            x, condition = x.flip(2), condition.flip(2)
        return FlowOutput(z=unsqueeze(x), log_det=log_det)

    def negative_log_likelihood(self, audio: torch.Tensor, mel: torch.Tensor) -> torch.Tensor:
        """Mean negative log-likelihood per sample, in nats, under a Gaussian prior of scale ``sigma``."""
        output = self(audio, mel)
        sigma = self.config.sigma
        log_prior = -0.5 * (output.z / sigma) ** 2 - math.log(sigma) - 0.5 * math.log(2 * math.pi)
        return -(log_prior.sum(dim=1) + output.log_det).mean() / audio.shape[1]

    @torch.no_grad()
    def infer(self, mel: torch.Tensor, *, noise: torch.Tensor | None = None, temperature: float = 0.8) -> torch.Tensor:
        """Sample audio ``[batch, (frames − 1) · hop]`` for ``mel`` from standard-normal ``noise`` of that shape
        (drawn here when not given), scaled by ``sigma · temperature``; temperature 0 decodes the mean."""
        condition = self._condition(mel)
        batch, _, height, width = condition.shape
        if noise is None:
            noise = torch.randn(batch, height * width, device=mel.device)
        x = squeeze(noise, height) * self.config.sigma * temperature
        # Undo the flows last to first; flow k saw the condition reversed k times, and its output was reversed once.
        for index in reversed(range(len(self.flows))):
            condition_k = condition.flip(2) if index % 2 else condition
            x = self.flows[index].inverse(x.flip(2), condition_k)
        return unsqueeze(x)


def build_vocoder(config: VocoderConfig) -> nn.Module:
    return GANVocoder(config.gan) if config.family == "gan" else WaveFlow(config.waveflow)


__all__ = [
    "FAMILIES",
    "PHASE_MODELS",
    "VOCODER_KIND",
    "FlowOutput",
    "GANVocoder",
    "GANVocoderConfig",
    "VocoderConfig",
    "WaveFlow",
    "WaveFlowConfig",
    "build_vocoder",
    "peak_offsets",
]
