"""Labelled single-stem features for the analysis models: CQT magnitudes, note rolls and instrument labels.

The builder writes, per song, each stem's audio, ``notes.mid`` (one track per stem, exactly what was rendered) and
``song.json`` (each stem's GM program and family). :func:`build_stem_cache` computes every stem's CQT once (the
CQT costs about a second per stem; a training step must not) and stores it with the notes and labels, one
``.npz`` per song under ``cache/<split>/``. :class:`StemCropDataset` draws training crops from that cache.

Analysis runs on *separated* stems, which carry some of the other stems; training crops therefore add the other
stems of the same song at a random low level (power-domain sum of CQT magnitudes, exact for uncorrelated sources).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pretty_midi
import torch
from torch.utils.data import Dataset

from cantor.audio.io import load
from cantor.data.augment import random_eq_curve
from cantor.data.dataset import AUDIO_SUFFIXES
from cantor.data.instruments import DRUM_PROGRAM_LABEL, FAMILIES
from cantor.errors import CantorError
from cantor.features.cqt import CQTConfig, cqt_magnitude
from cantor.files import atomic_path


@dataclass(frozen=True)
class StemLabels:
    """What the builder rendered for one stem."""

    name: str
    family: str
    program: int
    is_drum: bool
    notes: np.ndarray  # (n, 4): start s, end s, MIDI pitch, velocity
    soundfont: str = ""  # the font file's name ("" where not recorded, as in the stem cache)

    @property
    def program_label(self) -> int:
        return DRUM_PROGRAM_LABEL if self.is_drum else self.program


def read_song_labels(song: Path) -> list[StemLabels]:
    """Labels of every stem of a built song (``song.json`` + ``notes.mid``)."""
    try:
        description = json.loads((song / "song.json").read_text())
        midi = pretty_midi.PrettyMIDI(str(song / "notes.mid"))
    except (OSError, ValueError) as error:
        raise CantorError(f"{song}: cannot read its labels ({error})") from error
    tracks = {instrument.name: instrument for instrument in midi.instruments}
    labels = []
    for name, stem in description["stems"].items():
        notes = tracks[name].notes if name in tracks else []
        table = np.array([[n.start, n.end, n.pitch, n.velocity] for n in notes], dtype=np.float32).reshape(-1, 4)
        labels.append(
            StemLabels(
                name, stem["family"], int(stem["program"]), bool(stem["is_drum"]), table, stem.get("soundfont", "")
            ),
        )
    return labels


def note_rolls(notes: np.ndarray, frames: int, config: CQTConfig) -> dict[str, np.ndarray]:
    """Notes ``(n, 4)`` → ``frame``, ``onset`` (its first two frames) and ``offset`` rolls ``[semitones, frames]``
    (uint8) at the CQT's frame rate."""
    rolls = {name: np.zeros((config.semitones, frames), dtype=np.uint8) for name in ("frame", "onset", "offset")}
    fps = config.frames_per_second
    for start, end, pitch, _ in notes:
        key = int(pitch) - config.lowest_midi
        if not 0 <= key < config.semitones:
            continue
        first = int(round(start * fps))
        last = max(first + 1, int(round(end * fps)))
        if first >= frames:
            continue
        rolls["frame"][key, first : min(last, frames)] = 1
        # two frames: the attack straddles frame boundaries, and a one-frame target is too sparse to learn quickly
        rolls["onset"][key, first : min(first + 2, last, frames)] = 1
        if last - 1 < frames:
            rolls["offset"][key, last - 1] = 1
    return rolls


def _stem_audio(song: Path, name: str) -> Path:
    for suffix in AUDIO_SUFFIXES:
        if (song / f"{name}{suffix}").is_file():
            return song / f"{name}{suffix}"
    raise CantorError(f"{song}: no audio for stem {name!r}")


def build_stem_cache(
    roots: Sequence[str | Path],
    cache: str | Path,
    *,
    split: str,
    songs: int | None = None,
    config: CQTConfig = CQTConfig(),
    progress: Callable[[int, int], None] | None = None,
) -> list[Path]:
    """Compute (or reuse) ``cache/<split>/<root>-<song>.npz`` for the first ``songs`` songs of each root's split."""
    folder = Path(cache) / split
    folder.mkdir(parents=True, exist_ok=True)
    jobs = []
    for root in map(Path, roots):
        split_dir = root / split
        if not split_dir.is_dir():
            raise CantorError(f"{root}: no {split}/ folder")
        found = sorted(p for p in split_dir.iterdir() if (p / "song.json").is_file())
        jobs += [(song, folder / f"{root.name}-{song.name}.npz") for song in found[:songs]]
    written = []
    for index, (song, target) in enumerate(jobs):
        if not target.is_file():
            _cache_song(song, target, config)
        written.append(target)
        if progress:
            progress(index + 1, len(jobs))
    return written


def _cache_song(song: Path, target: Path, config: CQTConfig) -> None:
    arrays: dict[str, np.ndarray] = {}
    stems = []
    for label in read_song_labels(song):
        audio, rate = load(_stem_audio(song, label.name))
        magnitude = cqt_magnitude(audio, rate, config)
        arrays[f"cqt/{label.name}"] = magnitude.astype(np.float16)
        arrays[f"notes/{label.name}"] = label.notes
        stems.append({"name": label.name, "family": label.family, "program": label.program, "is_drum": label.is_drum})
    arrays["meta"] = np.frombuffer(json.dumps({"song": song.name, "stems": stems}).encode(), dtype=np.uint8)
    with atomic_path(target) as temporary, open(temporary, "wb") as handle:
        np.savez(handle, **arrays)


@dataclass
class _CachedStem:
    song: int
    name: str
    labels: StemLabels


