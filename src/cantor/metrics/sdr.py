"""Signal-to-distortion ratios, fast enough to run every validation (milliseconds, torch).

``si_sdr`` follows Le Roux et al. (2019), "SDR — half-baked or well done?": the estimate is compared with the best
scaled copy of the reference, so a gain error costs nothing.
"""

from __future__ import annotations

import torch

EPS = 1e-8


def si_sdr(estimate: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Scale-invariant SDR in dB over the last dimension. Shapes: ``[..., time]`` twice → ``[...]``.

    Channels are folded into time by the caller when a per-track score is wanted.
    """
    reference = reference - reference.mean(dim=-1, keepdim=True)
    estimate = estimate - estimate.mean(dim=-1, keepdim=True)
    scale = (estimate * reference).sum(-1, keepdim=True) / (reference.pow(2).sum(-1, keepdim=True) + EPS)
    target = scale * reference
    noise = estimate - target
    return 10 * torch.log10((target.pow(2).sum(-1) + EPS) / (noise.pow(2).sum(-1) + EPS))


def si_sdr_tracks(estimates: torch.Tensor, references: torch.Tensor) -> torch.Tensor:
    """SI-SDR per source of stereo tracks: ``[..., sources, channels, time]`` → ``[..., sources]``."""
    return si_sdr(estimates.flatten(-2), references.flatten(-2))


def si_sdr_improvement(estimates: torch.Tensor, references: torch.Tensor, mixture: torch.Tensor) -> torch.Tensor:
    """SI-SDR gained over using the mixture itself as every source's estimate, per source (``[..., sources]``)."""
    baseline = si_sdr_tracks(mixture.unsqueeze(-3).expand_as(references), references)
    return si_sdr_tracks(estimates, references) - baseline
