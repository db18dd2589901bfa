"""Multichannel Wiener filtering of separated sources (the post-filter of Open-Unmix, Nugraha et al. 2016).

Each source is modelled in the STFT domain as a zero-mean complex Gaussian with a power spectral density
``v_j(f, n)`` and a spatial covariance ``R_j(f)``; the filter gives each source its posterior mean given the
mixture, ``v_j R_j (Σ_k v_k R_k)⁻¹ x``. Starting from the network's estimates, each iteration re-estimates
``v_j`` and ``R_j`` from the current sources (one EM step). The outputs add up to the mixture by construction.
"""

from __future__ import annotations

import torch

from cantor.nn.linalg import solve


def wiener_filter(
    mixture: torch.Tensor, sources: torch.Tensor, *, iterations: int = 1, conditioning: float = 1e-4
) -> torch.Tensor:
    """Refine source STFTs with a multichannel Wiener filter.

    Args:
        mixture: complex ``[channels, bins, frames]``.
        sources: complex ``[sources, channels, bins, frames]``, the initial estimates.
        iterations: EM updates of the source models (0 returns ``sources`` unchanged).
        conditioning: diagonal loading of each bin's mixture covariance, relative to its power. Panned sources have
            rank-one covariances; without loading their sum is near-singular and single precision breaks down.
    Returns:
        complex ``[sources, channels, bins, frames]``.
    """
    if iterations < 0:
        raise ValueError(f"iterations must be at least 0, got {iterations}")
    channels = mixture.shape[0]
    x = mixture.permute(1, 2, 0)[..., None]  # (F, N, C, 1)
    identity = torch.eye(channels, dtype=mixture.dtype, device=mixture.device)
    floor = 1e-10  # keeps all-silent bins finite (a power far below audible in single precision)
    y = sources
    for _ in range(iterations):
        power = y.abs().square().mean(dim=1)  # (S, F, N)
        outer = torch.einsum("scfn,sdfn->sfcd", y, y.conj())  # (S, F, C, C)
        spatial = outer / (power.sum(dim=-1)[..., None, None] + floor)  # (S, F, C, C)
        weighted = power[..., None, None] * spatial[:, :, None]  # (S, F, N, C, C)
        covariance = weighted.sum(dim=0)  # (F, N, C, C)
        loading = conditioning * torch.diagonal(covariance, dim1=-2, dim2=-1).real.mean(dim=-1) + floor
        covariance = covariance + loading[..., None, None] * identity
        gain_input = solve(covariance, x)  # (F, N, C, 1): Σ⁻¹ x
        y = torch.matmul(weighted, gain_input)[..., 0].permute(0, 3, 1, 2)  # (S, C, F, N)
    return y
