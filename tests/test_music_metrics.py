"""Symbolic music metrics: statistics match hand-computed values, the overlap tells like from unlike, and the
novelty index finds a planted copy."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cantor.data.corpus import Note, Piece, load_corpus
from cantor.metrics import music


def _piece(voices: dict[str, list[tuple[int, int, int]]], name: str = "p") -> Piece:
    return Piece(
        name,
        "test",
        name,
        0,
        "major",
        (4, 4),
        192,
        48,
        0,
        {k: tuple(Note(*n) for n in v) for k, v in voices.items()},
        name,
    )


def test_statistics_of_a_scale():
    scale = [(i * 48, 48, p) for i, p in enumerate([60, 62, 64, 65, 67, 69, 71, 72])]
    piece = _piece({"melody": scale})
    assert music.pitch_range(piece) == 12
    assert music.scale_consistency(piece) == 1.0
    # pitch class C twice, six others once: entropy of (2, 1, 1, 1, 1, 1, 1) / 8
    expected = -(2 / 8 * math.log2(2 / 8) + 6 * (1 / 8) * math.log2(1 / 8))
    assert music.pitch_class_entropy(piece) == pytest.approx(expected)
    assert music.polyphony(piece) == 1.0
    assert music.groove_consistency(piece) == 1.0  # both bars: an onset on every beat
    chord = _piece({"a": [(0, 192, 60)], "b": [(0, 96, 64)], "c": [(96, 96, 67)]})
    assert music.polyphony(chord) == 2.0
    assert music.mean_interval(_piece({"m": [(0, 48, 60), (48, 48, 67), (96, 48, 62)]})) == 6.0


def test_overlap_tells_the_corpus_from_random_notes():
    chorales = [p for p in load_corpus() if p.is_chorale and p.meter == (4, 4)][:120]
    rng = np.random.default_rng(0)
    random = [
        _piece({"soprano": [(i * 48, 48, int(rng.integers(48, 84))) for i in range(64)]}, f"r{n}") for n in range(60)
    ]
    like = music.overlap(chorales[::2], chorales[1::2])
    unlike = music.overlap(random, chorales[1::2])
    assert like["pitch_class_histogram"] > 0.9 and like["mean"] > 0.85
    assert unlike["mean"] < 0.4 and unlike["pitch_class_histogram"] < like["pitch_class_histogram"] - 0.3


def test_novelty_index_finds_a_planted_copy():
    training = [p for p in load_corpus() if p.is_chorale][:30]
    index = music.NoveltyIndex(training)
    rng = np.random.default_rng(1)
    fresh = _piece({"melody": [(i * 48, 48, int(rng.integers(60, 72))) for i in range(40)]})
    assert index.copied_share(fresh)[0] == 0
    borrowed = training[3].voices["soprano"][:20]  # 20 notes of a training soprano, a fifth higher, shifted in time
    planted = [(n.onset + 4800, n.duration, n.pitch + 7) for n in borrowed]
    copied, spans = index.copied_share(_piece({"melody": [*fresh.voices["melody"], *planted]}))
    assert copied == 5 and spans == 40 + 20 - 15
