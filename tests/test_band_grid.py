"""The band converter: band scores to melody/bass/chords/drums grids and back, MIDI in and out, and a tiny band
LSTM-VAE that memorises windows."""

from __future__ import annotations

import dataclasses

import numpy as np
import pretty_midi
import pytest
import torch

from cantor.data.arrange import band_scores
from cantor.data.band_grid import BAND_VOICES, DRUM_CLASS_NOTES, BandGridConverter, chord_of
from cantor.data.corpus import load_corpus
from cantor.data.symbolic import HOLD, ONSET, REST, NotRepresentable, piece_to_midi
from cantor.data.theory import Chord, estimate_key
from cantor.models.generator import LSTMVAE, kl_divergence, reconstruction_loss, token_accuracy
from cantor.models.presets import generator_preset

CONVERTER = BandGridConverter(low=24, high=96)
MELODY, BASS, CHORDS, DRUMS = range(4)


@pytest.fixture(scope="module")
def scores():
    tunes = [piece for piece in load_corpus() if piece.source != "chorale"][:80]
    return band_scores(tunes, 1)


@pytest.fixture(scope="module")
def encoded(scores):
    found = []
    for score in scores:
        try:
            found.append((score, CONVERTER.encode(score)))
        except NotRepresentable:
            continue
    assert len(found) >= 0.4 * len(scores)  # strathspeys' thirty-seconds and triplets are off the sixteenth grid
    return found


def test_band_scores_have_every_voice_and_are_reproducible(scores):
    assert scores and all(set(score.voices) == set(BAND_VOICES) for score in scores)
    assert all(score.voices["drums"] and score.voices["chords"] and score.voices["bass"] for score in scores)
    again = band_scores([piece for piece in load_corpus() if piece.source != "chorale"][:3], 1)
    assert again[0] == scores[0]


def test_band_grids_round_trip_exactly(encoded):
    for score, tokens in encoded:
        decoded = CONVERTER.decode(tokens)
        assert decoded["melody"] == score.voices["melody"], score.piece_id  # scores start on a bar line
        assert decoded["bass"] == score.voices["bass"]
        assert np.array_equal(CONVERTER.encode(CONVERTER.from_tensors(tokens)), tokens)


def test_chords_are_read_from_their_voicings():
    assert chord_of({48, 52, 55, 60}) == Chord(0, "maj")
    assert chord_of({57, 60, 64}) == Chord(9, "min")
    assert chord_of({55, 59, 62, 65}) == Chord(7, "dom7")
    assert chord_of({59, 62, 65}) == Chord(11, "dim")
    assert chord_of({64, 67, 72}) == Chord(0, "maj")  # an inversion keeps its root


def test_drum_hits_become_class_masks_and_come_back_as_one_note_per_class(encoded):
    _, tokens = encoded[0]
    drums = tokens[:, DRUMS]
    assert (drums != HOLD).all() and (drums >= ONSET).any()
    assert int(drums.max()) - ONSET + 1 < 2 ** len(DRUM_CLASS_NOTES)
    notes = CONVERTER.decode(tokens)["drums"]
    canonical = {hits[0] for hits in DRUM_CLASS_NOTES}
    assert notes and {note.pitch for note in notes} <= canonical


def test_transposing_moves_melody_bass_and_chord_roots_but_not_drums(encoded):
    score, tokens = encoded[0]
    up = CONVERTER.transpose(tokens, 3)
    assert np.array_equal(up, CONVERTER.encode(score, transpose=3))
    assert np.array_equal(up[:, DRUMS], tokens[:, DRUMS])
    onsets = tokens[:, CHORDS] >= ONSET
    roots = (tokens[onsets, CHORDS] - ONSET) // 4
    assert np.array_equal((up[onsets, CHORDS] - ONSET) // 4, (roots + 3) % 12)
    assert CONVERTER.transpose(tokens, 80) is None  # melody would leave the range


def test_a_band_midi_file_reads_back_to_the_same_grid(encoded, tmp_path):
    _, tokens = encoded[1]
    path = tmp_path / "band.mid"
    piece_to_midi(CONVERTER.from_tensors(tokens), path, programs={"melody": 65, "bass": 33, "chords": 4})
    drum_tracks = [track for track in pretty_midi.PrettyMIDI(str(path)).instruments if track.is_drum]
    assert len(drum_tracks) == 1 and drum_tracks[0].name == "drums"
    again = CONVERTER.encode(CONVERTER.read_midi(path))[: len(tokens)]
    for column in (MELODY, BASS, DRUMS):
        assert np.array_equal(again[:, column], tokens[: len(again), column]), BAND_VOICES[column]
    # the chords are fitted again from every pitched track, as for a user's file
    assert (again[:, CHORDS] == tokens[: len(again), CHORDS]).mean() > 0.9


def test_the_key_of_a_scale_is_found():
    from cantor.data.corpus import Note

    a_minor = [Note(48 * i, 48, pitch) for i, pitch in enumerate([57, 59, 60, 62, 64, 65, 68, 69, 64, 57])]
    assert estimate_key(a_minor) == (9, "minor")
    g_major = [Note(48 * i, 48, pitch) for i, pitch in enumerate([55, 57, 59, 60, 62, 64, 66, 67, 62, 55])]
    assert estimate_key(g_major) == (7, "major")


def test_a_tiny_band_lstm_vae_memorises_windows(encoded):
    tiny, _ = generator_preset("tiny-generator")
    config = dataclasses.replace(tiny, converter=dataclasses.replace(CONVERTER, bars=2))
    windows = [w for _, tokens in encoded[:8] for w in [tokens[:32]] if (w[:, MELODY] != REST).any()][:4]
    windows = torch.from_numpy(np.stack(windows))
    torch.manual_seed(0)
    model = LSTMVAE(config)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(300):
        out = model.train()(windows)
        loss = reconstruction_loss(out["logits"], windows) + 1e-3 * kl_divergence(out["mean"], out["log_variance"])
        optimiser.zero_grad()
        loss.mean().backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
    model.eval()
    with torch.no_grad():
        assert token_accuracy(model.decode_logits(model.encode(windows)[0], windows), windows) > 0.95
