"""MultitrackDataset on Cantor builds and on a MUSDB18-layout folder."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile
import torch

from cantor.data import MultitrackDataset
from cantor.errors import CantorError

BAND = ("drums", "bass", "melody", "other")


def test_same_seed_same_crops(band_build):
    a = MultitrackDataset(band_build, split="train", sources=BAND, segment_seconds=1.0, seed=7, samples_per_epoch=6)
    b = MultitrackDataset(band_build, split="train", sources=BAND, segment_seconds=1.0, seed=7, samples_per_epoch=6)
    c = MultitrackDataset(band_build, split="train", sources=BAND, segment_seconds=1.0, seed=8, samples_per_epoch=6)
    mixture, sources = a[0]
    assert mixture.shape == (2, 44100) and sources.shape == (4, 2, 44100)
    assert all(torch.equal(a[i][0], b[i][0]) for i in range(6))
    assert not all(torch.equal(a[i][0], c[i][0]) for i in range(6))
    a.set_epoch(1)
    assert not all(torch.equal(a[i][0], b[i][0]) for i in range(6))


def test_crops_are_consistent_and_remixes_add_up(band_build):
    plain = MultitrackDataset(band_build, split="train", sources=BAND, segment_seconds=1.0, samples_per_epoch=4)
    for i in range(4):
        mixture, sources = plain[i]
        assert torch.allclose(sources.sum(dim=0), mixture, atol=1e-6)
    remixed = MultitrackDataset(
        band_build, split="train", sources=BAND, segment_seconds=1.0, remix=True, samples_per_epoch=4
    )
    mixture, sources = remixed[0]
    assert torch.allclose(sources.sum(dim=0), mixture, atol=1e-6)


def test_validation_tiles_every_song_deterministically(band_build):
    valid = MultitrackDataset(band_build, split="valid", sources=BAND, segment_seconds=2.0)
    assert len(valid) == 3 * len(valid.songs)  # 6-second songs, 2-second tiles
    assert torch.equal(valid[1][0], valid[1][0])
    whole = MultitrackDataset(band_build, split="valid", sources=BAND, segment_seconds=None)
    assert whole[0][0].shape == (2, 6 * 44100)


def _musdb_folder(root, *, rate=44100, seconds=2.0):
    rng = np.random.default_rng(0)
    for song in ("A - One", "B - Two"):
        folder = root / "train" / song
        folder.mkdir(parents=True)
        stems = {
            name: rng.uniform(-0.2, 0.2, (int(rate * seconds), 2)).astype(np.float32)
            for name in ("drums", "bass", "other", "vocals")
        }
        for name, audio in stems.items():
            soundfile.write(folder / f"{name}.wav", audio, rate, subtype="FLOAT")
        soundfile.write(folder / "mixture.wav", sum(stems.values()), rate, subtype="FLOAT")
    return root


def test_reads_a_musdb_layout_folder(tmp_path):
    root = _musdb_folder(tmp_path)
    data = MultitrackDataset(root, split="train", sources=("vocals", "drums"), segment_seconds=0.5, samples_per_epoch=3)
    mixture, sources = data[2]
    assert sources.shape == (2, 2, 22050) and mixture.shape == (2, 22050)
    vocals, _ = soundfile.read(root / "train" / "A - One" / "vocals.wav", dtype="float32")
    assert len(data.songs) == 2 and data.songs[0].name == "A - One"
    assert np.abs(vocals).max() > 0


def test_clear_errors_for_bad_folders(tmp_path):
    root = _musdb_folder(tmp_path)
    with pytest.raises(CantorError, match="no such split"):
        MultitrackDataset(root, split="test", sources=("vocals",))
    with pytest.raises(CantorError, match="missing piano"):
        MultitrackDataset(root, split="train", sources=("piano",))
    with pytest.raises(CantorError, match="sample rate"):
        MultitrackDataset(root, split="train", sources=("vocals",), sample_rate=22050)
