"""Analysis with known answers: pitch of a tone, silence, a section boundary, and `cantor analyze` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import soundfile

from cantor.analysis.notes import (
    MAX_CENTS_FROM_KEY,
    Note,
    StreamingTranscription,
    decode_notes,
    notes_to_midi,
    pitch_track,
)
from cantor.analysis.sections import track_sections
from cantor.features.cqt import CQTConfig, cqt_magnitude
from cantor.inference.analyze import Analyzer

from .test_cli import cantor
from .toy import RATE

EXAMPLE = Path(__file__).parents[1] / "examples" / "band-example" / "mixture.flac"


def _tone(f0: float, seconds: float, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.2 * sum(np.sin(2 * np.pi * f0 * k * t) / k for k in (1, 2, 3))).astype(np.float32)


@pytest.fixture(scope="module")
def analyzer(tiny_transcriber, tiny_classifier) -> Analyzer:
    return Analyzer(transcriber=tiny_transcriber / "best", classifier=tiny_classifier / "best")


@pytest.mark.parametrize("f0", [440.0, 446.0])  # A4, and A4 + 24 cents
def test_a_tone_gives_its_pitch_within_ten_cents(analyzer, f0):
    audio = np.concatenate([np.zeros(RATE, np.float32), _tone(f0, 2.0), np.zeros(RATE, np.float32)])
    stem = analyzer.analyze(audio, RATE, separate=False).stems["mix"]
    assert stem.family == "pipe"
    voiced = np.isfinite(stem.pitch.f0)
    cents = 1200 * np.log2(np.nanmedian(stem.pitch.f0) / f0)
    assert abs(cents) < 10, cents
    assert not voiced[stem.pitch.times < 0.8].any() and not voiced[stem.pitch.times > 3.2].any()
    np.testing.assert_array_equal(stem.pitch.guess[voiced], stem.pitch.f0[voiced])
    assert np.isfinite(stem.pitch.guess).all()
    assert [note.pitch for note in stem.notes] == [69]
    assert abs(stem.notes[0].start - 1.0) < 0.05 and abs(stem.notes[0].end - 3.0) < 0.1


def test_silence_gives_no_notes_and_no_pitch(analyzer):
    stem = analyzer.analyze(np.zeros(2 * RATE, np.float32), RATE, separate=False).stems["mix"]
    assert stem.notes == [] and not np.isfinite(stem.pitch.f0).any()


def test_very_short_inputs_are_analysed(analyzer):
    for samples in (1, 80):  # one sample; 10 ms
        analysis = analyzer.analyze(np.full(samples, 0.1, np.float32), RATE, separate=False)
        assert [s["label"] for s in analysis.sections.to_dict()] == ["A"]
        assert analysis.stems["mix"].notes == []


def test_decoding_splits_repeated_notes_and_keeps_held_ones():
    config = CQTConfig(sample_rate=8000, hop_length=100, lowest_midi=36, semitones=48)
    onset = np.zeros((48, 100))
    frame = np.zeros((48, 100))
    frame[10, 10:60] = 1  # held
    onset[10, 10] = 1
    frame[20, 10:80] = 1  # struck again at frame 40
    onset[20, [10, 40]] = 1
    frame[30, 70:90] = 1  # no onset: a soft attack
    notes = decode_notes(onset, frame, None, config)
    assert [(n.pitch - 36, round(n.start * 80), round(n.end * 80)) for n in notes] == [
        (10, 10, 60),
        (20, 10, 40),
        (20, 40, 80),
        (30, 70, 90),
    ]


def test_the_f0_line_follows_the_new_note_over_the_ringing_one_and_the_higher_where_both_are_likely():
    """A melody steps down from key 30 to key 26 at frame 40 while key 30 rings on to frame 60: the new note's
    stronger frame posterior wins there. From frame 60 a harmony note at key 33 sounds with key 26, about as likely:
    the higher note carries the line (the melody convention)."""
    config = CQTConfig(sample_rate=8000, hop_length=100, lowest_midi=36, semitones=48)
    frame = np.zeros((48, 100))
    frame[30, 0:60] = np.r_[np.full(40, 0.9), np.full(20, 0.35)]
    frame[26, 40:100] = 0.9
    frame[33, 60:100] = 0.85
    notes = [Note(0.0, 0.75, 66, 90), Note(0.5, 1.25, 62, 90), Note(0.75, 1.25, 69, 90)]
    cqt = np.ones((config.n_bins, 100))
    cqt[1 :: config.bins_per_semitone] = 2.0  # every key's centre bin: each key is in tune
    track = pitch_track(frame, cqt, config, notes=notes)
    midi = np.round(pretty_midi.hz_to_note_number(track.f0)).astype(int)
    assert (midi[:40] == 66).all() and (midi[40:60] == 62).all() and (midi[60:] == 69).all()


def test_silent_frames_guess_the_last_voiced_pitch_and_heard_ones_their_likeliest_key():
    """Frames 0–9 hear key 12 faintly (no note); a note at key 30 sounds 10–40; after it, frames 40–70 hear
    nothing (a decayed note) and frames 70–100 hear key 20 below the voicing threshold. The silent frames guess the
    note's pitch, the faint ones their own key; no frame is voiced but the note's."""
    config = CQTConfig(sample_rate=8000, hop_length=100, lowest_midi=36, semitones=48)
    frame = np.zeros((48, 100))
    frame[12, 0:10] = 0.3
    frame[30, 10:40] = 0.9
    frame[20, 70:100] = 0.3
    cqt = np.ones((config.n_bins, 100))
    cqt[1 :: config.bins_per_semitone] = 2.0
    track = pitch_track(
        frame, cqt, config, notes=[Note(10 / config.frames_per_second, 40 / config.frames_per_second, 66, 90)]
    )
    guess = np.round(pretty_midi.hz_to_note_number(track.guess)).astype(int)
    assert (guess[:10] == 48).all() and (guess[10:70] == 66).all() and (guess[70:] == 56).all()
    assert np.isfinite(track.f0[10:40]).all() and np.isnan(np.delete(track.f0, np.s_[10:40])).all()
    # a block that starts in silence continues the pitch voiced before it
    later = pitch_track(frame[:, 40:], cqt[:, 40:], config, first_frame=40, previous_pitch=track.f0[39])
    np.testing.assert_array_equal(later.guess, track.guess[40:])


def test_f0_follows_intonation_but_stays_within_the_decoded_key():
    """A note at key 30 (MIDI 66) whose CQT peaks a third of a semitone sharp for frames 0–49 (intonation: kept)
    and in the next key's lower bin, two thirds of a semitone sharp, for frames 50–99 (a neighbouring key's bin, as
    with low notes: capped at MAX_CENTS_FROM_KEY, so the f0 still names MIDI 66)."""
    config = CQTConfig(sample_rate=8000, hop_length=100, lowest_midi=36, semitones=48)
    frame = np.zeros((48, 100))
    frame[30] = 0.9
    cqt = np.ones((config.n_bins, 100))
    centre = 30 * config.bins_per_semitone + 1
    cqt[centre + 1, :50] = 4.0
    cqt[centre + 2, 50:] = 4.0
    track = pitch_track(frame, cqt, config, notes=[Note(0.0, 100 / config.frames_per_second, 66, 90)])
    cents = 100 * (pretty_midi.hz_to_note_number(track.f0) - 66)
    assert np.allclose(cents[:50], 33.3, atol=1.0)
    assert np.allclose(cents[50:], MAX_CENTS_FROM_KEY)


@pytest.mark.parametrize("seed", range(6))
def test_streamed_notes_and_f0_equal_the_whole_track_decoding(seed):
    """Posteriors pushed in blocks of random size give exactly the notes and f0 of decoding them at once: repeated,
    held (longer than any block), soft-attack and too-short notes, across block edges."""
    rng = np.random.default_rng(seed)
    config = CQTConfig()
    frames = int(rng.integers(200, 2500))
    frame = np.zeros((config.semitones, frames))
    for _ in range(60):
        key, start = rng.integers(0, config.semitones), rng.integers(0, frames)
        frame[key, start : start + rng.integers(1, 600)] = rng.uniform(0.2, 1.0)
    onset = rng.random(frame.shape) ** 6 * (frame > 0)
    cqt = rng.random((config.n_bins, frames)).astype(np.float32)
    whole = decode_notes(onset, frame, cqt, config)
    streamed = StreamingTranscription(config, frames)
    first = 0
    while first < frames:
        last = min(frames, first + int(rng.integers(1, 400)))
        streamed.push(onset[:, first:last], frame[:, first:last], cqt[:, first:last])
        first = last
    notes, track = streamed.result()
    assert notes == whole and len(whole) > 20
    reference = pitch_track(frame, cqt, config, notes=whole)
    np.testing.assert_array_equal(track.f0, reference.f0)
    np.testing.assert_array_equal(track.guess, reference.guess)


def test_notes_round_trip_through_midi(tmp_path):
    notes = [Note(0.5, 1.0, 60, 90), Note(1.0, 1.5, 64, 70)]
    notes_to_midi({"melody": (notes, 73, False)}).write(str(tmp_path / "n.mid"))
    track = pretty_midi.PrettyMIDI(str(tmp_path / "n.mid")).instruments[0]
    assert (track.name, track.program) == ("melody", 73)
    assert [(n.pitch, round(n.start, 3), round(n.end, 3), n.velocity) for n in track.notes] == [
        (60, 0.5, 1.0, 90),
        (64, 1.0, 1.5, 70),
    ]


def test_spectral_clustering_finds_the_boundary_between_two_textures():
    rng = np.random.default_rng(0)
    rate = 22050
    t = np.arange(12 * rate) / rate
    noise = 0.3 * rng.standard_normal(len(t)) * (np.sin(2 * np.pi * 2 * t) > 0)
    tone = sum(0.2 / h * np.sin(2 * np.pi * 220 * h * t) for h in range(1, 6))
    config = CQTConfig()
    sections = track_sections(cqt_magnitude(np.concatenate([noise, tone]), rate, config), config)
    labels = sections.to_dict()
    assert any(abs(boundary - 12.0) <= 1.0 for boundary in sections.boundaries[1:-1])
    first = {s["label"] for s in labels if s["start"] < 11.0}
    last = {s["label"] for s in labels if s["end"] > 13.0}
    assert len(first) == 1 and len(last) == 1 and first != last


def test_cli_analyzes_the_bundled_example(tmp_path, tiny_transcriber, tiny_classifier):
    out = tmp_path / "analysis"
    models = ["--transcriber", str(tiny_transcriber / "best"), "--classifier", str(tiny_classifier / "best")]
    result = cantor("analyze", str(EXAMPLE), "-o", str(out), *models)
    assert result.returncode == 0, result.stderr
    folder = out / "mixture"
    summary = json.loads((folder / "analysis.json").read_text())
    assert set(summary["stems"]) == {"drums", "bass", "melody", "other"}
    midi = pretty_midi.PrettyMIDI(str(folder / "notes.mid"))
    assert {i.name for i in midi.instruments} <= {"bass", "melody", "other", "drums"}
    assert (folder / "score.musicxml").read_text().lstrip().startswith("<?xml")
    report = (folder / "report.html").read_text()
    assert report.count("data:image/png;base64,") == 4
    assert sorted(p.name for p in (folder / "stems").iterdir()) == ["bass.wav", "drums.wav", "melody.wav", "other.wav"]
    again = cantor("analyze", str(EXAMPLE), "-o", str(out), *models)
    assert again.returncode == 1 and "--overwrite" in again.stderr and "Traceback" not in again.stderr


def test_file_analysis_streams_and_equals_the_in_memory_one(tmp_path, analyzer):
    """A 50-s file is analysed in two blocks (40 s each at most); notes across the block edge, sections and
    labels come out as from the whole signal in memory, and the folder is complete."""
    melody = [(440.0, 0.5, 2.0), (523.25, 38.5, 42.0), (330.0, 45.0, 48.0)]  # the second crosses 40 s
    audio = np.zeros(50 * RATE, np.float32)
    for f0, start, end in melody:
        audio[int(start * RATE) : int(start * RATE) + int((end - start) * RATE)] = _tone(f0, end - start)
    soundfile.write(tmp_path / "tune.wav", audio, RATE, subtype="FLOAT")
    on_file = analyzer.analyze_file(tmp_path / "tune.wav", tmp_path / "out", separate=False)
    in_memory = analyzer.analyze(audio, RATE, separate=False).stems["mix"]
    stem = on_file.stems["mix"]
    assert stem.notes == in_memory.notes and stem.sections == in_memory.sections
    assert [note.pitch for note in stem.notes] == [69, 72, 64]
    for note, (_, start, end) in zip(stem.notes, melody, strict=True):
        assert abs(note.start - start) < 0.05 and abs(note.end - end) < 0.1, note
    assert stem.overview.shape[1] <= 2000
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["analysis.json", "notes.mid", "report.html", "score.musicxml", "stems"]
    np.testing.assert_array_equal(soundfile.read(tmp_path / "out" / "stems" / "mix.wav", dtype="float32")[0], audio)


def test_a_compressed_file_is_analysed_like_its_decoded_audio(tmp_path, analyzer):
    """An M4A goes through the decoder: its tone's note, its decoded audio as the stem, and no decoded copy left in
    the folder (nor the separator's staging, when it separates)."""
    from cantor.audio import load
    from tests.encoded import write_encoded

    write_encoded(tmp_path / "tune.m4a", _tone(440.0, 3.0)[:, None], RATE)
    for separate in (False, True):
        out = tmp_path / f"separate-{separate}"
        analysis = analyzer.analyze_file(tmp_path / "tune.m4a", out, separate=separate)
        written = sorted(p.name for p in out.iterdir())
        assert written == ["analysis.json", "notes.mid", "report.html", "score.musicxml", "stems"]
        assert not list(out.rglob(".*"))
    mix = analyzer.analyze_file(tmp_path / "tune.m4a", tmp_path / "mix", separate=False).stems["mix"]
    assert [note.pitch for note in mix.notes] == [69]
    stem, _ = soundfile.read(tmp_path / "mix" / "stems" / "mix.wav", dtype="float32", always_2d=True)
    np.testing.assert_array_equal(stem.T, load(tmp_path / "tune.m4a")[0].numpy())
    assert set(analysis.stems) == {"drums", "bass", "melody", "other"}


def test_cli_analyze_bad_inputs(tmp_path, tiny_transcriber, tiny_classifier):
    models = ["--transcriber", str(tiny_transcriber / "best"), "--classifier", str(tiny_classifier / "best")]
    missing = cantor("analyze", str(tmp_path / "nope.wav"), "-o", str(tmp_path / "out"), *models)
    assert missing.returncode == 1 and "nope.wav" in missing.stderr and "Traceback" not in missing.stderr
    unknown = cantor("analyze", str(EXAMPLE), "-o", str(tmp_path / "out"), "--transcriber", "no-such-model")
    assert unknown.returncode == 2 and "no-such-model" in unknown.stderr
    text = tmp_path / "notes.wav"
    text.write_text("not audio")
    bad = cantor("analyze", str(text), "-o", str(tmp_path / "out"), *models)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_sections_of_a_long_track_use_at_most_600_segments():
    """The clustering holds segments × segments matrices: two hours in 1-s segments would take gigabytes."""
    from cantor.analysis.sections import SectionFeatures

    config = CQTConfig()
    hours = SectionFeatures(int(2 * 3600 * config.frames_per_second), config)
    song = SectionFeatures(int(180 * config.frames_per_second), config)
    assert len(hours.edges) - 1 <= 600 and abs(hours.edges[1] - 12.0) < 0.01
    assert len(song.edges) - 1 == 180  # a song keeps its 1-s segments
