"""Loss terms, each with a name the training config weighs; an unknown name is an error, not silently dropped."""

from __future__ import annotations

import torch
import torch.nn.functional as F

RECONSTRUCTION_TERMS = ("spectral_l1", "waveform_l1")
SEPARATOR_TERMS = (*RECONSTRUCTION_TERMS, "kl", "adversarial", "feature_matching")
GAN_VOCODER_TERMS = ("mel_l1", "mrstft", "stft_magnitude", "adversarial", "feature_matching")
WAVEFLOW_TERMS = ("nll",)
MRSTFT_RESOLUTIONS = ((512, 128), (1024, 256), (2048, 512))


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


def multi_resolution_stft(
    estimate: torch.Tensor, target: torch.Tensor, *, resolutions: tuple[tuple[int, int], ...] = MRSTFT_RESOLUTIONS
) -> torch.Tensor:
    """Spectral convergence plus log-magnitude L1, averaged over STFT resolutions (Yamamoto et al., 2020).

    Shapes: ``[batch, time]`` each.
    """
    total = estimate.new_zeros(())
    for n_fft, hop_length in resolutions:
        window = torch.hann_window(n_fft, device=estimate.device)
        spectra = [
            magnitude(torch.stft(x, n_fft, hop_length, window=window, return_complex=True), eps=1e-7)
            for x in (estimate, target)
        ]
        convergence = torch.linalg.vector_norm(spectra[1] - spectra[0]) / torch.linalg.vector_norm(spectra[1])
        total = total + convergence + F.l1_loss(torch.log(spectra[0]), torch.log(spectra[1]))
    return total / len(resolutions)


def least_squares_generator_multi(fake_logits: list[torch.Tensor]) -> torch.Tensor:
    """:func:`least_squares_generator` summed over sub-discriminators."""
    return sum(least_squares_generator(logits) for logits in fake_logits)


def least_squares_discriminator_multi(real_logits: list[torch.Tensor], fake_logits: list[torch.Tensor]):
    """:func:`least_squares_discriminator` summed over sub-discriminators."""
    return sum(least_squares_discriminator(r, f) for r, f in zip(real_logits, fake_logits, strict=True))


def feature_matching_multi(real: list[list[torch.Tensor]], fake: list[list[torch.Tensor]]) -> torch.Tensor:
    """:func:`feature_matching` summed over sub-discriminators."""
    return sum(feature_matching(r, f) for r, f in zip(real, fake, strict=True))
