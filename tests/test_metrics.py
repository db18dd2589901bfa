"""Metrics against known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from cantor.metrics import si_sdr, si_sdr_improvement


def test_si_sdr_known_values():
    generator = torch.Generator().manual_seed(0)
    reference = torch.randn(16000, generator=generator)
    assert si_sdr(reference, reference) > 70
    noise = torch.randn(16000, generator=generator)
    noise = noise - (noise @ reference) / (reference @ reference) * reference  # orthogonal to the reference
    noise = noise / noise.norm() * reference.norm() / math.sqrt(10)  # 10 dB below
    assert abs(si_sdr(reference + noise, reference).item() - 10.0) < 0.05
    assert abs(si_sdr(3.0 * (reference + noise), reference) - si_sdr(reference + noise, reference)) < 1e-3


def test_improvement_of_a_perfect_estimate():
    generator = torch.Generator().manual_seed(1)
    references = torch.randn(2, 2, 4000, generator=generator)  # (sources, channels, time)
    mixture = references.sum(0)
    improvement = si_sdr_improvement(references, references, mixture)
    assert improvement.shape == (2,) and (improvement > 60).all()
    assert torch.allclose(
        si_sdr_improvement(mixture.expand(2, 2, 4000), references, mixture), torch.zeros(2), atol=1e-4
    )


def test_peak_frequency_finds_a_tone_within_a_fraction_of_a_cent():
    from cantor.metrics.pitch import peak_frequency

    rate = 44100
    t = np.arange(rate) / rate
    tone = np.sin(2 * np.pi * 441.3 * t) + 0.5 * np.sin(2 * np.pi * 882.6 * t) + 0.8 * np.sin(2 * np.pi * 97.0 * t)
    assert abs(1200 * np.log2(peak_frequency(tone, rate) / 441.3)) < 0.1
    assert abs(1200 * np.log2(peak_frequency(tone, rate, low=600, high=1000) / 882.6)) < 0.1
    assert abs(1200 * np.log2(peak_frequency(tone, rate, high=200) / 97.0)) < 0.1
    with pytest.raises(ValueError, match="no FFT bin"):
        peak_frequency(tone, rate, low=30000)
