"""Neural vocoders: log-mel frames in, waveform out. Two families share one mel front end (:class:`MelConfig`).

* :class:`GANVocoder` — ConvNeXt backbone over mel frames and an inverse-STFT head (Vocos, Siuzdak 2023; iSTFTNet):
  the network predicts each frame's magnitude and phase and one inverse FFT makes the samples, so it runs at the
  frame rate (86 frames/s) instead of the sample rate. Trained with reconstruction losses, then adversarially.
  A network that is convolutional over frames gives a steady input the same output in every frame, and identical
  frames overlap-add to a signal periodic in one hop: with phases in each frame's own time (``phase="local"``) a
  held note comes out at the nearest multiple of ``sample_rate / hop`` (86 Hz). With ``phase="held"`` each bin's
  phase advances from frame to frame, as a steady partial's does, at the frequency of the spectral peak the bin
  belongs to (read off the predicted magnitudes, as a phase vocoder locks bins to peaks), summed over frames
  (carried across chunks by the :class:`~cantor.inference.vocode.Vocoder`); the predicted phase is an offset to
  that advance.
* :class:`WaveFlow` — a flow trained by maximum likelihood (Ping et al., 2020). The squeeze height ``h`` is the
  preset's knob: ``h = 2`` is a WaveGlow-like bipartite coupling (two groups, almost parallel), large ``h`` a
  WaveNet-like autoregressive model (``h`` sequential steps per flow). ``h = 1`` leaves no rows to condition on —
  each sample would depend on the mel alone — so the smallest height is 2. ``group`` puts several samples in each
  cell of the squeezed matrix as channels, as WaveGlow squeezes: the network then runs once per cell, not per sample.

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
PHASE_MODELS = ("local", "held")


@dataclass(frozen=True)
class GANVocoderConfig:
    """ConvNeXt backbone (``layers`` blocks of width ``dim``) and an iSTFT head with the mel's own STFT."""

    mel: MelConfig = field(default_factory=MelConfig)
    dim: int = 256
    intermediate: int = 768
    layers: int = 8
    kernel_size: int = 7
    max_log_magnitude: float = 6.0  # exp(6) ≈ 400: no real frame is louder; keeps early training finite
    phase: str = "local"  # "local": each frame's phase in its own time; "held": an offset to a phase that advances

    def __post_init__(self) -> None:
        if self.phase not in PHASE_MODELS:
            raise ValueError(f"phase must be one of {', '.join(PHASE_MODELS)}, got {self.phase!r}")
        if self.phase != "local" and self.mel.stft.n_fft % self.mel.stft.hop_length:
            raise ValueError("held phase needs a hop that divides n_fft (each bin's advance is then exact)")

    @property
    def context_frames(self) -> int:
        """Frames on each side that can change an output frame (backbone reach + the iSTFT's overlap)."""
        return (self.layers + 1) * (self.kernel_size - 1) // 2 + self.mel.stft.n_fft // self.mel.stft.hop_length // 2


