"""Small pictures for the studio page: a stem's waveform over its spectrogram, drawn once when the job finishes."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def stem_picture(audio_path: Path, target: Path, *, width_px: int = 900, height_px: int = 160) -> Path:
    """``target`` PNG: the stem's log-mel spectrogram with its waveform envelope drawn over it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cantor.audio.io import load
    from cantor.features.mel import LogMel, MelConfig

    audio, rate = load(audio_path, mono=True)
    mel = LogMel(MelConfig(sample_rate=rate, n_mels=64))(audio[0]).numpy()
    signal = audio[0].numpy()
    seconds = len(signal) / rate
    dpi = 100
    figure = plt.figure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi)
    axis = figure.add_axes((0, 0, 1, 1))
    axis.imshow(mel, origin="lower", aspect="auto", extent=(0, seconds, -1, 1), cmap="magma", vmin=-11.5, vmax=3)
    hop = max(1, len(signal) // width_px)
    envelope = np.abs(signal[: hop * (len(signal) // hop)]).reshape(-1, hop).max(axis=1)
    times = np.arange(len(envelope)) * hop / rate
    axis.fill_between(times, -envelope, envelope, color="white", alpha=0.35, linewidth=0)
    axis.set_xlim(0, seconds)
    axis.set_ylim(-1, 1)
    axis.axis("off")
    figure.savefig(target, dpi=dpi)
    plt.close(figure)
    return target
