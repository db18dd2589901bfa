"""Chunked inference equals a whole-file pass and keeps every length."""

from __future__ import annotations

import pytest
import torch

from cantor.inference import chunked
from cantor.inference.chunked import FreedMemory, apply_chunked, plan_chunks, run_chunked
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


@pytest.mark.parametrize("segment_seconds", [0.0, 0.35, 1.0])  # 0: the shortest, where three chunks overlap
def test_blocks_come_in_order_and_cover_everything(segment_seconds):
    plan = plan_chunks(10_000, sample_rate=1000, segment_seconds=segment_seconds, receptive_field=100, align=10)
    signal = torch.randn(1, 10_000, generator=torch.Generator().manual_seed(0))
    starts, blocks, total = [], [], 0
    for start, block in run_chunked(lambda x, _: x[None] * 2, lambda a, b: signal[:, a:b], plan):
        starts.append(start)
        assert start == total
        total += block.shape[-1]
        blocks.append(block)
    assert total == 10_000 and len(starts) >= len(plan.chunks()) > 1
    # the weights normalise to one everywhere; where a chunk alone covers the output it is passed on exactly
    assert torch.allclose(torch.cat(blocks, dim=-1), signal[None] * 2, atol=1e-6)
    assert torch.equal(blocks[0], signal[None, :, : blocks[0].shape[-1]] * 2)


def test_an_empty_signal_gives_an_empty_output_of_the_right_shape():
    plan = plan_chunks(0, sample_rate=1000, segment_seconds=1.0, receptive_field=100, align=10)
    assert apply_chunked(lambda x, _: torch.stack([x, x, x]), torch.zeros(2, 0), plan).shape == (3, 2, 0)


def test_short_input_is_one_chunk():
    plan = plan_chunks(500, sample_rate=8000, segment_seconds=1.0, receptive_field=100, align=64)
    assert plan.chunks() == [(0, 500)]


def test_freed_memory_is_returned_only_past_the_settled_size(monkeypatch):
    """Trimming after every chunk made the next chunk page-fault its buffers in again; never trimming let glibc's
    arenas fragment. Memory goes back when the process grows past its settled size, and at the end."""
    resident = iter([500, 620, 610, 630, 640, 690, 700, 720, 600])  # MB, read after each chunk and after a trim
    monkeypatch.setattr(chunked, "_resident_bytes", lambda: next(resident) << 20)
    trims = []
    monkeypatch.setattr(FreedMemory, "release", staticmethod(lambda: trims.append(len(trims))))
    memory = FreedMemory(slack_bytes=64 << 20, settling_chunks=4)
    for _ in range(4):  # settling: the largest of these (630 MB) is the baseline
        memory.after_chunk()
    assert trims == []
    memory.after_chunk()  # 640: within the slack
    memory.after_chunk()  # 690: within the slack
    assert trims == []
    memory.after_chunk()  # 700 > 630 + 64: trimmed; what stays (720: live memory) becomes the baseline
    assert len(trims) == 1 and memory.baseline == 720 << 20
    memory.after_chunk()  # 600
    assert len(trims) == 1
