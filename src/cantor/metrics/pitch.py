"""Where a steady tone's energy lies: for checking that a vocoder holds a pitch."""

from __future__ import annotations

import numpy as np


def peak_frequency(audio: np.ndarray, sample_rate: int, *, low: float = 0.0, high: float | None = None) -> float:
    """The strongest frequency in ``[low, high]`` Hz of ``audio`` (1-D): a Hann-windowed FFT zero-padded 8×, the
    peak refined by a parabola through its log-magnitude neighbours (accurate to well under a cent on a second of a
    steady tone)."""
    size = 8 * len(audio)
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio)), n=size)) + 1e-12
    freqs = np.fft.rfftfreq(size, 1 / sample_rate)
    inside = np.flatnonzero((freqs >= low) & (freqs <= (high if high is not None else sample_rate / 2)))
    if inside.size == 0:
        raise ValueError(f"no FFT bin between {low} and {high} Hz")
    peak = int(inside[np.argmax(spectrum[inside])])
    if not 0 < peak < len(spectrum) - 1:
        return float(freqs[peak])
    left, centre, right = np.log(spectrum[peak - 1 : peak + 2])
    curvature = left - 2 * centre + right
    offset = 0.5 * (left - right) / curvature if curvature < 0 else 0.0
    return float((peak + offset) * sample_rate / size)
