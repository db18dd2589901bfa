"""The packaged corpus index: what it holds, that it matches music21, and that tune groups catch reused melodies."""

from __future__ import annotations

from collections import Counter

import pytest

from cantor.data.corpus import TICKS_PER_QUARTER, Note, Piece, assign_tune_groups, load_corpus


@pytest.fixture(scope="module")
def pieces() -> list[Piece]:
    return load_corpus()


def test_index_holds_chorales_and_folk_tunes(pieces):
    sources = Counter(p.source for p in pieces)
    assert sources["chorale"] >= 300
    assert sum(n for s, n in sources.items() if s != "chorale") >= 3000
    for piece in pieces[:: max(1, len(pieces) // 50)]:
        assert piece.bar_ticks > 0 and 0 <= piece.downbeat < piece.bar_ticks
        assert all(n.duration > 0 for notes in piece.voices.values() for n in notes)


def test_index_matches_a_fresh_music21_parse(pieces):
    from music21 import corpus

    entry = next(p for p in pieces if p.piece_id == "chorale/bach/bwv269.mxl")
    score = corpus.parse("bach/bwv269")
    for voice, part in zip(("soprano", "bass"), (score.parts[0], score.parts[3]), strict=True):
        notes = part.flatten().stripTies().notes
        expected = [(round(float(n.offset) * TICKS_PER_QUARTER), n.pitch.midi) for n in notes]
        assert [(n.onset, n.pitch) for n in entry.voices[voice]] == expected
    key = score.analyze("key")
    assert (entry.tonic_pc, entry.mode) == (key.tonic.pitchClass, key.mode)
    assert entry.meter == (3, 4) and entry.bar_ticks == 3 * TICKS_PER_QUARTER
    assert entry.downbeat == TICKS_PER_QUARTER  # a one-beat pickup: the first bar line falls after beat one


def test_reused_chorale_melodies_share_a_group(pieces):
    chorales = [p for p in pieces if p.is_chorale]
    groups = Counter(p.tune_group for p in chorales)
    in_shared = sum(n for n in groups.values() if n > 1)
    # Field notes: 75–87 chorales reuse a melody found in another chorale.
    assert 60 <= in_shared <= 200


def _piece(piece_id: str, pitches: list[int], title: str = "x") -> Piece:
    notes = tuple(Note(i * 48, 48, p) for i, p in enumerate(pitches))
    return Piece(piece_id, "folk", title, 0, "major", (4, 4), 192, 48, 0, {"melody": notes}, piece_id)


def test_tune_groups_are_transposition_invariant_and_title_aware():
    tune = [60, 62, 64, 65, 67, 69, 71, 72, 71, 69, 67, 65, 64, 62, 60, 62, 64, 60]
    pieces = [
        _piece("a", tune, "First Tune"),
        _piece("b", [p + 5 for p in tune] + [50, 51], "Another Name"),  # same melody, transposed
        _piece("c", [60, 67, 60, 67, 62, 69, 62, 69, 64, 71, 64, 71, 65, 72, 65, 72, 60, 60], "Boys of Ballisodare"),
        _piece(
            "d",
            [70, 71, 70, 71, 70, 71, 70, 71, 70, 71, 70, 71, 70, 71, 70, 71, 70, 71],
            "The Boys of Ballisodare (Reel)",
        ),
    ]
    groups = [p.tune_group for p in assign_tune_groups(pieces)]
    assert groups == ["a", "a", "c", "c"]