@dataclass(frozen=True)
class WaveFlowConfig:
    """WaveFlow's size in the paper's letters: ``flows``; ``layers`` (L) per flow; ``channels`` (C, the residual
    kernels); ``condition_dim`` (D, the conditioning features); ``height`` (h), the squeeze height.

    ``attention_window`` > 0 adds a non-local block: multi-head self-attention over the conditioning frames, each
    frame attending to ``±attention_window`` frames (a bounded window keeps chunked decoding exact). ``temperature``
    is the sampling temperature used when none is asked for, chosen for a trained model on its validation songs.
    ``group`` (G) samples share a cell of the squeezed matrix as channels: the network runs once per cell, so
    sampling costs about 1/G as much (see :func:`~cantor.nn.flows.squeeze`).
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
    temperature: float = 0.8
    group: int = 1

    def __post_init__(self) -> None:
        if self.group < 1:
            raise ValueError(f"group must be at least 1, got {self.group}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be at least 0, got {self.temperature}")
        if self.height < 2:
            raise ValueError(f"height must be at least 2 (h = 1 has no rows to condition on), got {self.height}")
        if self.mel.stft.hop_length % (self.height * self.group):
            raise ValueError(
                f"height × group ({self.height} × {self.group}) must divide hop_length {self.mel.stft.hop_length}"
            )

    @property
    def context_frames(self) -> int:
        """Frames on each side that can change an output sample: every flow reaches ``(kernel_width − 1) / 2 ·
        (2^layers − 1)`` columns of ``height · group`` samples further, and the conditioner one frame (plus
        attention)."""
        columns = self.flows * ((self.kernel_width - 1) // 2 * (2**self.layers - 1) + 1)
        frames = math.ceil(columns * self.height * self.group / self.mel.stft.hop_length)
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
    """Mel → ConvNeXt → per-frame log-magnitude and phase (with held phase, an offset to the advance) → inverse STFT.

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
        self.head = nn.Linear(config.dim, 2 * config.mel.stft.n_bins)  # log-magnitude and phase per bin
        self.istft = ISTFT(config.mel.stft)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self.synthesize(mel)[0]

    def synthesize(
        self, mel: torch.Tensor, *, start_frame: int = 0, anchor: tuple[int, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """``mel`` whose first frame is frame ``start_frame`` of a longer signal → (audio, the held phase's advance
        ``[batch, frames, n_bins]`` in radians or ``None`` with local phase, the predicted log-magnitudes
        ``[batch, frames, n_bins]``: a training target).

        ``anchor = (frame, advance)`` pins the advance at that frame of this mel (``advance [batch, n_bins]``, as an
        earlier chunk reached it), so a chunk continues the whole signal's phase; without it the advance starts at
        each bin's centre frequency times ``start_frame``.
        """
        config, stft = self.config, self.config.mel.stft
        hidden = self.backbone(mel)  # (B, F, dim)
        # (B, F, bins) each: frame-major, as the inverse FFT reads them. Under bfloat16 autocast (inference's bf16,
        # training's bf16-mixed) the head runs in bfloat16 too: its rounded log-magnitudes move the spectral peaks
        # the held phase advances at, so the waveform drifts from a float32 head's (-2.4 dB SNR), yet on 32 test
        # clips the mean ViSQOL moved by 0.001 and decoding ran 1.11x faster (benchmarks/results/vocoder-head-bf16.md).
        outputs = self.head(hidden).float().chunk(2, dim=-1)
        magnitude = torch.exp(torch.clamp(outputs[0], max=config.max_log_magnitude))
        # Phase as an angle, not (re, im): the magnitude alone sets the level, so the network can't cheat loudness.
        # (cos and sin written out: torch.polar took 6× as long on one CPU thread, 15 ms vs 2.6 ms per 10 s.)
        phase = outputs[1]
        length = (mel.shape[-1] - 1) * stft.hop_length
        advance = None if config.phase == "local" else self._held_advance(outputs[0], start_frame, anchor)
        if advance is not None:
            phase = phase + advance
        spec = torch.complex(magnitude * torch.cos(phase), magnitude * torch.sin(phase))
        return self.istft.from_frames(spec, length=length), advance, outputs[0]

    def _held_advance(
        self, log_magnitude: torch.Tensor, start_frame: int, anchor: tuple[int, torch.Tensor] | None
    ) -> torch.Tensor:
        """Each bin's phase advance summed over the frames, ``[batch, frames, n_bins]`` in radians."""
        stft = self.config.mel.stft
        # A partial at f bins advances 2π f · hop / n_fft per frame. f is read off the predicted magnitudes (the
        # frequency of the spectral peak each bin belongs to, as a phase vocoder locks bins to peaks) and the
        # advances are summed over the frames; f is taken modulo n_fft / hop (the advance modulo 2π is the same), so
        # the sum stays small enough for float32 over a chunk. Learnt freely instead, f never found the partials.
        ratio = stft.n_fft // stft.hop_length
        advance = _cumsum_frames(peak_frequencies(log_magnitude.detach(), modulo=ratio)).mul_(2 * math.pi / ratio)
        if anchor is not None:
            frame, value = anchor
            advance = advance - advance[:, frame : frame + 1] + value[:, None]
        else:  # frame j of the signal starts at j · (bin-centre advance), frame 0 at 0, as the sum counts from 1
            bins = torch.arange(stft.n_bins, device=log_magnitude.device)
            advance.add_((((start_frame - 1) * bins) % ratio).to(advance.dtype).mul_(2 * math.pi / ratio))
        return advance


def _cumsum_frames(values: torch.Tensor, block: int = 16) -> torch.Tensor:
    """``torch.cumsum(values, dim=1)`` for ``[batch, frames, bins]``, as one matrix product per block of frames
    (a lower-triangular matrix of ones sums each block) plus each block's running offset.

    On one CPU thread torch's cumsum along a middle axis took 17–24 ms for 30 s of frames (2583 × 1025) and this
    3 ms: the vocoder's held phase sums every bin over every frame it makes. The rounding is that of a 16-term dot
    product plus a sum over blocks, the same order as a running sum's (5.6e-4 against 2.4e-4 bins at most over
    those 2583 frames, i.e. under 0.001 rad of phase).
    """
    batch, frames, bins = values.shape
    whole = frames - frames % block
    out = torch.empty_like(values)
    if whole:
        ones = torch.ones(block, block, dtype=values.dtype, device=values.device).tril_()
        blocks = out[:, :whole].view(batch, whole // block, block, bins)
        with torch.autocast(values.device.type, enabled=False):  # a bfloat16 product would round the phase
            torch.matmul(ones, values[:, :whole].reshape(batch, whole // block, block, bins), out=blocks)
        running = blocks[:, :, -1].cumsum(1)  # (batch, blocks, bins): the sum up to each block's end
        blocks[:, 1:] += running[:, :-1, None]
    if whole < frames:
        torch.cumsum(values[:, whole:], dim=1, out=out[:, whole:])
        if whole:
            out[:, whole:] += running[:, -1, None]
    return out


@torch.no_grad()
def peak_frequencies(log_magnitude: torch.Tensor, *, modulo: int | None = None) -> torch.Tensor:
    """For every bin of every frame, the frequency (in bins) of the spectral peak it belongs to: the local maximum
    reached by climbing at most two bins uphill (a Hann window's main lobe spans ±2 bins), plus that maximum's
    parabolic offset (through its log-magnitude and its neighbours', within ±0.5). A steady partial between bins k
    and k + 1 gives each bin of its main lobe the same frequency, so they all advance alike. With ``modulo`` the
    frequencies are only congruent to those modulo it, within −2.5 … modulo + 2.5 (small enough to sum exactly).

    The log-magnitudes are first smoothed across bins by (1, 2, 1) / 4, which removes a ripple from bin to bin: a
    vocoder's predicted magnitudes had one on bass notes, whose every other bin then read as a peak, and the notes
    came out an octave and more low. Smoothing widens a Hann lobe, so the parabola's offset ``d`` comes out short of
    the partial's (by a factor of 0.68 near 0); ``d (1.476 − 4.237 d² + 9.908 d⁴)`` maps it back, to within 0.015
    bins (fitted on sinusoids through a Hann window; the lobe's shape in bins is the same at every n_fft).
    Written with shifts, int8 steps and in-place arithmetic: this runs on every frame the vocoder makes, and the
    plain version (torch.where, cummax) took longer than the network. Not differentiable (the frequencies are read
    off the magnitudes, never learnt through). Shapes: ``[..., bins ≥ 2]`` → same.
    """
    bins = log_magnitude.shape[-1]
    smooth = torch.empty_like(log_magnitude)  # (k − 1) + (k + 1), the edge bins repeated, then the (1, 2, 1) / 4
    torch.add(log_magnitude[..., :-2], log_magnitude[..., 2:], out=smooth[..., 1:-1])
    torch.add(log_magnitude[..., 0], log_magnitude[..., 1], out=smooth[..., 0])
    torch.add(log_magnitude[..., -2], log_magnitude[..., -1], out=smooth[..., -1])
    smooth.mul_(0.25).add_(log_magnitude, alpha=0.5)
    slope = log_magnitude.new_zeros(*log_magnitude.shape[:-1], bins + 1)  # slope[k] = smooth[k] − smooth[k − 1]
    torch.sub(smooth[..., 1:], smooth[..., :-1], out=slope[..., 1:-1])
    rise_above, rise_here = slope[..., 1:], slope[..., :-1]  # smooth[k + 1] − smooth[k], smooth[k] − smooth[k − 1]
    total = rise_above + rise_here
    # one step towards the higher neighbour where one is higher; 0 at a local maximum (or a flat stretch); never
    # off the edge, where the repeated edge bin makes the slope 0
    up = rise_above > 0
    up &= total >= 0
    down = rise_here < 0
    down &= ~up
    up_steps, down_steps = up.view(torch.int8), down.view(torch.int8)
    step = up_steps - down_steps
    climb = step.clone()  # plus the step of the neighbour stepped to (a second step never turns back)
    climb[..., :-1] += up_steps[..., :-1] * step[..., 1:]
    climb[..., 1:] += down_steps[..., 1:] * step[..., :-1]
    index = torch.arange(bins, device=log_magnitude.device)
    peak = climb + index
    curvature = (rise_above - rise_here).clamp_(max=-1e-6)  # (where a bin is no maximum its offset is never read)
    offset = total.mul_(-0.5).div_(curvature).clamp_(-0.5, 0.5)
    square = offset * offset
    offset = offset.mul_((square * 9.908).sub_(4.237).mul_(square).add_(1.476)).clamp_(-0.5, 0.5)
    # the peak's bin; modulo, the bin's residue plus the climb (a long remainder over every bin took 2.7 ms per 10 s)
    whole = peak.to(log_magnitude.dtype) if modulo is None else climb.to(log_magnitude.dtype).add_(index % modulo)
    return whole.add_(torch.gather(offset, -1, peak))


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
                group=config.group,
            )
            for _ in range(config.flows)
        )

    def _condition(self, mel: torch.Tensor) -> torch.Tensor:
        """Mel frames → ``[batch, D, h, w]``: features per frame, repeated to the cells each frame centres on."""
        features = self.condition_in(mel)
        if self.attention is not None:
            features = self.attention(features)
        hop, group = self.config.mel.stft.hop_length, self.config.group
        cells = (mel.shape[-1] - 1) * hop // group
        middles = torch.arange(cells, device=mel.device) * group + group // 2  # each cell's middle sample
        nearest = (middles + hop // 2) // hop  # centred frames: frame f ↔ sample f·hop
        return squeeze_features(features[:, :, nearest], self.config.height)

    def forward(self, audio: torch.Tensor, mel: torch.Tensor) -> FlowOutput:
        condition = self._condition(mel)
        x = squeeze(audio, self.config.height, self.config.group)
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
    def infer(
        self, mel: torch.Tensor, *, noise: torch.Tensor | None = None, temperature: float | None = None
    ) -> torch.Tensor:
        """Sample audio ``[batch, (frames − 1) · hop]`` for ``mel`` from standard-normal ``noise`` of that shape
        (drawn here when not given), scaled by ``sigma · temperature`` (default: the config's); temperature 0 decodes
        the mean."""
        if temperature is None:
            temperature = self.config.temperature
        # In the weights' precision even under mixed-precision training: the row-by-row products write into buffers,
        # which autocast does not cast, and an inverse flow compounds rounding from row to row.
        with torch.autocast(mel.device.type, enabled=False):
            return self._sample(mel, noise, temperature)

    def _sample(self, mel: torch.Tensor, noise: torch.Tensor | None, temperature: float) -> torch.Tensor:
        # Contiguous: sampling reads it one row at a time, as the rows of matrix products.
        condition = self._condition(mel).contiguous()
        batch, _, height, width = condition.shape
        group = self.config.group
        if noise is None:
            noise = torch.randn(batch, height * width * group, device=mel.device)
        x = squeeze(noise, height, group) * self.config.sigma * temperature
        # Undo the flows last to first; flow k saw the condition reversed k times, and its output was reversed once.
        for index in reversed(range(len(self.flows))):
            x = self.flows[index].inverse(x.flip(2), condition, reversed_rows=index % 2 == 1)
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
    "peak_frequencies",
]
