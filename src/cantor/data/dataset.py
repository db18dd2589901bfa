"""Reading multitrack folders for training: Cantor's builds and MUSDB18-HQ alike.

Layout: ``root/<split>/<song>/{mixture,<source>...}.{wav,flac}``. Training crops are random (seeded per item and
epoch, so a run can be replayed) and can be *remixed*: each source from a different song at a random gain, which
multiplies the number of distinct mixtures. Validation crops tile each song deterministically.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from cantor.audio.io import audio_info, read_array
from cantor.data.augment import equalise
from cantor.errors import CantorError

AUDIO_SUFFIXES = (".wav", ".flac")


@dataclass(frozen=True)
class _Song:
    name: str
    files: dict[str, Path]
    frames: int


class MultitrackDataset(Dataset):
    """Crops of mixtures and their sources.

    Each item is ``(mixture, sources)`` with shapes ``[channels, time]`` and ``[len(sources), channels, time]``.

    Args:
        root: the data folder (holding ``train/``, ``valid/``, ``test/``), or several (e.g. the shards of a build
            made on several machines): their songs are read together, file by file as crops are drawn.
        split: which subfolder to read.
        sources: stem names, e.g. ``("drums", "bass", "melody", "other")`` or MUSDB's ``("drums", "bass", "other",
            "vocals")``.
        segment_seconds: crop length; ``None`` returns whole songs (deterministic mode only).
        sample_rate: the rate the files must have (no resampling while training).
        random_crops: random crops (training) or tiled crops (validation). Default: random for ``"train"`` only.
        remix: probability (``True`` = 1) that a training item is remixed: each source from an independent song and
            offset, at a random gain, the mixture their sum. Otherwise the item is a crop of one real mixture.
        gain_db: range of the per-source gain when remixing.
        eq_db: size of a random smooth equaliser drawn for each source of a training item (:func:`equalise`;
            0: none), the mixture then their sum: another soundfont's or room's colour of the same notes.
        samples_per_epoch: length of a random-crop epoch (default: as many crops as tiling would give).
        seed: items depend only on ``(seed, epoch, index)``.
        channels: output channels; mono files are duplicated, extra channels refused.
    """

    def __init__(
        self,
        root: str | Path | Sequence[str | Path],
        *,
        split: str,
        sources: Sequence[str],
        segment_seconds: float | None = 6.0,
        sample_rate: int = 44100,
        random_crops: bool | None = None,
        remix: float | bool = 0.0,
        gain_db: tuple[float, float] = (-3.0, 3.0),
        eq_db: float = 0.0,
        samples_per_epoch: int | None = None,
        seed: int = 0,
        channels: int = 2,
    ) -> None:
        self.roots = [Path(root)] if isinstance(root, str | Path) else [Path(r) for r in root]
        if not self.roots:
            raise CantorError("MultitrackDataset needs at least one data folder")
        self.split = split
        self.sources = tuple(sources)
        self.sample_rate = sample_rate
        self.random_crops = split == "train" if random_crops is None else random_crops
        self.remix = float(remix)
        if not 0.0 <= self.remix <= 1.0:
            raise CantorError(f"remix is a probability in [0, 1], got {remix}")
        self.gain_db = gain_db
        if eq_db < 0:
            raise CantorError(f"eq_db is a size in dB, ≥ 0, got {eq_db}")
        self.eq_db = eq_db
        self.seed = seed
        self.channels = channels
        self.epoch = 0
        if not self.sources:
            raise CantorError("MultitrackDataset needs at least one source name")
        if segment_seconds is None and (self.random_crops or remix):
            raise CantorError("random crops and remixing need segment_seconds")
        self.segment = None if segment_seconds is None else int(round(segment_seconds * sample_rate))
        self.songs = self._discover()
        self._tiles = self._tile()
        self._length = samples_per_epoch or len(self._tiles)

    def _discover(self) -> list[_Song]:
        folders = [root / self.split for root in self.roots]
        if not any(folder.is_dir() for folder in folders):  # a shard of a small build may lack a split
            where = ", ".join(str(folder) for folder in folders)
            raise CantorError(f"{where}: no such split folder (expected <data>/<split>/<song>/<source>.wav)")
        songs = []
        for folder in filter(Path.is_dir, folders):
            for song_dir in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
                song = self._song(song_dir)
                if song is not None:
                    songs.append(song)
        if not songs:
            where = ", ".join(str(folder) for folder in folders)
            raise CantorError(f"{where}: no songs with {', '.join(self.sources)} long enough for one crop")
        return songs

    def _song(self, song_dir: Path) -> _Song | None:
        """A song folder's files and usable length; ``None`` if it is too short for one crop."""
        files = {name: _find_audio(song_dir, name) for name in ("mixture", *self.sources)}
        missing = [name for name, path in files.items() if path is None]
        if missing:
            raise CantorError(f"{song_dir}: missing {', '.join(missing)} (.wav or .flac)")
        frames = None
        for path in files.values():
            info = audio_info(path)
            if info.samplerate != self.sample_rate:
                raise CantorError(f"{path}: sample rate {info.samplerate} Hz, the dataset expects {self.sample_rate}")
            if info.channels not in (1, self.channels):
                raise CantorError(f"{path}: {info.channels} channels, the dataset expects {self.channels} (or 1)")
            frames = info.frames if frames is None else min(frames, info.frames)
        if self.segment is not None and frames < self.segment:
            return None
        return _Song(song_dir.name, files, frames)

    def _tile(self) -> list[tuple[int, int]]:
        if self.segment is None:
            return [(i, 0) for i in range(len(self.songs))]
        return [(i, k * self.segment) for i, song in enumerate(self.songs) for k in range(song.frames // self.segment)]

    def set_epoch(self, epoch: int) -> None:
        """Draw new random crops for ``epoch`` (a training loop calls this once per epoch)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        if not self.random_crops:
            song_index, offset = self._tiles[index % len(self._tiles)]
            song = self.songs[song_index]
            frames = song.frames if self.segment is None else self.segment
            sources = torch.stack([self._read(song, name, offset, frames) for name in self.sources])
            return self._read(song, "mixture", offset, frames), sources
        rng = np.random.default_rng([self.seed, self.epoch, index])
        if self.remix > 0 and rng.random() < self.remix:
            parts = []
            for name in self.sources:
                song = self.songs[int(rng.integers(len(self.songs)))]
                offset = int(rng.integers(0, song.frames - self.segment + 1))
                gain = 10 ** (rng.uniform(*self.gain_db) / 20)
                parts.append(self._read(song, name, offset, self.segment) * gain)
            sources = torch.stack(parts)
            return self._coloured(sources, rng)
        song = self.songs[int(rng.integers(len(self.songs)))]
        offset = int(rng.integers(0, song.frames - self.segment + 1))
        sources = torch.stack([self._read(song, name, offset, self.segment) for name in self.sources])
        if self.eq_db > 0:
            return self._coloured(sources, rng)
        return self._read(song, "mixture", offset, self.segment), sources

    def _coloured(self, sources: torch.Tensor, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """(mixture, sources) with each source equalised (if ``eq_db``) and the mixture their sum."""
        if self.eq_db > 0:
            sources = torch.stack([equalise(source, self.sample_rate, rng, self.eq_db) for source in sources])
        return sources.sum(dim=0), sources

    def _read(self, song: _Song, name: str, offset: int, frames: int) -> torch.Tensor:
        data, _ = read_array(song.files[name], start=offset, frames=frames)
        audio = torch.from_numpy(np.ascontiguousarray(data.T))
        if audio.shape[0] == 1 and self.channels > 1:
            audio = audio.expand(self.channels, -1).clone()
        return audio

    def describe(self) -> str:
        minutes = sum(s.frames for s in self.songs) / self.sample_rate / 60
        remixed = f", {self.remix:.0%} remixed" if self.remix else ""
        equalised = f", equalised ±{self.eq_db:g} dB" if self.eq_db else ""
        mode = f"random crops{remixed}{equalised}" if self.random_crops else "tiled crops"
        segment = "whole songs" if self.segment is None else f"{self.segment / self.sample_rate:g} s"
        return f"{self.split}: {len(self.songs)} songs, {minutes:.1f} min, {len(self)} items of {segment} ({mode})"


def _find_audio(folder: Path, name: str) -> Path | None:
    for suffix in AUDIO_SUFFIXES:
        path = folder / f"{name}{suffix}"
        if path.is_file():
            return path
    return None
