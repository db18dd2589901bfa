"""Arrangements: every stem present, in range, in time, reproducible from the seed."""

from __future__ import annotations

import numpy as np
import pytest

from cantor.data.arrange import BASS_REGISTER, arrange
from cantor.data.corpus import load_corpus


@pytest.fixture(scope="module")
def sample_pieces():
    pieces = load_corpus()
    chorales = [p for p in pieces if p.is_chorale][:6]
    folk = [p for p in pieces if not p.is_chorale][::400][:10]
    return chorales + folk


def test_band_arrangements_are_complete_and_in_range(sample_pieces):
    styles = set()
    for i, piece in enumerate(sample_pieces):
        song = arrange(piece, preset="band", seconds=12.0, rng=np.random.default_rng(i))
        styles.add(song.style)
        assert list(song.stems) == ["drums", "bass", "melody", "other"]
        assert song.stems["drums"].is_drum and not song.stems["melody"].is_drum
        for stem in song.stems.values():
            assert stem.notes, f"{piece.piece_id}: {stem.name} is empty"
            assert all(0 <= n.start < n.end <= 12.0 and 1 <= n.velocity <= 127 for n in stem.notes)
        if song.stems["bass"].details.get("source") == "harmony":
            assert all(BASS_REGISTER[0] <= n.pitch <= BASS_REGISTER[1] + 12 for n in song.stems["bass"].notes)
    assert len(styles) >= 3  # the same kind of piece is not always arranged the same way


def test_arrangement_is_reproducible(sample_pieces):
    piece = sample_pieces[-1]
    a = arrange(piece, preset="band", seconds=10.0, rng=np.random.default_rng(5))
    b = arrange(piece, preset="band", seconds=10.0, rng=np.random.default_rng(5))
    c = arrange(piece, preset="band", seconds=10.0, rng=np.random.default_rng(6))
    assert a.stems == b.stems and a.choices == b.choices
    assert a.stems != c.stems


def test_chorale_preset_plays_the_four_voices(sample_pieces):
    chorale = sample_pieces[0]
    song = arrange(chorale, preset="chorale", seconds=10.0, rng=np.random.default_rng(0))
    assert list(song.stems) == ["soprano", "alto", "tenor", "bass"]
    mean_pitch = [np.mean([n.pitch for n in song.stems[v].notes]) for v in song.stems]
    assert mean_pitch == sorted(mean_pitch, reverse=True)  # soprano above alto above tenor above bass
    with pytest.raises(ValueError, match="four-voice chorale"):
        arrange(sample_pieces[-1], preset="chorale", seconds=10.0, rng=np.random.default_rng(0))
