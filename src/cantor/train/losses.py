"""Loss terms, each with a name the training config weighs; an unknown name is an error, not silently dropped."""

from __future__ import annotations

import torch
import torch.nn.functional as F

RECONSTRUCTION_TERMS = ("spectral_l1", "waveform_l1")
SEPARATOR_TERMS = (*RECONSTRUCTION_TERMS, "kl", "adversarial", "feature_matching")


def check_loss_names(weights: dict[str, float], known: tuple[str, ...]) -> None:
    unknown = sorted(set(weights) - set(known))
    if unknown:
        raise ValueError(f"unknown loss term(s) {', '.join(unknown)}; known: {', '.join(known)}")


def magnitude(spec: torch.Tensor, *, eps: float = 1e-10) -> torch.Tensor:
    """|spec| with a finite gradient at zero (``Tensor.abs`` of a complex zero back-propagates NaN)."""
    return torch.sqrt(spec.real.square() + spec.imag.square() + eps)


def compressed_magnitude(spec: torch.Tensor, *, eps: float = 1e-10) -> torch.Tensor:
    """|spec|^0.5, so quiet sources (drums under a pad) still count; two square roots cost far less than ``pow``."""
    return torch.sqrt(magnitude(spec, eps=eps))


def spectral_l1(estimate_spec: torch.Tensor, target_spec: torch.Tensor) -> torch.Tensor:
    """L1 between compressed magnitudes of two complex STFTs (any matching shape)."""
    return F.l1_loss(compressed_magnitude(estimate_spec), compressed_magnitude(target_spec))


def waveform_l1(estimate: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.l1_loss(estimate, target)


def least_squares_generator(fake_logits: torch.Tensor) -> torch.Tensor:
    """LSGAN generator term: fakes should score 1."""
    return torch.mean((fake_logits - 1) ** 2)


def least_squares_discriminator(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """LSGAN discriminator term: reals score 1, fakes 0."""
    return torch.mean((real_logits - 1) ** 2) + torch.mean(fake_logits**2)


def feature_matching(real_features: list[torch.Tensor], fake_features: list[torch.Tensor]) -> torch.Tensor:
    return sum(F.l1_loss(fake, real.detach()) for real, fake in zip(real_features, fake_features, strict=True)) / len(
        real_features
    )
