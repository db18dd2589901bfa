"""``Variations``: new audio that keeps a stem's character — separate, encode with the stem TCN-VAE, sample latents
around the encoding, decode, and voice the mel with Cantor's vocoder. Used by the CLI and the studio.

>>> from cantor import Variations
>>> variations = Variations()                                             # doctest: +SKIP
>>> result = variations.from_file("song.wav", stem="melody", n=4, seed=1)  # doctest: +SKIP

Each variation's latent sequence is ``z = μ + strength · σ · ε``: the posterior mean of the stem plus its own
uncertainty, scaled, times noise ``ε`` that is smoothed over ``smoothing`` seconds (and rescaled to unit variance)
so that a variation changes phrases rather than flickering frame by frame. ``strength`` 0 gives the reconstruction.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from cantor.audio.resample import fit_length, resample
from cantor.errors import UsageError
from cantor.files import make_folder
from cantor.inference.generate import seeded_generator
from cantor.models.registry import model_name, resolve_model
from cantor.models.stem_vae import STEM_VAE_KIND, StemVAE, StemVAEConfig
from cantor.models.weights import load_weights

NO_SEPARATION = "none"  # --stem none: the input is already the stem


@dataclass
class VariationResult:
    """Mono audio at ``sample_rate``: the ``source`` stem, its ``reconstruction`` (strength 0) and the variations;
    ``mel_distance`` of each variation from the source (mean absolute log-mel difference, nats)."""

    sample_rate: int
    source: np.ndarray
    reconstruction: np.ndarray
    variations: list[np.ndarray]
    mel_distance: list[float] = field(default_factory=list)
    reconstruction_distance: float = 0.0


class Variations:
    """Audio variations of a stem with a trained stem VAE and the vocoder it was trained for.

    Args:
        model: a shipped stem VAE ("stem-vae") or a folder with ``config.json`` + ``model.safetensors``.
        separator: the separator that extracts the stem from a mixture (loaded when first needed).
        vocoder: the vocoder that voices the decoded mel (default: the one named in the model's config).
    """

    def __init__(self, model: str | Path = "stem-vae", *, separator: str = "band", vocoder: str | None = None) -> None:
        from cantor.inference.vocode import Vocoder

        self.folder = resolve_model(model, kind=STEM_VAE_KIND)
        self.name = model_name(model, self.folder)
        network, payload = load_weights(
            self.folder, kind=STEM_VAE_KIND, build=lambda c: StemVAE(StemVAEConfig.from_dict(c))
        )
        self.model: StemVAE = network.eval()
        self.config: StemVAEConfig = network.config
        self.metadata: dict = payload.get("metadata", {})
        self.vocoder = Vocoder(vocoder or self.config.vocoder)
        if self.vocoder.config.mel != self.config.mel:
            raise UsageError(f"vocoder {self.vocoder.name} decodes another mel than {self.name} writes")
        self.separator_name = separator
        self._separator = None

    @property
    def sample_rate(self) -> int:
        return self.config.mel.sample_rate

    def stems(self) -> tuple[str, ...]:
        """The stems ``from_file`` can take: the separator's sources, or ``none`` for a file that is one stem."""
        return (*self._separator_model().sources, NO_SEPARATION)

    def _separator_model(self):
        if self._separator is None:
            from cantor.inference.separate import Separator

            self._separator = Separator(self.separator_name)
        return self._separator

    def from_file(self, path: str | Path, *, stem: str = "melody", **options) -> VariationResult:
        """Variations of ``stem`` of the audio file ``path`` (``stem="none"``: the file is the stem)."""
        from cantor.audio.io import load

        audio, rate = load(path)
        if stem != NO_SEPARATION:
            separator = self._separator_model()
            if stem not in separator.sources:
                raise UsageError(f"--stem {stem}: the {separator.name} separator gives {', '.join(self.stems())}")
            audio = separator.separate(audio, rate)[stem]
        return self.vary(audio, rate, **options)

    @torch.no_grad()
    def vary(
        self,
        audio: torch.Tensor | np.ndarray,
        sample_rate: int,
        *,
        n: int = 4,
        strength: float = 4.0,
        smoothing: float = 0.5,
        seed: int | None = 0,
    ) -> VariationResult:
        """``audio`` ``[channels, time]`` or ``[time]`` (one stem, any rate) → :class:`VariationResult` (mono,
        at the model's rate)."""
        if n < 1:
            raise UsageError(f"n must be at least 1, got {n}")
        if strength < 0:
            raise UsageError(f"strength must be at least 0, got {strength}")
        if smoothing < 0:
            raise UsageError(f"smoothing must be at least 0 seconds, got {smoothing}")
        audio = torch.as_tensor(audio, dtype=torch.float32)
        mono = audio if audio.ndim == 1 else audio.mean(dim=0)
        source = resample(mono[None], orig_sample_rate=sample_rate, target_sample_rate=self.sample_rate)[0]
        hop = self.config.mel.stft.hop_length
        if source.shape[-1] < 4 * hop * self.config.stride:
            raise UsageError(f"the stem is too short for variations ({source.shape[-1] / self.sample_rate:.2f} s)")
        if float(source.abs().max()) < 1e-4:
            raise UsageError("the stem is silent: nothing to vary")
        mel = self.vocoder.mel(source)[None]  # (1, M, N)
        latent = self.model.encode(mel)
        noise = self._smooth_noise(n, latent.mean.shape[1:], smoothing, seed)
        z = latent.mean + strength * (0.5 * latent.log_var).exp() * noise  # (n, D, L)
        frames = mel.shape[-1]
        mels = self.model.decode(torch.cat([latent.mean, z]), frames)  # (1 + n, M, N)
        voiced = fit_length(self.vocoder.decode(mels), source.shape[-1]).numpy()
        distances = (mels - mel).abs().mean(dim=(1, 2)).tolist()
        return VariationResult(
            sample_rate=self.sample_rate,
            source=source.numpy(),
            reconstruction=voiced[0],
            variations=list(voiced[1:]),
            mel_distance=distances[1:],
            reconstruction_distance=distances[0],
        )

    def _smooth_noise(self, n: int, shape: tuple[int, int], seconds: float, seed: int | None) -> torch.Tensor:
        """``[n, D, L]`` standard-normal noise, low-passed over ``seconds`` with a Hann window and rescaled to unit
        variance per frame."""
        noise = torch.randn(n, *shape, generator=seeded_generator(seed))
        latent_rate = self.sample_rate / self.config.mel.stft.hop_length / self.config.stride
        width = int(round(seconds * latent_rate))
        if width < 2:
            return noise
        window = torch.hann_window(width + 2)[1:-1]
        window = window / window.pow(2).sum().sqrt()  # unit gain for white noise: the variance stays 1
        channels = noise.shape[1]
        kernel = window.expand(channels, 1, -1)
        return F.conv1d(F.pad(noise, (width // 2, width - 1 - width // 2), mode="replicate"), kernel, groups=channels)


def write_variations(result: VariationResult, out: Path, *, stem: str, overwrite: bool = False) -> list[Path]:
    """``out/<stem>.wav`` (the source), ``<stem>-reconstruction.wav``, ``<stem>-variation-<k>.wav`` and
    ``<stem>-variations.png`` (their mel spectrograms); all or nothing, existing files kept unless ``overwrite``."""
    from cantor.audio.io import save

    names = [f"{stem}.wav", f"{stem}-reconstruction.wav"]
    names += [f"{stem}-variation-{k}.wav" for k in range(1, len(result.variations) + 1)]
    names.append(f"{stem}-variations.png")
    existing = [out / name for name in names if (out / name).exists()]
    if existing and not overwrite:
        raise UsageError(f"{existing[0]} exists; pass --overwrite to replace it")
    make_folder(out)
    staging = out / f".{stem}-variations.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        signals = [result.source, result.reconstruction, *result.variations]
        for name, signal in zip(names, signals, strict=False):
            save(staging / name, signal[None].astype(np.float32), result.sample_rate, subtype="PCM_16")
        _plot(result, staging / names[-1], stem)
        for name in names:
            (staging / name).replace(out / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [out / name for name in names]


def _plot(result: VariationResult, path: Path, stem: str) -> None:
    """Log-mel spectrograms of the source, the reconstruction and each variation, one above the other."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cantor.features.mel import LogMel, MelConfig

    frontend = LogMel(MelConfig(sample_rate=result.sample_rate))
    signals = [result.source, result.reconstruction, *result.variations]
    titles = [f"{stem} (source)", f"reconstruction (Δ {result.reconstruction_distance:.2f})"]
    titles += [f"variation {k} (Δ {d:.2f})" for k, d in enumerate(result.mel_distance, 1)]
    seconds = len(result.source) / result.sample_rate
    figure, axes = plt.subplots(len(signals), 1, figsize=(10, 1.6 * len(signals)), sharex=True, squeeze=False)
    for axis, signal, title in zip(axes[:, 0], signals, titles, strict=True):
        with torch.no_grad():
            mel = frontend(torch.from_numpy(np.ascontiguousarray(signal, dtype=np.float32))).numpy()
        axis.imshow(mel, origin="lower", aspect="auto", extent=(0, seconds, 0, mel.shape[0]), vmin=-11.5, vmax=3)
        axis.set_ylabel("mel")
        axis.set_title(title, fontsize=9, loc="left")
    axes[-1, 0].set_xlabel("seconds")
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)
