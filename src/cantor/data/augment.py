"""Audio augmentations shared by the training sets: a random smooth equaliser curve, and applying one to audio."""

from __future__ import annotations

import numpy as np
import torch


def random_eq_curve(rng: np.random.Generator, bins: int, bins_per_octave: int, size_db: float) -> np.ndarray:
    """A random smooth gain curve ``[bins]`` (linear amplitude) over log-spaced bins, within ±``size_db``.

    A tilt spanning up to ±``size_db``/2 at the ends, plus two broad bumps (0.5–2 octaves wide) of up to
    ±``size_db``/2: the colouring that separates one soundfont's (or room's) version of an instrument from
    another's, while the harmonic pattern and the envelope over time, which define the instrument, stay as they are.
    """
    octaves = np.arange(bins) / bins_per_octave
    span = max(float(octaves[-1]), 1e-6)
    curve_db = rng.uniform(-1, 1) * size_db * (octaves / span - 0.5)
    for _ in range(2):
        centre, width = rng.uniform(0, span), rng.uniform(0.5, 2.0)
        curve_db += rng.uniform(-1, 1) * size_db / 2 * np.exp(-0.5 * ((octaves - centre) / width) ** 2)
    return (10 ** (np.clip(curve_db, -size_db, size_db) / 20)).astype(np.float32)


EQ_LOWEST_HZ = 27.5  # A0: below it the curve stays flat at its lowest value
EQ_BINS_PER_OCTAVE = 12


def equalise(audio: torch.Tensor, sample_rate: int, rng: np.random.Generator, size_db: float) -> torch.Tensor:
    """``audio [channels, time]`` through a random smooth gain curve over log frequency (:func:`random_eq_curve`,
    within ±``size_db``), the same on every channel, zero-phase.

    Filtered through the FFT of the crop padded to twice its length, so the filter's ringing (tens of ms at the
    lowest bumps) falls into the padding, not around onto the crop's start.
    """
    length = audio.shape[-1]
    nyquist_octaves = np.log2(sample_rate / 2 / EQ_LOWEST_HZ)
    grid = random_eq_curve(rng, int(np.ceil(nyquist_octaves * EQ_BINS_PER_OCTAVE)) + 1, EQ_BINS_PER_OCTAVE, size_db)
    frequencies = np.fft.rfftfreq(2 * length, d=1 / sample_rate)
    octaves = np.log2(np.maximum(frequencies, EQ_LOWEST_HZ) / EQ_LOWEST_HZ) * EQ_BINS_PER_OCTAVE
    gains = torch.from_numpy(np.interp(octaves, np.arange(grid.size), grid).astype(np.float32))
    spectrum = torch.fft.rfft(audio, n=2 * length)
    return torch.fft.irfft(spectrum * gains, n=2 * length)[..., :length].contiguous()
