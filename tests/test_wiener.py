"""The guarded solve (torch 2.13.0's batched-solve trap) and the multichannel Wiener post-filter."""

import numpy as np
import pytest
import torch

from cantor.inference.wiener import wiener_filter
from cantor.metrics.sdr import si_sdr
from cantor.nn.linalg import solve


def _spd(shape, dtype, seed):
    generator = torch.Generator().manual_seed(seed)
    a = torch.randn(*shape, generator=generator, dtype=dtype)
    return a @ a.mT.conj() + shape[-1] * torch.eye(shape[-1], dtype=dtype)


@pytest.mark.parametrize(
    ("shape", "dtype"),
    [((4, 512, 512), torch.float64), ((3, 7, 2, 2), torch.complex64), ((5, 3, 3), torch.float32)],
)
def test_solve_matches_numpy_with_two_threads(shape, dtype):
    # (4, 512, 512) float64 is the shape that fails inside MKL with torch.linalg.solve after set_num_threads(2).
    a = _spd(shape, dtype, seed=0)
    b = torch.randn(*shape[:-1], 2, dtype=dtype, generator=torch.Generator().manual_seed(1))
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        x = solve(a, b)
        assert torch.get_num_threads() == 2  # the guard restores the caller's setting
    finally:
        torch.set_num_threads(threads)
    expected = np.linalg.solve(a.numpy().astype(np.complex128), b.numpy().astype(np.complex128))
    tolerance = 1e-9 if dtype == torch.float64 else 1e-4
    np.testing.assert_allclose(x.numpy(), expected, rtol=tolerance, atol=tolerance)


def _stft(x):
    flat = x.reshape(-1, x.shape[-1])
    spec = torch.stft(flat, 512, 128, window=torch.hann_window(512), return_complex=True)
    return spec.reshape(*x.shape[:-1], *spec.shape[-2:])


def _istft(spec, length):
    flat = spec.reshape(-1, *spec.shape[-2:])
    return torch.istft(flat, 512, 128, window=torch.hann_window(512), length=length).reshape(*spec.shape[:-2], -1)


def test_wiener_uses_spatial_cues_and_keeps_the_mixture():
    # Two noises panned to opposite sides, first estimated by leaky single-channel ratio masks (the same mask on
    # both channels, as a network's would be): the spatial cue the masks ignore makes the estimates much better.
    generator = torch.Generator().manual_seed(0)
    length = 16000
    left_source = torch.randn(length, generator=generator) * torch.tensor([[1.0], [0.2]])
    right_source = torch.randn(length, generator=generator) * torch.tensor([[0.3], [1.0]])
    references = torch.stack([left_source, right_source])  # (S, C, T)
    mixture = references.sum(dim=0)
    mixture_spec = _stft(mixture)
    magnitudes = _stft(references).abs().mean(dim=1)  # (S, F, N)
    leaky = magnitudes + 0.7 * magnitudes.flip(0)
    initial = (leaky / leaky.sum(dim=0))[:, None] * mixture_spec
    refined = wiener_filter(mixture_spec, initial, iterations=3)
    torch.testing.assert_close(refined.sum(dim=0), mixture_spec, rtol=1e-2, atol=1e-2 * mixture_spec.abs().mean())
    before = si_sdr(_istft(initial, length), references).mean()
    after = si_sdr(_istft(refined, length), references).mean()
    assert torch.isfinite(refined).all()
    assert after > before + 3.0, (before, after)


def test_wiener_is_finite_on_silence_and_identity_at_zero_iterations():
    silence = torch.zeros(2, 257, 20, dtype=torch.complex64)
    sources = torch.zeros(3, 2, 257, 20, dtype=torch.complex64)
    assert torch.isfinite(wiener_filter(silence, sources, iterations=2)).all()
    estimates = torch.randn(3, 2, 257, 20, dtype=torch.complex64)
    assert torch.equal(wiener_filter(estimates.sum(0), estimates, iterations=0), estimates)
