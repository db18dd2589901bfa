"""The generator's converters: scores to sixteenth-note voice grids and back, exactly; clear refusals."""

from __future__ import annotations

import numpy as np
import pretty_midi
import pytest

from cantor.data.corpus import Note, Piece, load_corpus
from cantor.data.symbolic import (
    HOLD,
    ONSET,
    REST,
    NotRepresentable,
    VoiceGridConverter,
    piece_from_midi,
    piece_to_midi,
    voices_sounding,
)
from cantor.errors import CantorError

CONVERTER = VoiceGridConverter()


@pytest.fixture(scope="module")
def chorales() -> list[Piece]:
    return [piece for piece in load_corpus() if piece.is_chorale and piece.meter == (4, 4)]


def _shifted(piece: Piece) -> dict[str, tuple[Note, ...]]:
    """The piece's notes timed from the bar line the converter starts at."""
    start = piece.downbeat - piece.bar_ticks if piece.downbeat else 0
    return {
        name: tuple(Note(n.onset - start, n.duration, n.pitch) for n in notes) for name, notes in piece.voices.items()
    }


def test_chorales_round_trip_exactly(chorales):
    exact = 0
    for piece in chorales[:40]:
        try:
            tokens = CONVERTER.encode(piece)
        except NotRepresentable:
            continue
        assert CONVERTER.decode(tokens) == _shifted(piece), piece.piece_id
        exact += 1
    assert exact >= 38  # all but the rare chorale with thirty-second notes


def test_transposition_shifts_every_onset_token(chorales):
    piece = chorales[0]
    up = CONVERTER.encode(piece, transpose=3)
    plain = CONVERTER.encode(piece)
    onsets = plain >= ONSET
    assert (up[onsets] == plain[onsets] + 3).all() and (up[~onsets] == plain[~onsets]).all()


def test_windows_start_on_bar_lines_and_restate_held_notes(chorales):
    # a chorale with a note tied over a bar line
    piece = next(p for p in chorales if (CONVERTER.encode(p)[16::16] == HOLD).any())
    tokens = CONVERTER.encode(piece)
    windows = CONVERTER.to_tensors(piece, hop_bars=1)
    assert all(w.shape == (CONVERTER.window_steps, 4) for w in windows)
    assert not any((w[0] == HOLD).any() for w in windows)
    # every window is the whole piece's tokens there, except a held note restated as its onset at the start
    held = 0
    for bar, window in enumerate(windows):
        expected = tokens[bar * 16 : bar * 16 + CONVERTER.window_steps]
        assert (window[1:] == expected[1:]).all()
        for voice in range(4):
            if expected[0, voice] == HOLD:
                held += 1
                last_onset = tokens[: bar * 16, voice][tokens[: bar * 16, voice] >= ONSET][-1]
                assert window[0, voice] == last_onset
            else:
                assert window[0, voice] == expected[0, voice]
    assert held > 0


def test_voices_sounding_reads_which_notes_are_still_held():
    n = ONSET + 5
    # voices: held to the end, ended by a rest, a hold after a rest (silent), onset on the last step, all holds
    tokens = np.array([[n, n, HOLD, REST, HOLD], [HOLD, REST, REST, REST, HOLD], [HOLD, HOLD, HOLD, n, HOLD]])
    assert voices_sounding(tokens).tolist() == [True, False, False, True, False]
    batch = np.stack([tokens, np.full_like(tokens, REST)])
    assert voices_sounding(batch).tolist() == [[True, False, False, True, False], [False] * 5]


def test_refusals_say_why():
    three_four = Piece(
        "x", "chorale", "x", 0, "major", (3, 4), 144, 48, 0, {v: (Note(0, 48, 60),) for v in CONVERTER.voices}, "x"
    )
    with pytest.raises(NotRepresentable, match="not 4/4"):
        CONVERTER.encode(three_four)
    short = Piece(
        "y", "chorale", "y", 0, "major", (4, 4), 192, 48, 0, {v: (Note(0, 6, 60),) for v in CONVERTER.voices}, "y"
    )
    with pytest.raises(NotRepresentable, match="off the sixteenth-note grid"):
        CONVERTER.encode(short)
    high = Piece(
        "z", "chorale", "z", 0, "major", (4, 4), 192, 48, 0, {v: (Note(0, 48, 120),) for v in CONVERTER.voices}, "z"
    )
    with pytest.raises(NotRepresentable, match="outside"):
        CONVERTER.encode(high)


def test_a_hold_after_a_rest_decodes_as_a_rest():
    melody = VoiceGridConverter(voices=("melody",))
    tokens = np.array([[ONSET + 32], [HOLD], [REST], [HOLD], [ONSET + 30]])
    assert melody.decode(tokens)["melody"] == (Note(0, 24, 60), Note(48, 12, 58))


def test_midi_round_trip_keeps_the_tokens(tmp_path, chorales):
    piece = CONVERTER.from_tensors(CONVERTER.encode(chorales[2]))
    path = tmp_path / "chorale.mid"
    piece_to_midi(piece, path, tempo_bpm=72)
    back = piece_from_midi(path, CONVERTER.voices)
    assert (CONVERTER.encode(back) == CONVERTER.encode(piece)).all()


def test_bad_midi_files_give_clear_errors(tmp_path):
    text = tmp_path / "notes.mid"
    text.write_text("not midi")
    with pytest.raises(CantorError, match="not a readable MIDI file"):
        piece_from_midi(text, ("melody",))
    empty = tmp_path / "empty.mid"
    pretty_midi.PrettyMIDI().write(str(empty))
    with pytest.raises(CantorError, match="no notes"):
        piece_from_midi(empty, ("melody",))
    solo = tmp_path / "solo.mid"
    midi = pretty_midi.PrettyMIDI()
    track = pretty_midi.Instrument(0)
    track.notes.append(pretty_midi.Note(velocity=80, pitch=60, start=0, end=1))
    midi.instruments.append(track)
    midi.write(str(solo))
    with pytest.raises(CantorError, match="4 needed"):
        piece_from_midi(solo, CONVERTER.voices)
