"""Variational bottleneck over frames, with a standard-normal or a Gaussian-mixture prior.

The seed's hyper-parameters map here: π, μ, σ are the mixture prior's weights, means and scales (learned, initialised
from the config); α and β weigh reconstruction and KL in the training system (``cantor.train``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class BottleneckConfig:
    """``kind``: "vae" or "deterministic"; ``prior``: "gaussian" (N(0, I)) or "gmm" (K components)."""

    kind: str = "vae"
    latent_dim: int = 64
    prior: str = "gaussian"
    components: int = 8
    prior_mean_spread: float = 1.0
    prior_scale: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in ("vae", "deterministic"):
            raise ValueError(f"bottleneck kind must be 'vae' or 'deterministic', got {self.kind!r}")
        if self.prior not in ("gaussian", "gmm"):
            raise ValueError(f"prior must be 'gaussian' or 'gmm', got {self.prior!r}")


@dataclass
class LatentOutput:
    """``z`` ``[batch, latent, frames]``; ``mean``/``log_var`` are ``None`` for a deterministic bottleneck."""

    z: torch.Tensor
    mean: torch.Tensor | None
    log_var: torch.Tensor | None


class GaussianMixturePrior(nn.Module):
    """p(z) = Σₖ πₖ N(z; μₖ, σₖ² I), learned. ``log_prob``: ``[batch, latent, frames]`` → ``[batch, frames]``."""

    def __init__(self, latent_dim: int, components: int, mean_spread: float, scale: float) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(0)  # a fixed start, so a config always means the same model
        self.logits = nn.Parameter(torch.zeros(components))  # π = softmax(logits)
        self.means = nn.Parameter(torch.randn(components, latent_dim, generator=generator) * mean_spread)
        self.log_scales = nn.Parameter(torch.full((components, latent_dim), math.log(scale)))

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        x = z.transpose(1, 2).unsqueeze(-2)  # (B, N, 1, D)
        scales = self.log_scales.exp()
        per_dim = -0.5 * ((x - self.means) / scales) ** 2 - self.log_scales - 0.5 * math.log(2 * math.pi)
        return torch.logsumexp(per_dim.sum(-1) + torch.log_softmax(self.logits, dim=0), dim=-1)  # (B, N)


class VariationalBottleneck(nn.Module):
    """Per-frame posterior q(z|h) = N(mean, exp(log_var)); reparameterised samples in training, the mean in eval.

    Shapes: ``h`` ``[batch, channels, frames]`` → :class:`LatentOutput` with ``z`` ``[batch, latent, frames]``.
    """

    def __init__(self, channels: int, config: BottleneckConfig) -> None:
        super().__init__()
        self.config = config
        out = 2 * config.latent_dim if config.kind == "vae" else config.latent_dim
        self.project = nn.Conv1d(channels, out, 1)
        self.prior = (
            GaussianMixturePrior(config.latent_dim, config.components, config.prior_mean_spread, config.prior_scale)
            if config.kind == "vae" and config.prior == "gmm"
            else None
        )

    def forward(self, h: torch.Tensor) -> LatentOutput:
        projected = self.project(h)
        if self.config.kind == "deterministic":
            return LatentOutput(z=projected, mean=None, log_var=None)
        mean, log_var = projected.chunk(2, dim=1)
        log_var = log_var.clamp(-12.0, 8.0)
        z = mean + torch.randn_like(mean) * (0.5 * log_var).exp() if self.training else mean
        return LatentOutput(z=z, mean=mean, log_var=log_var)

    def kl(self, latent: LatentOutput, *, free_bits: float = 0.0) -> torch.Tensor:
        """KL(q || p) in nats per frame and latent dimension, each dimension floored at ``free_bits``.

        Closed form for the Gaussian prior; a one-sample Monte-Carlo estimate for the mixture prior.
        """
        if latent.mean is None or latent.log_var is None:
            return torch.zeros((), device=latent.z.device)
        if self.prior is None:
            per_dim = 0.5 * (latent.mean**2 + latent.log_var.exp() - 1.0 - latent.log_var)  # (B, D, N)
            per_dim = per_dim.mean(dim=(0, 2))
        else:
            squared = (latent.z - latent.mean) ** 2 / latent.log_var.exp()
            log_q = -0.5 * (squared + latent.log_var + math.log(2 * math.pi))
            kl_frames = log_q.sum(1) - self.prior.log_prob(latent.z)  # (B, N)
            per_dim = (kl_frames.mean() / latent.z.shape[1]).expand(latent.z.shape[1])
        return torch.clamp(per_dim, min=free_bits).mean()
