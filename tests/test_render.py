"""FluidSynth rendering: deterministic float32 output, notes where they were asked for, preset fallback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cantor.data.render import (
    FluidRenderer,
    NoteEvent,
    is_drum_kit_font,
    resolve_soundfont,
    soundfont_presets,
    timgm6mb_soundfont,
)
from cantor.errors import CantorError

from .soundfonts import BLACK_PEARL, write_preset_headers

RATE = 44100


@pytest.fixture(scope="module")
def renderer():
    renderer = FluidRenderer([timgm6mb_soundfont()], sample_rate=RATE)
    yield renderer
    renderer.close()


def test_rendering_is_deterministic_and_float(renderer):
    notes = [NoteEvent(0.1 * i, 0.1 * i + 0.3, 60 + i % 7, 100) for i in range(20)]
    first = renderer.render(notes, soundfont=timgm6mb_soundfont(), program=0, is_drum=False, num_samples=RATE * 3)
    # something else in between must not change the next render (fresh synth per stem)
    renderer.render(notes[::-1], soundfont=timgm6mb_soundfont(), program=48, is_drum=False, num_samples=RATE * 3)
    second = renderer.render(notes, soundfont=timgm6mb_soundfont(), program=0, is_drum=False, num_samples=RATE * 3)
    assert first.audio.dtype == np.float32 and first.audio.shape == (2, RATE * 3)
    assert np.array_equal(first.audio, second.audio)
    assert np.abs(first.audio).max() > 0.01


def test_a_note_sounds_when_it_is_asked_to(renderer):
    note = NoteEvent(1.0, 1.5, 69, 110)
    audio = renderer.render(
        [note], soundfont=timgm6mb_soundfont(), program=0, is_drum=False, num_samples=RATE * 3
    ).audio
    envelope = np.abs(audio[0])
    onset = int(np.argmax(envelope > 0.05 * envelope.max()))
    assert abs(onset - RATE) < 64 + RATE * 0.02  # one FluidSynth block plus the attack
    assert envelope[: RATE - 64].max() == 0.0  # silence before the note


def test_drums_render_on_channel_ten(renderer):
    hits = [NoteEvent(0.25 * i, 0.25 * i + 0.1, 36 if i % 2 == 0 else 38, 110) for i in range(8)]
    stem = renderer.render(hits, soundfont=timgm6mb_soundfont(), program=0, is_drum=True, num_samples=RATE * 2)
    assert stem.bank == 128 and np.abs(stem.audio).max() > 0.01


def test_missing_preset_falls_back_and_says_so(renderer):
    hits = [NoteEvent(0.0, 0.1, 36, 110)]
    stem = renderer.render(hits, soundfont=timgm6mb_soundfont(), program=99, is_drum=True, num_samples=RATE)
    assert stem.program == 0  # TimGM6mb has no kit 99: the standard kit played, and the record says so


def test_unknown_soundfont_is_a_clear_error(tmp_path):
    with pytest.raises(CantorError, match="soundfont not found"):
        FluidRenderer([tmp_path / "none.sf2"])
    bogus = tmp_path / "bogus.sf2"
    bogus.write_bytes(b"not a soundfont")
    with pytest.raises(CantorError, match="cannot load"):
        FluidRenderer([bogus])


def test_bare_soundfont_names_resolve_to_known_fonts(tmp_path):
    assert resolve_soundfont("TimGM6mb") == timgm6mb_soundfont()
    assert resolve_soundfont("TimGM6mb.sf2") == timgm6mb_soundfont()
    own = tmp_path / "mine.sf2"
    own.write_bytes(b"")
    assert resolve_soundfont(str(own)) == own
    assert resolve_soundfont("no-such-font.sf2") == Path("no-such-font.sf2")


def test_preset_headers_are_read_from_the_file():
    presets = soundfont_presets(timgm6mb_soundfont())
    assert {(0, program) for program in range(128)} <= presets and (128, 0) in presets
    assert not is_drum_kit_font(presets)


@pytest.mark.parametrize("pad_odd_chunks", [True, False])
def test_preset_headers_are_found_behind_odd_chunks_padded_or_not(tmp_path, pad_odd_chunks):
    font = write_preset_headers(tmp_path / "kit.sf2", [(0, 0)], pad_odd_chunks=pad_odd_chunks)
    assert soundfont_presets(font) == {(0, 0)} and is_drum_kit_font(soundfont_presets(font))
    melodic = write_preset_headers(tmp_path / "gm.sf2", [(0, p) for p in range(10)], pad_odd_chunks=pad_odd_chunks)
    assert not is_drum_kit_font(soundfont_presets(melodic))


def test_a_file_that_is_no_soundfont_is_a_clear_error(tmp_path):
    (tmp_path / "text.sf2").write_text("hello")
    with pytest.raises(CantorError, match="not a SoundFont"):
        soundfont_presets(tmp_path / "text.sf2")
    truncated = write_preset_headers(tmp_path / "cut.sf2", [(0, 0)]).read_bytes()[:40]
    (tmp_path / "cut.sf2").write_bytes(truncated)
    with pytest.raises(CantorError, match=r"SoundFont|presets"):
        soundfont_presets(tmp_path / "cut.sf2")


@pytest.mark.skipif(not BLACK_PEARL.is_file(), reason="avldrums.lv2-soundfont not installed (make setup installs it)")
def test_a_recorded_kit_plays_the_drums_and_refuses_pitched_stems():
    renderer = FluidRenderer([BLACK_PEARL], sample_rate=RATE)
    try:
        # GM's Acoustic Bass Drum (35) is below the kit's keys: it must still sound, as the kick (36) does.
        for key in (35, 36, 38, 42):
            stem = renderer.render(
                [NoteEvent(0.0, 0.2, key, 110)], soundfont=BLACK_PEARL, program=0, is_drum=True, num_samples=RATE
            )
            assert np.abs(stem.audio).max() > 0.01, key
        kick = renderer.render(
            [NoteEvent(0.0, 0.2, 36, 110)], soundfont=BLACK_PEARL, program=0, is_drum=True, num_samples=RATE
        )
        low = renderer.render(
            [NoteEvent(0.0, 0.2, 35, 110)], soundfont=BLACK_PEARL, program=0, is_drum=True, num_samples=RATE
        )
        assert np.array_equal(kick.audio, low.audio) and (kick.bank, kick.program) == (0, 0)
        with pytest.raises(CantorError, match="drum-kit soundfont cannot play a pitched stem"):
            renderer.render(
                [NoteEvent(0.0, 0.2, 60, 110)], soundfont=BLACK_PEARL, program=0, is_drum=False, num_samples=RATE
            )
    finally:
        renderer.close()
