"""Chunked inference equals a whole-file pass and keeps every length."""

from __future__ import annotations

import pytest
import torch

from cantor.inference.chunked import apply_chunked, plan_chunks, run_chunked
from cantor.models.presets import separator_preset
from cantor.models.separator import TCNVAESeparator


def _snr_db(estimate: torch.Tensor, reference: torch.Tensor) -> float:
    return float(10 * torch.log10(reference.pow(2).sum() / (estimate - reference).pow(2).sum().clamp_min(1e-20)))


@pytest.mark.parametrize(
    ("preset", "length"), [("tiny", 40_000), ("tiny", 40_001), ("tiny", 23_457), ("tiny-vocoder", 40_001)]
)
def test_chunked_separator_equals_whole_file(preset, length):
    config, _ = separator_preset(preset)
    torch.manual_seed(0)
    model = TCNVAESeparator(config).eval()
    audio = torch.randn(2, length) * 0.2
    plan = plan_chunks(
        length,
        sample_rate=config.sample_rate,
        segment_seconds=1.0,
        receptive_field=config.receptive_field_samples,
        align=config.stft.hop_length,
    )
    assert len(plan.chunks()) >= 3  # really chunked

    def separate(chunk: torch.Tensor, start: int = 0) -> torch.Tensor:
        with torch.no_grad():
            return model(chunk[None]).sources[0]

    chunked = apply_chunked(separate, audio, plan)
    whole = separate(audio)
    assert chunked.shape == whole.shape == (2, 2, length)
    assert _snr_db(chunked, whole) > 60


def test_blocks_come_in_order_and_cover_everything():
    plan = plan_chunks(10_000, sample_rate=1000, segment_seconds=1.0, receptive_field=100, align=10)
    starts, total = [], 0
    for start, block in run_chunked(lambda x, _: x[None] * 2, lambda a, b: torch.ones(1, b - a), plan):
        starts.append(start)
        assert start == total
        total += block.shape[-1]
        assert torch.allclose(block, torch.full_like(block, 2.0))  # weights normalise to one everywhere
    assert total == 10_000 and len(starts) == len(plan.chunks())


def test_short_input_is_one_chunk():
    plan = plan_chunks(500, sample_rate=8000, segment_seconds=1.0, receptive_field=100, align=64)
    assert plan.chunks() == [(0, 500)]