class StemCropDataset(Dataset):
    """Crops of cached stems with leakage from the rest of their song.

    Each item is a dict: ``cqt`` ``[bins, frames]`` magnitude, ``frame``/``onset``/``offset`` ``[semitones, frames]``
    float rolls, ``family`` and ``program`` (ints), ``pitched`` (1.0 unless drums).

    Args:
        files: cache files from :func:`build_stem_cache`.
        crop_frames: frames per crop.
        items: items per epoch.
        pitched_only: skip drum stems (the transcriber's data).
        leakage_db: range of the level of the song's other stems, relative to their own (``None``: none).
        leakage_probability: share of crops that get leakage.
        gain_db: range of a random overall gain.
        eq_db: size of a random smooth equaliser curve on the stem itself (:func:`random_eq_curve`; 0: none),
            so that a model learns timbre that survives another soundfont's or recording's colouring.
        shift_bins: largest random shift of the stem's spectrum, in CQT bins (0: none). A soundfont plays most notes
            by resampling the nearest of a few recorded ones, so one font's note is another's with its partials and
            formants moved by up to a few semitones; the shift mimics that. The note rolls move by the whole
            semitones of the shift.
        random: random crops depending on ``(seed, epoch, index)``; otherwise deterministic ones (validation).
    """

    def __init__(
        self,
        files: Sequence[Path],
        *,
        crop_frames: int,
        items: int,
        config: CQTConfig = CQTConfig(),
        pitched_only: bool = False,
        leakage_db: tuple[float, float] | None = (-30.0, -10.0),
        leakage_probability: float = 0.7,
        gain_db: tuple[float, float] = (-12.0, 6.0),
        eq_db: float = 0.0,
        shift_bins: int = 0,
        random: bool = True,
        seed: int = 0,
    ) -> None:
        if not files:
            raise CantorError("no cached songs to train on")
        self.config = config
        self.crop_frames = crop_frames
        self.items = items
        self.leakage_db = leakage_db
        self.leakage_probability = leakage_probability
        self.gain_db = gain_db
        self.eq_db = eq_db
        self.shift_bins = shift_bins
        self.random = random
        self.seed = seed
        self.epoch = 0
        self.songs: list[dict[str, np.ndarray]] = []
        self.stems: list[_CachedStem] = []
        for path in files:
            with np.load(path) as archive:
                arrays = {key: archive[key] for key in archive.files}
            meta = json.loads(arrays["meta"].tobytes())
            self.songs.append(arrays)
            for stem in meta["stems"]:
                if pitched_only and stem["is_drum"]:
                    continue
                notes = arrays[f"notes/{stem['name']}"]
                labels = StemLabels(stem["name"], stem["family"], stem["program"], stem["is_drum"], notes)
                self.stems.append(_CachedStem(len(self.songs) - 1, stem["name"], labels))
        if not self.stems:
            raise CantorError("the cache holds no stems of the wanted kind")

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.items

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, 0 if not self.random else self.epoch, index])
        stem = self.stems[index % len(self.stems)] if not self.random else self.stems[rng.integers(len(self.stems))]
        song = self.songs[stem.song]
        own = song[f"cqt/{stem.name}"]
        frames = own.shape[1]
        length = min(self.crop_frames, frames)
        start = int(rng.integers(0, frames - length + 1)) if self.random else (frames - length) // 2
        power = np.square(own[:, start : start + length].astype(np.float32))
        if self.random and self.eq_db > 0:
            bins_per_octave = 12 * self.config.bins_per_semitone
            power *= np.square(random_eq_curve(rng, own.shape[0], bins_per_octave, self.eq_db))[:, None]
        if self.leakage_db and rng.random() < self.leakage_probability:
            for key in song:
                if key.startswith("cqt/") and key != f"cqt/{stem.name}":
                    level = 10 ** (rng.uniform(*self.leakage_db) / 10)
                    power += level * np.square(song[key][:, start : start + length].astype(np.float32))
        gain = 10 ** (rng.uniform(*self.gain_db) / 20) if self.random else 1.0
        magnitude = np.sqrt(power) * gain
        semitones = 0
        if self.random and self.shift_bins > 0:
            shift = int(rng.integers(-self.shift_bins, self.shift_bins + 1))
            magnitude = _shift_rows(magnitude, shift)
            semitones = round(shift / self.config.bins_per_semitone)
        rolls = note_rolls(stem.labels.notes, frames, self.config)
        item = {
            "cqt": torch.from_numpy(_pad(magnitude, self.crop_frames)),
            "family": torch.tensor(FAMILIES.index(stem.labels.family)),
            "program": torch.tensor(stem.labels.program_label),
            "pitched": torch.tensor(0.0 if stem.labels.is_drum else 1.0),
        }
        for name, roll in rolls.items():
            crop = _shift_rows(roll[:, start : start + length], semitones)  # the crop's rolls only, not the song's
            item[name] = torch.from_numpy(_pad(crop.astype(np.float32), self.crop_frames))
        return item

    def describe(self) -> str:
        families = sorted({s.labels.family for s in self.stems})
        return f"{len(self.songs)} songs, {len(self.stems)} stems, families: {', '.join(families)}"


def _shift_rows(array: np.ndarray, shift: int) -> np.ndarray:
    """``array`` ``[rows, frames]`` moved ``shift`` rows up (towards higher pitch), zero where nothing moved in."""
    if shift == 0:
        return array
    shifted = np.zeros_like(array)
    if shift > 0:
        shifted[shift:] = array[:-shift]
    else:
        shifted[:shift] = array[-shift:]
    return shifted


def _pad(array: np.ndarray, frames: int) -> np.ndarray:
    if array.shape[1] >= frames:
        return np.ascontiguousarray(array)
    return np.pad(array, ((0, 0), (0, frames - array.shape[1])))
