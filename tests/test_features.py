"""Features against known answers: STFT round trip, librosa's mel filterbank, and resampling a sine."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import torch

from cantor.audio import resample
from cantor.features import ISTFT, STFT, LogMel, MelConfig, STFTConfig, mel_filterbank


@pytest.mark.parametrize(("n_fft", "hop_length", "length"), [(2048, 512, 44100), (1024, 256, 12345), (512, 128, 999)])
def test_stft_round_trip(n_fft, hop_length, length):
    config = STFTConfig(n_fft=n_fft, hop_length=hop_length)
    audio = torch.randn(2, 2, length) * 0.3
    spec = STFT(config)(audio)
    assert spec.shape == (2, 2, n_fft // 2 + 1, length // hop_length + 1)
    restored = ISTFT(config)(spec, length=length)
    assert torch.max(torch.abs(restored - audio)).item() < 1e-5


@pytest.mark.parametrize(
    ("n_fft", "hop_length", "frames", "length"),
    [
        (2048, 512, 87, 44100),  # the separator's STFT, whole frames
        (2048, 512, 87, 44000),  # shorter than the frames cover
        (2048, 512, 3, 2040),  # fewer frames than overlapping parts: every block is an edge block
        (256, 64, 1, 100),  # one frame, longer than it covers: zero-padded like torch.istft
        (512, 192, 20, 3000),  # the hop does not divide n_fft: torch.istft itself
    ],
)
def test_istft_matches_torch_on_any_spectrogram(n_fft, hop_length, frames, length):
    """Not only round trips: masked, inconsistent spectrograms too, and the gradient."""
    generator = torch.Generator().manual_seed(frames)
    spec = torch.complex(*torch.randn(2, 3, n_fft // 2 + 1, frames, generator=generator)).requires_grad_()
    ours = ISTFT(STFTConfig(n_fft=n_fft, hop_length=hop_length))(spec, length=length)
    window = torch.hann_window(n_fft)
    reference = torch.istft(spec, n_fft, hop_length, window=window, length=length)
    assert ours.shape == (3, length)
    assert torch.max(torch.abs(ours - reference)).item() < 1e-5 * reference.abs().max().item()
    weights = torch.randn(3, length, generator=generator)
    (ours_grad,) = torch.autograd.grad((ours * weights).sum(), spec)
    (reference_grad,) = torch.autograd.grad((reference * weights).sum(), spec)
    assert torch.max(torch.abs(ours_grad - reference_grad)).item() < 1e-5 * reference_grad.abs().max().item()


@pytest.mark.parametrize("htk", [False, True])
@pytest.mark.parametrize(
    ("sample_rate", "n_fft", "n_mels", "fmin", "fmax"),
    [(44100, 2048, 128, 0.0, None), (22050, 1024, 80, 0.0, 8000.0), (16000, 512, 40, 30.0, 7600.0)],
)
def test_mel_filterbank_matches_librosa(htk, sample_rate, n_fft, n_mels, fmin, fmax):
    ours = mel_filterbank(sample_rate=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk).numpy()
    reference = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk)
    assert np.max(np.abs(ours - reference)) < 1e-5


def _peak_hz(audio: np.ndarray, sample_rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(audio.size)))
    return float(np.argmax(spectrum) * sample_rate / audio.size)


@pytest.mark.parametrize(("source_rate", "target_rate"), [(44100, 16000), (22050, 48000), (48000, 44100)])
def test_resampling_keeps_a_1khz_sine_at_1khz(source_rate, target_rate):
    t = np.arange(source_rate) / source_rate
    sine = torch.from_numpy(np.sin(2 * np.pi * 1000 * t).astype(np.float32))[None]
    out = resample(sine, orig_sample_rate=source_rate, target_sample_rate=target_rate)
    assert out.shape == (1, target_rate)
    assert abs(_peak_hz(out[0].numpy(), target_rate) - 1000) < 2


def test_log_mel_puts_a_tone_in_the_right_band():
    config = MelConfig(sample_rate=22050, stft=STFTConfig(n_fft=1024, hop_length=256), n_mels=80)
    t = torch.arange(22050) / 22050
    mel = LogMel(config)(torch.sin(2 * torch.pi * 1000 * t))
    assert mel.shape == (80, 22050 // 256 + 1)
    centres = librosa.mel_frequencies(n_mels=82, fmin=0, fmax=11025)[1:-1]
    expected_band = int(np.argmin(np.abs(centres - 1000)))
    assert abs(int(mel.mean(dim=1).argmax()) - expected_band) <= 1
    silence = LogMel(config)(torch.zeros(4096))
    assert torch.isfinite(silence).all()


def test_stft_config_rejects_odd_sizes():
    with pytest.raises(ValueError, match="even"):
        STFTConfig(n_fft=1023)


@pytest.mark.parametrize("rate", [44100, 48000, 16000])
def test_cqt_in_blocks_equals_the_whole_signal(rate):
    """Frames computed block by block from pieces of the signal (any rate) match the whole signal's CQT."""
    from cantor.features.cqt import CQTConfig, cqt_frames, cqt_magnitude

    rng = np.random.default_rng(0)
    audio = torch.from_numpy(rng.standard_normal((2, 9 * rate)).astype(np.float32) * 0.1)
    config = CQTConfig()
    whole = cqt_magnitude(audio, rate, config)
    assert whole.shape[1] == config.frames(audio.shape[-1], rate)
    blocks = [
        cqt_frames(lambda a, b: audio[:, a:b], audio.shape[-1], rate, first, min(first + 250, whole.shape[1]), config)
        for first in range(0, whole.shape[1], 250)
    ]
    np.testing.assert_allclose(np.concatenate(blocks, axis=1), whole, atol=1e-4 * whole.max())
