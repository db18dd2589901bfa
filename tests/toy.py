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


def write_toy_notes_folder(root: Path, *, songs: dict[str, int], seconds: float = 6.0, seed: int = 0) -> Path:
    """Songs as Cantor's builder writes them: a harmonic ``lead`` (a flute, family "pipe") playing random notes and
    noise ``hits`` (drums), with ``song.json`` and ``notes.mid`` saying exactly what was synthesised."""
    import json

    import pretty_midi

    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    for split, count in songs.items():
        for index in range(count):
            folder = root / split / f"toy{index:03d}"
            folder.mkdir(parents=True)
            lead, hits = np.zeros(n), np.zeros(n)
            midi = pretty_midi.PrettyMIDI()
            lead_track = pretty_midi.Instrument(program=73, name="lead")
            drum_track = pretty_midi.Instrument(program=0, is_drum=True, name="hits")
            start = rng.uniform(0.1, 0.3)
            while start < seconds - 0.6:
                pitch, duration = int(rng.integers(48, 73)), rng.uniform(0.2, 0.5)
                first, last = int(start * RATE), int((start + duration) * RATE)
                f0 = pretty_midi.note_number_to_hz(pitch)
                envelope = np.minimum(1, np.minimum(t[first:last] - start, start + duration - t[first:last]) / 0.01)
                lead[first:last] += envelope * sum(np.sin(2 * np.pi * f0 * k * t[first:last]) / k for k in (1, 2, 3))
                lead_track.notes.append(pretty_midi.Note(100, pitch, start, start + duration))
                start += duration + rng.uniform(0.05, 0.3)
            for hit in rng.uniform(0, seconds - 0.2, size=int(seconds * 3)):
                first = int(hit * RATE)
                hits[first : first + 800] += rng.normal(0, 0.3, 800) * np.exp(-np.arange(800) / 150)
                drum_track.notes.append(pretty_midi.Note(100, 38, hit, hit + 0.1))
            midi.instruments += [lead_track, drum_track]
            midi.write(str(folder / "notes.mid"))
            for name, audio in (("lead", 0.2 * lead), ("hits", hits)):
                soundfile.write(folder / f"{name}.wav", audio, RATE, subtype="FLOAT")
            soundfile.write(folder / "mixture.wav", 0.2 * lead + hits, RATE, subtype="FLOAT")
            stems = {
                "lead": {"program": 73, "is_drum": False, "family": "pipe"},
                "hits": {"program": 0, "is_drum": True, "family": "drums"},
            }
            (folder / "song.json").write_text(json.dumps({"name": folder.name, "stems": stems}))
    return root
