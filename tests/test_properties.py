"""Property-based tests (hypothesis): for any channel count, rate and length, separation and vocoding keep the
input's shape and rate, stay finite, and separation adds back up to the mixture."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cantor.inference.separate import Separator
from cantor.inference.vocode import Vocoder
from cantor.models.presets import separator_preset, vocoder_preset
from cantor.models.separator import SEPARATOR_KIND, TCNVAESeparator
from cantor.models.vocoder import VOCODER_KIND, build_vocoder
from cantor.models.weights import save_weights

RATES = st.sampled_from([8000, 11025, 16000, 22050, 44100, 48000, 96000])  # 8000: the tiny models' own rate
AUDIO = st.tuples(st.integers(1, 8), RATES, st.floats(0.0001, 1.5), st.floats(0.0, 1.0), st.integers(0, 2**16))
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _audio(channels: int, rate: int, seconds: float, loudness: float, seed: int) -> torch.Tensor:
    frames = max(1, int(seconds * rate))
    return torch.from_numpy(np.random.default_rng(seed).uniform(-loudness, loudness, (channels, frames))).float()


@pytest.fixture(scope="module")
def separator(tmp_path_factory) -> Separator:
    config, _ = separator_preset("tiny")
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("models") / "tiny-separator"
    save_weights(folder, TCNVAESeparator(config), kind=SEPARATOR_KIND, config=config.to_dict())
    return Separator(folder, segment_seconds=0.5)


@pytest.fixture(scope="module")
def vocoder(tmp_path_factory) -> Vocoder:
    config, _ = vocoder_preset("tiny-gan")
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("models") / "tiny-gan"
    save_weights(folder, build_vocoder(config), kind=VOCODER_KIND, config=config.to_dict())
    return Vocoder(folder, chunk_seconds=0.5)


@SETTINGS
@given(AUDIO)
def test_separation_keeps_shape_and_rate_and_adds_up(separator, audio):
    mixture = _audio(*audio)
    stems = separator.separate(mixture, audio[1])
    assert set(stems) == set(separator.sources)
    total = torch.zeros_like(mixture)
    for stem in stems.values():
        assert stem.shape == mixture.shape and torch.isfinite(stem).all()
        total += stem
    if audio[1] == separator.sample_rate:  # the masks sum to one: the stems add up to the mixture (at another
        assert float((total - mixture).abs().max()) <= 1e-4  # rate, resampling there and back filters the top band)


@SETTINGS
@given(AUDIO)
def test_vocoding_keeps_shape_and_rate(vocoder, audio):
    signal = _audio(*audio)
    out = vocoder.resynthesize(signal, audio[1])
    assert out.shape == signal.shape and torch.isfinite(out).all()
    assert vocoder.resynthesize(signal[0], audio[1]).shape == signal[0].shape
