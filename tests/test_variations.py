"""The stem TCN-VAE and audio variations: a tiny model learns to reconstruct tones through its latent; variations
are reproducible, move further with strength and keep the source's length; bad input gets a clear error."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import soundfile
import torch
import torch.nn.functional as F

from cantor.errors import UsageError
from cantor.features.mel import LogMel
from cantor.models.presets import stem_vae_preset
from cantor.models.stem_vae import STEM_VAE_KIND, StemVAE
from cantor.models.weights import save_weights

RATE = 44100
TINY, TINY_TRAIN = stem_vae_preset("tiny-stem-vae")


def _tones(seconds: float, pitches: list[float]) -> torch.Tensor:
    """A melody of plucked tones ``[time]``, one per ``seconds / len(pitches)``."""
    t = torch.arange(int(seconds * RATE)) / RATE
    each = seconds / len(pitches)
    signal = torch.zeros_like(t)
    for index, frequency in enumerate(pitches):
        local = t - index * each
        active = (local >= 0) & (local < each)
        envelope = torch.exp(-4 * local.clamp(min=0)) * active
        signal += (
            0.3 * envelope * (torch.sin(2 * torch.pi * frequency * t) + 0.3 * torch.sin(4 * torch.pi * frequency * t))
        )
    return signal


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny stem VAE fitted to a batch of tone melodies (a few hundred steps), saved as a weights folder, with
    its losses before and after."""
    torch.manual_seed(0)
    frontend = LogMel(TINY.mel)
    clips = torch.stack([_tones(1.5, [220 * 2 ** (k / 12) for k in (0, 4, 7, 12, s)]) for s in (2, 5, 9, 11)])
    mel = frontend(clips)
    model = StemVAE(TINY)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(300):
        reconstruction, latent = model.train()(mel)
        loss = F.l1_loss(reconstruction, mel) + 1e-3 * model.bottleneck.kl(latent)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    folder = tmp_path_factory.mktemp("stem-vae") / "tiny"
    save_weights(folder, model.eval(), kind=STEM_VAE_KIND, config=TINY.to_dict(), metadata={"step": 300})
    return folder, losses


def test_a_tiny_stem_vae_learns_to_reconstruct_tones_through_its_latent(trained):
    _, losses = trained
    assert losses[-1] < 0.3 * losses[0], (losses[0], losses[-1])


def test_the_latent_runs_at_a_quarter_of_the_frame_rate_and_decodes_to_the_input_length():
    model = StemVAE(TINY).eval()
    mel = torch.randn(2, TINY.mel.n_mels, 37)
    latent = model.encode(mel)
    assert latent.mean.shape == (2, TINY.bottleneck.latent_dim, 10)  # ceil(37 / 4)
    assert model.decode(latent.mean, 37).shape == mel.shape
    with pytest.raises(ValueError, match="log-mel"):
        model.encode(torch.randn(2, 7, 37))


