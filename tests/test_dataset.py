"""MultitrackDataset on Cantor builds and on a MUSDB18-layout folder."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import soundfile
import torch

from cantor.data import MultitrackDataset
from cantor.data.augment import equalise
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


def test_equalised_crops_add_up_and_differ_from_plain_ones(band_build):
    def crops(eq_db: float, remix: bool) -> MultitrackDataset:
        return MultitrackDataset(
            band_build, split="train", sources=BAND, segment_seconds=1.0, remix=remix, eq_db=eq_db, samples_per_epoch=3
        )

    for remix in (False, True):
        plain, coloured, again = crops(0.0, remix), crops(12.0, remix), crops(12.0, remix)
        for i in range(3):
            mixture, sources = coloured[i]
            assert torch.allclose(sources.sum(dim=0), mixture, atol=1e-5)  # the mixture is the coloured stems' sum
            assert torch.equal(mixture, again[i][0])  # drawn from (seed, epoch, index) like the crops
            assert not torch.allclose(sources, plain[i][1], atol=1e-3)
    with pytest.raises(CantorError, match="eq_db"):
        crops(-1.0, False)


def test_equalise_stays_within_its_size_and_changes_nothing_at_zero():
    rate, noise = 8000, torch.randn(2, 8 * 8000, generator=torch.Generator().manual_seed(0))
    rng = np.random.default_rng(3)
    assert torch.allclose(equalise(noise, rate, rng, 0.0), noise, atol=1e-5)
    coloured = equalise(noise, rate, rng, 6.0)
    assert coloured.shape == noise.shape
    spectrum_in, spectrum_out = (torch.fft.rfft(x).abs().square() for x in (noise, coloured))
    edges = [60 * 2**k for k in range(7)]  # octave bands from 60 Hz to 3.84 kHz
    bins = [round(f * noise.shape[-1] / rate) for f in edges]
    gains_db = [
        10 * torch.log10(spectrum_out[:, lo:hi].sum() / spectrum_in[:, lo:hi].sum()).item()
        for lo, hi in itertools.pairwise(bins)
    ]
    assert all(abs(g) <= 6.5 for g in gains_db)
    assert max(gains_db) - min(gains_db) > 1.0  # and it does colour the sound


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
