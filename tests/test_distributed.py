"""Distributed training: two CPU processes (DDP over gloo) with half the batch each end a few steps with the same
weights as one process with the whole batch; a training killed with SIGKILL resumes where its checkpoint left it."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from safetensors.torch import load_file

RATE = 8000  # the tiny presets' rate

SCRIPT = textwrap.dedent(
    """
    import dataclasses, sys
    from pathlib import Path
    import torch
    from cantor.models.presets import vocoder_preset
    from cantor.train.runner import RunOptions
    from cantor.train.vocoder import train_vocoder

    data, out = Path(sys.argv[1]), Path(sys.argv[2])
    devices, batch, steps, val_every = (int(a) for a in sys.argv[3:7])
    checkpoint_minutes = float(sys.argv[7])
    torch.set_num_threads(1)
    model, train = vocoder_preset("tiny-gan")
    # mel L1 only: a mean over clips, so the average of two half-batch gradients is the whole batch's (the
    # multi-resolution STFT loss normalises by the whole batch's energy, which halves do not share)
    train = dataclasses.replace(
        train,
        losses={"mel_l1": 1.0},
        batch_size=batch,
        max_steps=steps,
        val_every_steps=val_every,
        checkpoint_minutes=checkpoint_minutes,
    )
    options = RunOptions(devices=devices, strategy="ddp" if devices > 1 else "auto", progress=False)
    train_vocoder(data=[data], out=out, model_config=model, train_config=train, options=options)
    """
)


@pytest.fixture(scope="module")
def tones(tmp_path_factory) -> Path:
    """A data folder of plucked tones at 8 kHz: train/ and valid/ songs with two stems each."""
    root = tmp_path_factory.mktemp("tones")
    rng = np.random.default_rng(0)
    t = np.arange(3 * RATE) / RATE
    for split, songs in (("train", 4), ("valid", 1)):
        for song in range(songs):
            for stem in ("a", "b"):
                frequency = rng.uniform(110, 880)
                audio = 0.3 * np.sin(2 * np.pi * frequency * t) * np.exp(-2 * (t % 0.75))
                folder = root / split / f"song{song}"
                folder.mkdir(parents=True, exist_ok=True)
                soundfile.write(folder / f"{stem}.wav", np.stack([audio, audio], axis=1), RATE)
    return root


def _command(tmp_path: Path, data: Path, name: str, *settings) -> list[str]:
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    return [sys.executable, str(script), str(data), str(tmp_path / name), *map(str, settings)]


def _train(tmp_path: Path, data: Path, name: str, devices: int, batch: int, steps: int = 4, val_every: int = 100):
    result = subprocess.run(
        _command(tmp_path, data, name, devices, batch, steps, val_every, 5.0),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return load_file(tmp_path / name / "final" / "model.safetensors")


def test_two_processes_with_half_the_batch_match_one_with_the_whole(tmp_path, tones):
    import lightning as L

    from cantor.models.presets import vocoder_preset
    from cantor.models.vocoder import build_vocoder

    single = _train(tmp_path, tones, "single", devices=1, batch=8)
    double = _train(tmp_path, tones, "ddp", devices=2, batch=4)
    assert max(float((single[k] - double[k]).abs().max()) for k in single) < 1e-5
    L.seed_everything(0, verbose=False)  # the start both runs shared (the system builds its vocoder first)
    start = build_vocoder(vocoder_preset("tiny-gan")[0]).state_dict()
    assert max(float((single[k] - start[k]).abs().max()) for k in single) > 1e-3  # and training moved them


def _checkpoint_step(path: Path) -> int:
    try:
        return int(torch.load(path, map_location="cpu", weights_only=False)["global_step"])
    except (OSError, EOFError, RuntimeError, KeyError):
        return -1


def test_a_training_killed_with_sigkill_resumes_as_if_never_stopped(tmp_path, tones):
    """Killed mid-epoch (epochs of 15 steps), resumed with the same command: same step counter, optimiser,
    scheduler and data order — the final weights equal an uninterrupted run's."""
    whole = _train(tmp_path, tones, "whole", devices=1, batch=4, steps=40, val_every=15)
    command = _command(tmp_path, tones, "killed", 1, 4, 40, 15, 0.001)  # a checkpoint every step or so
    checkpoint = tmp_path / "killed" / "checkpoints" / "last.ckpt"
    run = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while _checkpoint_step(checkpoint) < 20:  # (no discriminator with these losses: one optimiser step a step)
        assert run.poll() is None and time.monotonic() < deadline, "the run ended before it could be killed"
        time.sleep(0.02)
    run.send_signal(signal.SIGKILL)
    run.wait()
    killed_at = _checkpoint_step(checkpoint)
    assert 20 <= killed_at < 40 and killed_at % 15, killed_at  # mid-epoch, far from the end
    resumed = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    weights = load_file(tmp_path / "killed" / "final" / "model.safetensors")
    assert max(float((weights[k] - whole[k]).abs().max()) for k in whole) < 1e-6