def test_variations_are_reproducible_and_move_further_with_strength(trained):
    from cantor.inference.variations import Variations

    folder, _ = trained
    engine = Variations(folder)
    stem = _tones(2.0, [262, 330, 392, 523])
    still = engine.vary(stem, RATE, n=2, strength=0.0, seed=1)
    assert all(np.allclose(v, still.reconstruction, atol=1e-5) for v in still.variations)
    near = engine.vary(stem, RATE, n=3, strength=1.0, seed=1)
    again = engine.vary(stem, RATE, n=3, strength=1.0, seed=1)
    far = engine.vary(stem, RATE, n=3, strength=4.0, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(near.variations, again.variations, strict=True))
    assert not np.allclose(near.variations[0], near.variations[1])
    assert np.mean(far.mel_distance) > np.mean(near.mel_distance) > still.reconstruction_distance
    assert all(len(v) == len(stem) for v in near.variations) and len(near.source) == len(stem)
    stereo_at_22k = torch.stack([stem[::2], stem[::2]])
    assert len(engine.vary(stereo_at_22k, RATE // 2, n=1).variations[0]) == len(stem[::2]) * 2


def test_smoothed_noise_keeps_unit_variance_and_varies_slowly(trained):
    from cantor.inference.variations import Variations

    engine = Variations(trained[0])
    noise = engine._smooth_noise(64, (8, 400), seconds=0.5, seed=0)
    assert abs(float(noise.std()) - 1) < 0.1
    lag_one = float((noise[..., 1:] * noise[..., :-1]).mean())
    assert lag_one > 0.8  # white noise: ~0
    assert torch.equal(noise, engine._smooth_noise(64, (8, 400), seconds=0.5, seed=0))


def test_silent_short_and_bad_settings_are_refused(trained):
    from cantor.inference.variations import Variations

    engine = Variations(trained[0])
    with pytest.raises(UsageError, match="silent"):
        engine.vary(torch.zeros(RATE), RATE)
    with pytest.raises(UsageError, match="too short"):
        engine.vary(_tones(0.05, [440]), RATE)
    with pytest.raises(UsageError, match="strength"):
        engine.vary(_tones(1.0, [440]), RATE, strength=-1)


def _cantor(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cantor.cli.main", *args], capture_output=True, text=True)


def test_cli_writes_every_file_and_refuses_bad_input_cleanly(trained, tmp_path):
    folder, _ = trained
    source = tmp_path / "lead.wav"
    soundfile.write(source, _tones(2.0, [262, 330, 392, 523]).numpy(), RATE)
    out = tmp_path / "out"
    result = _cantor(
        "generate",
        "variations",
        str(source),
        "--stem",
        "none",
        "--n",
        "2",
        "--seed",
        "3",
        "--model",
        str(folder),
        "-o",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    names = sorted(path.name for path in out.iterdir())
    assert names == sorted(
        [
            "lead.wav",
            "lead-reconstruction.wav",
            "lead-variation-1.wav",
            "lead-variation-2.wav",
            "lead-variations.png",
            "lead-variations.json",
        ]
    )
    audio, rate = soundfile.read(out / "lead-variation-2.wav")
    assert rate == RATE and len(audio) == 2 * RATE and np.abs(audio).max() > 0.01
    again = _cantor("generate", "variations", str(source), "--stem", "none", "--model", str(folder), "-o", str(out))
    assert again.returncode != 0 and "--overwrite" in again.stderr
    text = tmp_path / "notes.wav"
    text.write_text("not audio")
    bad = _cantor(
        "generate", "variations", str(text), "--stem", "none", "--model", str(folder), "-o", str(tmp_path / "bad")
    )
    assert bad.returncode != 0 and "Traceback" not in bad.stderr and "notes.wav" in bad.stderr
    assert not (tmp_path / "bad").exists() or not any((tmp_path / "bad").iterdir())
    wrong_stem = _cantor(
        "generate", "variations", str(source), "--stem", "vocals", "--model", str(folder), "-o", str(tmp_path / "wrong")
    )
    assert wrong_stem.returncode != 0 and "melody" in wrong_stem.stderr


def test_the_stem_vae_trains_from_a_mel_pack(tmp_path):
    """A mel pack (as recipes/pack_mels.py writes: uint8 log-mels between the floor and a ceiling) is read back to
    log-mels within one quantisation step, and a tiny model trains from it and exports its weights."""
    from cantor.data.mel_pack import MelPackDataset
    from cantor.train.runner import RunOptions
    from cantor.train.stem_vae import train_stem_vae

    frontend = LogMel(TINY.mel)
    mels = frontend(torch.stack([_tones(1.0, [196 * 2 ** (k / 12), 262]) for k in range(6)])).numpy()
    low, high = float(np.log(TINY.mel.log_floor)), 5.0
    quantised = np.round((np.clip(mels, low, high) - low) / (high - low) * 255).astype(np.uint8)
    pack = tmp_path / "mels.npz"
    np.savez_compressed(pack, train=quantised[:4], valid=quantised[4:], low=low, high=high)
    crops = MelPackDataset(pack, split="valid", frames=32, items=3, random=False, gain_db=(0.0, 0.0))
    crop = crops[0]
    assert crop.shape == (TINY.mel.n_mels, 32)
    assert any(
        np.abs(mel[:, start : start + 32] - crop.numpy()).max() <= (high - low) / 255
        for mel in np.clip(mels[4:], low, high)
        for start in range(mel.shape[-1] - 31)
    )
    with pytest.raises(Exception, match="no test split"):
        MelPackDataset(pack, split="test", frames=32)
    out = train_stem_vae(
        data=[pack],
        out=tmp_path / "run",
        model_config=TINY,
        train_config=TINY_TRAIN,
        options=RunOptions(progress=False),
    )
    assert (out / "best" / "model.safetensors").is_file()
