"""Per-stem effects: the stereo image and the loudness the manifest records match their textbook definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cantor.data.effects import apply_effects, draw_effects, rms_db


def _noise(seed: int, frames: int = 44100) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal((2, frames)) * 0.1).astype(np.float32)


@pytest.mark.parametrize(("width", "pan"), [(1.0, 0.0), (0.0, 0.0), (1.3, -0.7), (0.3, 0.45)])
def test_width_and_pan_follow_mid_side_and_constant_power(width, pan):
    audio = _noise(1)
    left, right = audio.astype(np.float64)
    mid, side = (left + right) / 2, (left - right) / 2 * width
    angle = (pan + 1) * math.pi / 4
    expected = np.stack([(mid + side) * math.cos(angle), (mid - side) * math.sin(angle)]) * math.sqrt(2)
    out = apply_effects(audio, {"width": width, "pan": pan}, sample_rate=44100)
    assert out.dtype == np.float32 and out.shape == audio.shape
    assert np.max(np.abs(out - expected)) < 1e-6


def test_hard_pan_and_zero_width_place_the_sound():
    audio = _noise(2)
    mono = apply_effects(audio, {"width": 0.0, "pan": 0.0}, sample_rate=44100)
    assert np.array_equal(mono[0], mono[1])
    right_only = apply_effects(audio, {"width": 1.0, "pan": 1.0}, sample_rate=44100)
    assert np.max(np.abs(right_only[0])) < 1e-7 and np.allclose(right_only[1], audio[1] * math.sqrt(2), atol=1e-6)


def test_a_drawn_chain_keeps_length_and_changes_the_sound():
    audio = _noise(3)
    chain = {}
    seed = 0
    while "reverb" not in chain:  # a chain with a long-tailed effect, so "unchanged" cannot pass by luck
        chain = draw_effects("other", "piano", np.random.default_rng(seed))
        seed += 1
    out = apply_effects(audio, chain, sample_rate=44100)
    assert out.shape == audio.shape and np.isfinite(out).all()
    assert np.max(np.abs(out - audio)) > 1e-3


def test_loudness_matches_a_float64_reference_and_integer_full_scale():
    audio = _noise(4, frames=30 * 44100) * 3
    reference = 20 * math.log10(math.sqrt(np.mean(audio.astype(np.float64) ** 2)))
    assert abs(rms_db(audio) - reference) <= 0.005
    steps = np.rint(audio * 2**23).astype(np.int32)
    assert abs(rms_db(steps, full_scale=2**23) - reference) <= 0.005
    sine = np.sin(np.linspace(0, 2000 * math.pi, 48000, endpoint=False)).astype(np.float32)
    assert rms_db(sine) == pytest.approx(-3.01, abs=0.01)  # a full-scale sine is 3.01 dB below full scale
    assert rms_db(np.zeros((2, 100), np.float32)) == -120.0
