"""A toy two-source task with a known answer: a harmonic tone (source "a") and noise bursts (source "b")."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile

RATE = 8000


def toy_sources(rng: np.random.Generator, seconds: float) -> dict[str, np.ndarray]:
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    f0 = rng.uniform(110, 440)
    tone = sum(np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6.3)) / k for k in range(1, 5))
    tone *= 0.15 * (1 + 0.3 * np.sin(2 * np.pi * rng.uniform(0.2, 1.0) * t))
    bursts = np.zeros(n)
    for start in rng.integers(0, n - 800, size=int(seconds * 4)):
        length = int(rng.integers(200, 800))
        bursts[start : start + length] += rng.normal(0, 0.2, length) * np.hanning(length)
    return {"a": np.stack([tone, tone * 0.8]), "b": np.stack([bursts * 0.7, bursts])}


def write_toy_folder(root: Path, *, songs: dict[str, int], seconds: float = 4.0, seed: int = 0) -> Path:
    """``root/<split>/<song>/{mixture,a,b}.wav`` in the MUSDB layout."""
    rng = np.random.default_rng(seed)
    for split, count in songs.items():
        for index in range(count):
            folder = root / split / f"toy{index:03d}"
            folder.mkdir(parents=True)
            sources = toy_sources(rng, seconds)
            for name, audio in sources.items():
                soundfile.write(folder / f"{name}.wav", audio.T, RATE, subtype="FLOAT")
            soundfile.write(folder / "mixture.wav", (sources["a"] + sources["b"]).T, RATE, subtype="FLOAT")
    return root
