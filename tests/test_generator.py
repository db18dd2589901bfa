"""The LSTM-VAE: a tiny model memorises a few bars through its latent; sampling is deterministic under a seed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cantor.data.corpus import load_corpus
from cantor.data.symbolic import VoiceGridConverter
from cantor.models.generator import LSTMVAE, GeneratorConfig, kl_divergence, reconstruction_loss, token_accuracy

TINY = GeneratorConfig(
    converter=VoiceGridConverter(bars=2),
    embedding=8,
    encoder_hidden=64,
    latent=16,
    conductor_hidden=32,
    bar_embedding=32,
    decoder_hidden=128,
    decoder_layers=1,
)


@pytest.fixture(scope="module")
def windows() -> torch.Tensor:
    chorales = [p for p in load_corpus() if p.is_chorale and p.meter == (4, 4)]
    found = []
    for piece in chorales[:6]:
        found += TINY.converter.to_tensors(piece, hop_bars=4)[:1]
    return torch.from_numpy(np.stack(found[:4]))


def test_a_tiny_lstm_vae_memorises_bars_through_its_latent(windows):
    torch.manual_seed(0)
    model = LSTMVAE(TINY)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(300):
        out = model(windows)
        kl = kl_divergence(out["mean"], out["log_variance"])
        loss = (reconstruction_loss(out["logits"], windows) + 0.001 * kl).mean()
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
    model.eval()
    mean, _ = model.encode(windows)
    assert token_accuracy(model.decode_logits(mean, windows), windows) > 0.95  # MusicVAE's (teacher-forced) measure


def test_sampling_is_deterministic_under_a_seed():
    model = LSTMVAE(TINY).eval()
    z = torch.randn(3, TINY.latent, generator=torch.Generator().manual_seed(1))
    first = model.sample(z, temperature=1.0, generator=torch.Generator().manual_seed(7))
    again = model.sample(z, temperature=1.0, generator=torch.Generator().manual_seed(7))
    other = model.sample(z, temperature=1.0, generator=torch.Generator().manual_seed(8))
    assert first.shape == (3, 32, 4) and torch.equal(first, again) and not torch.equal(first, other)
    assert int(first.max()) < TINY.converter.vocabulary
