"""Harmony for arranging: fit a chord progression to notes, and voice chords.

The fitter is a small hidden-Markov model over chords: emission scores how well a chord's tones cover the notes
sounding in a window (weighted by duration, downbeats count more), the prior prefers the key's diatonic chords, and
transitions prefer staying, falling fifths and stepwise root motion. Viterbi picks the best sequence.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from cantor.data.corpus import Note

QUALITY_INTERVALS = {"maj": (0, 4, 7), "min": (0, 3, 7), "dim": (0, 3, 6), "dom7": (0, 4, 7, 10)}
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
HARMONIC_MINOR = (0, 2, 3, 5, 7, 8, 11)
PITCH_CLASS_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
# How much one window's notes count against the key prior and the transition bonus. Weighed per voice so a lone
# folk melody moves the harmony as readily as four chorale voices do; lower values leave folk tunes on the tonic.
EVIDENCE_WEIGHT = 4.0
STAY_BONUS = 0.15


@dataclass(frozen=True)
class Chord:
    """A chord: root pitch class, quality, and optional added colour tones (intervals above the root)."""

    root: int
    quality: str
    extensions: tuple[int, ...] = ()

    @property
    def pitch_classes(self) -> tuple[int, ...]:
        intervals = QUALITY_INTERVALS[self.quality] + self.extensions
        return tuple(sorted({(self.root + i) % 12 for i in intervals}))

    @property
    def fifth(self) -> int:
        return (self.root + (6 if self.quality == "dim" else 7)) % 12

    def name(self) -> str:
        suffix = {"maj": "", "min": "m", "dim": "dim", "dom7": "7"}[self.quality]
        return PITCH_CLASS_NAMES[self.root] + suffix


def diatonic_chords(tonic: int, mode: str) -> dict[Chord, float]:
    """Candidate chords of a key with log-prior weights (tonic, dominant and subdominant first)."""
    if mode == "major":
        degrees = [
            (0, "maj", 0.0),
            (5, "maj", -0.3),
            (7, "maj", -0.2),
            (7, "dom7", -0.6),
            (9, "min", -0.6),
            (2, "min", -0.7),
            (4, "min", -1.2),
            (11, "dim", -2.0),
            (2, "maj", -1.6),
            (4, "maj", -1.8),
        ]
    else:
        degrees = [
            (0, "min", 0.0),
            (5, "min", -0.3),
            (7, "maj", -0.3),
            (7, "dom7", -0.5),
            (8, "maj", -0.6),
            (3, "maj", -0.7),
            (10, "maj", -0.8),
            (2, "dim", -1.5),
            (5, "maj", -1.6),
            (0, "maj", -2.2),
        ]
    return {Chord((tonic + step) % 12, quality): prior for step, quality, prior in degrees}


def fit_chords(
    voices: Sequence[Sequence[Note]],
    *,
    tonic: int,
    mode: str,
    window_ticks: int,
    num_windows: int,
    bar_ticks: int,
) -> list[Chord]:
    """One chord per window of ``window_ticks`` ticks, starting at tick 0, for ``num_windows`` windows."""
    candidates = list(diatonic_chords(tonic, mode).items())
    chords = [c for c, _ in candidates]
    prior = np.array([p for _, p in candidates])
    histograms = np.zeros((num_windows, 12))
    for notes in voices:
        for note in notes:
            first, last = note.onset // window_ticks, (note.onset + note.duration - 1) // window_ticks
            for window in range(max(first, 0), min(last, num_windows - 1) + 1):
                start = max(note.onset, window * window_ticks)
                end = min(note.onset + note.duration, (window + 1) * window_ticks)
                accent = 1.5 if start % bar_ticks == 0 else 1.0
                histograms[window, note.pitch % 12] += accent * (end - start) / window_ticks
    histograms *= EVIDENCE_WEIGHT / max(1, len(voices))
    membership = np.array([[1.0 if pc in c.pitch_classes else -0.6 for pc in range(12)] for c in chords])
    emission = histograms @ membership.T + prior  # (windows, chords)
    transition = np.array([[_transition_score(a, b) for b in chords] for a in chords])
    score = emission[0].copy()
    back = np.zeros((num_windows, len(chords)), dtype=int)
    for window in range(1, num_windows):
        total = score[:, None] + transition
        back[window] = total.argmax(axis=0)
        score = total.max(axis=0) + emission[window]
    path = [int(score.argmax())]
    for window in range(num_windows - 1, 0, -1):
        path.append(int(back[window, path[-1]]))
    return [chords[i] for i in reversed(path)]


def _transition_score(a: Chord, b: Chord) -> float:
    if a == b:
        return STAY_BONUS
    motion = (b.root - a.root) % 12
    if motion == 5:  # falling fifth (V→I, ii→V)
        return 0.4 if a.quality in ("dom7", "maj") else 0.2
    if motion in (2, 10):
        return 0.0
    return -0.2


def voice_chord(chord: Chord, *, previous: Sequence[int] | None, low: int, high: int, size: int) -> list[int]:
    """A voicing of ``size`` distinct notes inside [low, high] spanning at most a tenth, covering the chord's tones
    (as many as fit), and moving as little as possible from ``previous`` (nearest the middle of the range if none).
    """
    pcs = set(chord.pitch_classes)
    candidates = [p for p in range(low, high + 1) if p % 12 in pcs]
    must_cover = min(len(pcs), size)
    options = [
        list(combo)
        for combo in itertools.combinations(candidates, size)
        if combo[-1] - combo[0] <= 16 and len({p % 12 for p in combo}) >= must_cover
    ]
    if not options:
        raise ValueError(f"no {size}-note voicing of {chord.name()} fits in [{low}, {high}]")
    if previous:
        return min(options, key=lambda v: sum(min(abs(n - p) for p in previous) for n in v))
    middle = (low + high) / 2
    return min(options, key=lambda v: abs(float(np.mean(v)) - middle))


# Krumhansl–Kessler key profiles (probe-tone ratings), from C.
MAJOR_PROFILE = (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88)
MINOR_PROFILE = (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17)


def estimate_key(notes: Sequence[Note]) -> tuple[int, str]:
    """(tonic pitch class, "major" or "minor") whose key profile best correlates with the notes' duration-weighted
    pitch classes (Krumhansl–Schmuckler)."""
    histogram = np.zeros(12)
    for note in notes:
        histogram[note.pitch % 12] += note.duration
    if not histogram.any():
        return 0, "major"
    candidates = [
        (float(np.nan_to_num(np.corrcoef(histogram, np.roll(profile, tonic))[0, 1])), tonic, mode)
        for mode, profile in (("major", MAJOR_PROFILE), ("minor", MINOR_PROFILE))
        for tonic in range(12)
    ]
    _, tonic, mode = max(candidates)
    return tonic, mode


def key_name(tonic: int, mode: str) -> str:
    """``(2, "major")`` → ``"D major"``."""
    return f"{PITCH_CLASS_NAMES[tonic % 12]} {mode}"


def tonic_of(name: str) -> int:
    """The pitch class of a tonic's name ("D", "F#", "Bb"; enharmonic spellings too) or of a key's ("D major")."""
    letter, *rest = name.strip().split()[0] if name.strip() else "?"
    natural = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}.get(letter.upper())
    if natural is None or any(sign not in "#b" for sign in rest):
        raise ValueError(f"not a tonic: {name!r} (expected e.g. C, F#, Bb)")
    return (natural + rest.count("#") - rest.count("b")) % 12


def key_shares(pieces_notes: Iterable[Sequence[Note]]) -> tuple[tuple[str, float], ...]:
    """How often each key (as :func:`estimate_key` reads it) occurs among pieces given by their notes, most common
    first: ``(("D major", 0.31), ("G major", 0.28), …)``."""
    counts = Counter(key_name(*estimate_key(notes)) for notes in pieces_notes)
    total = sum(counts.values())
    return tuple((name, round(count / total, 4)) for name, count in counts.most_common())


def scale_of(tonic: int, mode: str) -> tuple[int, ...]:
    steps = MAJOR_SCALE if mode == "major" else HARMONIC_MINOR
    return tuple((tonic + s) % 12 for s in steps)


def nearest_pitch(pitch_class: int, *, target: float, low: int, high: int) -> int:
    """The pitch of ``pitch_class`` nearest to ``target`` inside [low, high]."""
    candidates = [p for p in range(low, high + 1) if p % 12 == pitch_class % 12]
    return min(candidates, key=lambda p: abs(p - target))
