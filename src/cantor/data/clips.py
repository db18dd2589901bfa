"""Single-channel audio clips for training vocoders and the stem VAE: every stem and every mixture of one or more
data folders.

A vocoder must resynthesise anything Cantor hands it — drums, bass, a separated melody, a whole mix — so it learns
from all of them. Crops are random but depend only on ``(seed, epoch, index)``; near-silent crops (a stem resting)
are redrawn a few times, since a vocoder learns nothing from silence.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from cantor.audio.io import audio_info, read_array
from cantor.data.crops import SeededCrops
from cantor.data.dataset import AUDIO_SUFFIXES
from cantor.errors import CantorError

_SILENCE_RMS = 1e-3
_REDRAWS = 8


class AudioClipDataset(SeededCrops):
    """Mono crops ``[segment]`` (one channel of a stem or mixture) at a random gain.

    Args:
        roots: data folders holding ``<split>/<song>/*.wav|flac`` (Cantor builds or MUSDB18-style folders).
        split: which subfolder to read.
        segment: crop length in samples.
        sample_rate: the rate every file must have.
        items: items per epoch.
        seed: crops depend only on ``(seed, epoch, index)``; with ``random=False`` the epoch is ignored.
        gain_db: range of the random gain (peaks are kept below 1).
    """

    def __init__(
        self,
        roots: Sequence[str | Path],
        *,
        split: str,
        segment: int,
        sample_rate: int = 44100,
        items: int = 1000,
        seed: int = 0,
        random: bool = True,
        gain_db: tuple[float, float] = (-6.0, 6.0),
    ) -> None:
        super().__init__(items=items, seed=seed, random=random)
        self.segment = segment
        self.sample_rate = sample_rate
        self.gain_db = gain_db
        self.files: list[tuple[Path, int, int]] = []  # (path, frames, channels)
        for root in roots:
            folder = Path(root) / split
            if not folder.is_dir():
                raise CantorError(f"{folder}: no such split folder (expected {root}/<split>/<song>/<stem>.wav)")
            for path in sorted(p for p in folder.glob("*/*") if p.suffix in AUDIO_SUFFIXES):
                info = audio_info(path)
                if info.samplerate != sample_rate:
                    raise CantorError(f"{path}: sample rate {info.samplerate} Hz, expected {sample_rate}")
                if info.frames >= segment:
                    self.files.append((path, info.frames, info.channels))
        if not self.files:
            raise CantorError(f"no audio files of at least {segment} samples in the {split} split of {list(roots)}")

    def __getitem__(self, index: int) -> torch.Tensor:
        rng = self.rng(index)
        for _ in range(_REDRAWS):
            path, frames, channels = self.files[int(rng.integers(len(self.files)))]
            start = int(rng.integers(0, frames - self.segment + 1))
            data, _ = read_array(path, start=start, frames=self.segment)
            clip = data[:, int(rng.integers(channels))]
            if np.sqrt(np.mean(clip**2)) > _SILENCE_RMS:
                break
        gain = 10 ** (rng.uniform(*self.gain_db) / 20)
        peak = float(np.abs(clip).max())
        if peak * gain > 0.99:
            gain = 0.99 / peak
        return torch.from_numpy(np.ascontiguousarray(clip * gain, dtype=np.float32))

    def describe(self) -> str:
        minutes = sum(frames for _, frames, _ in self.files) / self.sample_rate / 60
        return (
            f"{len(self.files)} files ({minutes:.0f} min of stems and mixtures), {self.items} mono crops of "
            f"{self.segment / self.sample_rate:.2f} s per epoch"
        )


def clip_splits(
    roots: Sequence[str | Path],
    *,
    segment: int,
    valid_segment: int,
    sample_rate: int,
    items: int,
    valid_items: int,
    seed: int,
) -> tuple[AudioClipDataset, AudioClipDataset]:
    """Training crops (random gain, new ones every epoch) and fixed validation crops (unit gain) of ``roots``."""
    train = AudioClipDataset(roots, split="train", segment=segment, sample_rate=sample_rate, items=items, seed=seed)
    valid = AudioClipDataset(
        roots,
        split="valid",
        segment=valid_segment,
        sample_rate=sample_rate,
        items=valid_items,
        seed=seed,
        random=False,
        gain_db=(0.0, 0.0),
    )
    return train, valid
