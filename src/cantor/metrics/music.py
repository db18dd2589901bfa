"""Metrics of symbolic music: per-piece statistics (after MusPy's; two differ on purpose: scale consistency also tries
harmonic minor, whose raised seventh a chorale in minor uses, and polyphony counts sounding notes, so doubled
voices count twice), the Yang & Lerch overlapping area between sets of pieces, and novelty (how much of a piece is
copied from the training set).

Pieces are :class:`cantor.data.corpus.Piece`: notes per voice in ticks of 1/48 quarter note.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from cantor.data.corpus import TICKS_PER_QUARTER, Piece
from cantor.data.symbolic import DRUM_VOICE, pitched_notes

MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
HARMONIC_MINOR_SCALE = (0, 2, 3, 5, 7, 8, 11)
GRID_TICKS = TICKS_PER_QUARTER // 4  # sixteenths: the grid polyphony and grooves are read on
NOVELTY_NOTES = 16


def _notes(piece: Piece, *, drums: bool = False) -> list:
    """Every note of the pitched voices (and of the drums where ``drums``: their "pitches" name instruments)."""
    return [note for notes in piece.voices.values() for note in notes] if drums else pitched_notes(piece)


def pitch_range(piece: Piece) -> float:
    """Highest minus lowest pitch, in semitones."""
    pitches = [note.pitch for note in _notes(piece)]
    return float(max(pitches) - min(pitches)) if pitches else 0.0


def pitch_class_histogram(piece: Piece) -> np.ndarray:
    """Share of notes on each of the 12 pitch classes."""
    counts = np.bincount([note.pitch % 12 for note in _notes(piece)], minlength=12).astype(float)
    return counts / counts.sum() if counts.sum() else counts


def pitch_class_entropy(piece: Piece) -> float:
    """Entropy (bits) of the pitch-class histogram: 0 for one pitch class, log2(12) ≈ 3.58 for all alike."""
    histogram = pitch_class_histogram(piece)
    used = histogram[histogram > 0]
    return float(-(used * np.log2(used)).sum())


def scale_consistency(piece: Piece) -> float:
    """The largest share of notes that fall in one major or harmonic-minor scale (any tonic)."""
    histogram = pitch_class_histogram(piece)
    best = 0.0
    for scale, tonic in itertools.product((MAJOR_SCALE, HARMONIC_MINOR_SCALE), range(12)):
        best = max(best, float(histogram[[(tonic + step) % 12 for step in scale]].sum()))
    return best


def _sounding(piece: Piece) -> np.ndarray:
    """Notes sounding at every sixteenth ``[steps]``."""
    notes = _notes(piece)
    if not notes:
        return np.zeros(0)
    length = -(-piece.length_ticks // GRID_TICKS)
    sounding = np.zeros(length)
    for note in notes:
        sounding[note.onset // GRID_TICKS : -(-(note.onset + note.duration) // GRID_TICKS)] += 1
    return sounding


def polyphony(piece: Piece) -> float:
    """Mean number of notes sounding, over the sixteenths where at least one does."""
    sounding = _sounding(piece)
    active = sounding[sounding > 0]
    return float(active.mean()) if len(active) else 0.0


def groove_consistency(piece: Piece) -> float:
    """1 − the mean Hamming distance between the onset patterns of consecutive bars (on the sixteenth grid); drum
    hits count."""
    steps = piece.bar_ticks // GRID_TICKS
    notes = _notes(piece, drums=True)
    if not notes or steps == 0:
        return 0.0
    start = piece.downbeat - piece.bar_ticks if piece.downbeat else 0
    bars = -(-(piece.length_ticks - start) // piece.bar_ticks)
    onsets = np.zeros((max(bars, 1), steps), dtype=bool)
    for note in notes:
        position = (note.onset - start) // GRID_TICKS
        onsets[position // steps, position % steps] = True
    if len(onsets) < 2:
        return 1.0
    return float(1 - np.mean(onsets[1:] != onsets[:-1]))


def mean_interval(piece: Piece) -> float:
    """Mean absolute interval between consecutive notes of a voice, in semitones."""
    intervals = [
        abs(b.pitch - a.pitch)
        for voice, notes in piece.voices.items()
        if voice != DRUM_VOICE
        for a, b in itertools.pairwise(notes)
    ]
    return float(np.mean(intervals)) if intervals else 0.0


def notes_per_bar(piece: Piece) -> float:
    notes = _notes(piece)
    if not notes:
        return 0.0
    length = max(n.onset + n.duration for n in notes) - min(n.onset for n in notes)
    return len(notes) / max(1.0, length / piece.bar_ticks)


def note_length_histogram(piece: Piece) -> np.ndarray:
    """Share of notes of each length class: up to a sixteenth, eighth, dotted eighth, quarter, dotted quarter, half,
    longer."""
    edges = np.array([1, 2, 3, 4, 6, 8]) * GRID_TICKS
    lengths = [note.duration for note in _notes(piece)]
    counts = np.bincount(np.searchsorted(edges, lengths, side="left"), minlength=len(edges) + 1).astype(float)
    return counts / counts.sum() if counts.sum() else counts


# The statistics reported per set, and the features whose distance distributions the overlap compares.
STATISTICS: dict[str, Callable[[Piece], float]] = {
    "pitch_range": pitch_range,
    "pitch_class_entropy": pitch_class_entropy,
    "scale_consistency": scale_consistency,
    "polyphony": polyphony,
    "groove_consistency": groove_consistency,
}
FEATURES: dict[str, Callable[[Piece], np.ndarray | float]] = {
    "pitch_class_histogram": pitch_class_histogram,
    "note_length_histogram": note_length_histogram,
    "pitch_range": pitch_range,
    "mean_interval": mean_interval,
    "notes_per_bar": notes_per_bar,
    "polyphony": polyphony,
}


def set_statistics(pieces: Sequence[Piece]) -> dict[str, tuple[float, float]]:
    """Mean and standard deviation of every statistic over a set."""
    return {
        name: (float(np.mean(values)), float(np.std(values)))
        for name, function in STATISTICS.items()
        for values in [[function(piece) for piece in pieces]]
    }


def _distances(a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """Euclidean distances within ``a`` (each pair once) or between every item of ``a`` and of ``b``."""
    a = a.reshape(len(a), -1)
    if b is None:
        rows, cols = np.triu_indices(len(a), k=1)
        return np.linalg.norm(a[rows] - a[cols], axis=1)
    b = b.reshape(len(b), -1)
    return np.linalg.norm(a[:, None] - b[None], axis=2).ravel()


def overlapping_area(intra: np.ndarray, inter: np.ndarray, *, points: int = 1000) -> float:
    """Area shared by the Gaussian-kernel density estimates of two samples of distances (1: the same)."""
    from scipy.stats import gaussian_kde

    if np.ptp(np.concatenate([intra, inter])) == 0:
        return 1.0
    low = min(intra.min(), inter.min())
    high = max(intra.max(), inter.max())
    span = high - low
    grid = np.linspace(low - 0.1 * span, high + 0.1 * span, points)
    densities = []
    for sample in (intra, inter):
        if np.ptp(sample) == 0:  # a constant sample: jitter it so the estimate exists
            sample = sample + np.random.default_rng(0).normal(0, 1e-3 * span, size=len(sample))
        densities.append(gaussian_kde(sample)(grid))
    return float(np.trapezoid(np.minimum(*densities), grid))


def overlap(generated: Sequence[Piece], reference: Sequence[Piece]) -> dict[str, float]:
    """Yang & Lerch (2020): per feature, the overlapping area between the reference set's intra-set distances and
    the generated-to-reference distances; ``mean`` over features. 1 means the generated set is as close to the
    reference as the reference is to itself."""
    result = {}
    for name, feature in FEATURES.items():
        ref = np.array([feature(piece) for piece in reference], dtype=float)
        gen = np.array([feature(piece) for piece in generated], dtype=float)
        result[name] = overlapping_area(_distances(ref), _distances(gen, ref))
    result["mean"] = float(np.mean(list(result.values())))
    return result


def _spans(piece: Piece, length: int, voices: Sequence[str] | None) -> Iterable[tuple]:
    """Every run of ``length`` consecutive notes of a voice (of ``voices``, or all but the drums), as (intervals,
    durations): transposition-invariant."""
    for voice, notes in piece.voices.items():
        if voice == DRUM_VOICE or (voices is not None and voice not in voices):
            continue
        for start in range(len(notes) - length + 1):
            run = notes[start : start + length]
            intervals = tuple(b.pitch - a.pitch for a, b in itertools.pairwise(run))
            durations = tuple(note.duration for note in run)
            yield intervals, durations


class NoveltyIndex:
    """The training set's ``length``-note spans; tells how much of a piece is copied from it. ``voices`` limits
    both to those voices (a band's melody: its bass and chords follow formulas that repeat by design)."""

    def __init__(
        self, training: Iterable[Piece], *, length: int = NOVELTY_NOTES, voices: Sequence[str] | None = None
    ) -> None:
        self.length = length
        self.voices = voices
        self.spans = {span for piece in training for span in _spans(piece, length, voices)}

    def copied_share(self, piece: Piece) -> tuple[int, int]:
        """(spans found verbatim in the training set, spans in the piece)."""
        spans = list(_spans(piece, self.length, self.voices))
        return sum(span in self.spans for span in spans), len(spans)
