"""Constant-Q spectrogram: the front end of Cantor's transcriber and instrument classifier.

Pitch is a shift along a log-frequency axis, so a CQT with a few bins per semitone lets a small convolution learn
one pattern for every note, and a bass note at 41 Hz is resolved as well as a flute at 2 kHz. librosa's multirate
CQT costs about 1 s per 30 s of audio on one core. Bin ``k`` is centred on MIDI pitch
``lowest_midi + k / bins_per_semitone``, so the middle of each group of ``bins_per_semitone`` bins is a piano key.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class CQTConfig:
    sample_rate: int = 22050
    hop_length: int = 256  # 11.6 ms frames
    lowest_midi: int = 21  # A0, the piano's lowest key
    semitones: int = 88  # up to C8
    bins_per_semitone: int = 3

    @property
    def n_bins(self) -> int:
        return self.semitones * self.bins_per_semitone

    @property
    def frames_per_second(self) -> float:
        return self.sample_rate / self.hop_length

    @property
    def fmin(self) -> float:
        """Centre of bin 0, a third of a semitone below ``lowest_midi`` so that key's centre is bin 1."""
        offset = (self.bins_per_semitone // 2) / self.bins_per_semitone
        return 440.0 * 2.0 ** ((self.lowest_midi - offset - 69) / 12)

    def bin_to_midi(self, bins: np.ndarray | float) -> np.ndarray | float:
        offset = (self.bins_per_semitone // 2) / self.bins_per_semitone
        return self.lowest_midi - offset + np.asarray(bins) / self.bins_per_semitone

    def frames(self, samples: int, sample_rate: int | None = None) -> int:
        """Frames of the CQT of ``samples`` samples at ``sample_rate`` (by default the CQT's own rate)."""
        if sample_rate is not None and sample_rate != self.sample_rate:
            samples = math.floor(samples * self.sample_rate / sample_rate + 0.5)  # the resampler's length
        return 1 + samples // self.hop_length


def cqt_magnitude(audio: torch.Tensor | np.ndarray, sample_rate: int, config: CQTConfig = CQTConfig()) -> np.ndarray:
    """Mono or ``[channels, time]`` audio at any rate → CQT magnitude ``[n_bins, frames]`` (float32; channels are
    averaged first)."""
    return _cqt(_mono_at_cqt_rate(audio, sample_rate, config), config)


def cqt_frames(
    read: Callable[[int, int], torch.Tensor | np.ndarray],
    samples: int,
    sample_rate: int,
    first: int,
    last: int,
    config: CQTConfig = CQTConfig(),
) -> np.ndarray:
    """Frames ``[first, last)`` of the CQT of a signal read piece by piece: ``read(start, stop)`` gives its samples
    ``[channels, stop - start]`` (or ``[stop - start]``) at ``sample_rate``, ``samples`` long in all.

    The piece read reaches :data:`CQT_CONTEXT_SECONDS` beyond the frames each side (the longest filter and the
    resampler's transients fit inside), and starts where a CQT frame and an input sample coincide, so the frames
    match :func:`cqt_magnitude` of the whole signal while memory depends only on ``last - first``.
    """
    hop = config.hop_length
    # The piece must start on a frame (a multiple of hop at the CQT rate) that is also a whole input sample.
    step = math.lcm(hop, config.sample_rate // math.gcd(config.sample_rate, sample_rate))
    context = CQT_CONTEXT_SECONDS * config.sample_rate
    start = max(0, math.floor((first * hop - context) / step) * step)  # at the CQT rate
    stop = (last - 1) * hop + context
    read_start = start * sample_rate // config.sample_rate
    read_stop = min(samples, math.ceil(stop * sample_rate / config.sample_rate))
    spectrum = _cqt(_mono_at_cqt_rate(read(read_start, read_stop), sample_rate, config), config)
    offset = first - start // hop
    return spectrum[:, offset : offset + last - first]


CQT_CONTEXT_SECONDS = 2  # > half the A0 filter (0.95 s at 3 bins a semitone) plus the resampler's reach


def _mono_at_cqt_rate(audio: torch.Tensor | np.ndarray, sample_rate: int, config: CQTConfig) -> np.ndarray:
    from cantor.audio.resample import resample

    audio = torch.as_tensor(audio, dtype=torch.float32)
    if audio.ndim == 1:
        audio = audio[None]
    mono = audio.mean(dim=0, keepdim=True)
    return resample(mono, orig_sample_rate=sample_rate, target_sample_rate=config.sample_rate)[0].numpy()


def _cqt(signal: np.ndarray, config: CQTConfig) -> np.ndarray:
    import librosa  # here, not at the top: model configs import this module, and librosa takes a second to load

    with warnings.catch_warnings():
        # Inputs shorter than the longest filter are zero-padded by librosa, which is what we want; not worth a warning.
        warnings.filterwarnings("ignore", message="n_fft=.* is too large")
        spectrum = librosa.cqt(
            signal,
            sr=config.sample_rate,
            hop_length=config.hop_length,
            fmin=config.fmin,
            n_bins=config.n_bins,
            bins_per_octave=12 * config.bins_per_semitone,
        )
    return np.abs(spectrum).astype(np.float32)


def log_compress(magnitude: torch.Tensor) -> torch.Tensor:
    """The networks' input scale: ``log(1 + 100·|X|)`` squashes 80 dB of range into a few units."""
    return torch.log1p(100.0 * magnitude)
