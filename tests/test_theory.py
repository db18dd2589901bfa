"""Harmony fitting and voicing on constructed progressions with a known answer."""

from __future__ import annotations

from cantor.data.corpus import Note
from cantor.data.theory import Chord, fit_chords, voice_chord

BAR = 192


def _arpeggio(bar: int, pitches: list[int]) -> list[Note]:
    return [Note(bar * BAR + i * 48, 48, p) for i, p in enumerate(pitches)]


def test_fit_recovers_I_IV_V_I_in_c_major():
    melody = _arpeggio(0, [60, 64, 67, 72]) + _arpeggio(1, [65, 69, 72, 69]) + _arpeggio(2, [67, 71, 74, 71])
    melody += _arpeggio(3, [72, 67, 64, 60])
    chords = fit_chords([melody], tonic=0, mode="major", window_ticks=BAR, num_windows=4, bar_ticks=BAR)
    assert [c.name() for c in chords] in (["C", "F", "G", "C"], ["C", "F", "G7", "C"])


def test_fit_in_a_minor_finds_the_dominant():
    melody = _arpeggio(0, [57, 60, 64, 60]) + _arpeggio(1, [64, 68, 71, 68]) + _arpeggio(2, [69, 64, 60, 57])
    chords = fit_chords([melody], tonic=9, mode="minor", window_ticks=BAR, num_windows=3, bar_ticks=BAR)
    assert chords[0].name() == "Am" and chords[1].root == 4 and chords[1].quality in ("maj", "dom7")


def test_voicing_stays_in_range_and_moves_little():
    first = voice_chord(Chord(0, "maj"), previous=None, low=52, high=76, size=4)
    second = voice_chord(Chord(5, "maj"), previous=first, low=52, high=76, size=4)
    for voicing, chord in ((first, Chord(0, "maj")), (second, Chord(5, "maj"))):
        assert all(52 <= p <= 76 for p in voicing)
        assert {p % 12 for p in voicing} == set(chord.pitch_classes)
    # C → F by common-tone voice leading: every voice moves at most a whole tone
    assert sum(min(abs(a - b) for b in first) for a in second) <= 6


def test_key_names_parse_and_bad_ones_are_refused():
    import pytest

    from cantor.data.theory import key_name, tonic_of

    assert [tonic_of(name) for name in ("C", "F#", "Bb", "eb", "D major", "B#")] == [0, 6, 10, 3, 2, 0]
    assert key_name(14, "minor") == "D minor" and tonic_of(key_name(8, "major")) == 8
    for bad in ("", "H", "Cx", "major"):
        with pytest.raises(ValueError, match="not a tonic"):
            tonic_of(bad)


def test_key_shares_count_the_keys_that_estimate_key_reads():
    from cantor.data.theory import key_shares

    def scale(tonic: int, steps=(0, 2, 4, 5, 7, 9, 11, 12, 7, 4, 0)) -> list[Note]:
        return [Note(48 * i, 48, 60 + tonic + s) for i, s in enumerate(steps)]

    minor = (0, 2, 3, 5, 7, 8, 11, 12, 7, 3, 0)
    shares = key_shares([scale(2), scale(7), scale(2), scale(9, minor)])
    assert shares == (("D major", 0.5), ("G major", 0.25), ("A minor", 0.25))
