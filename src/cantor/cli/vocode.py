"""``cantor vocode``: resynthesise audio, or decode a saved mel, through a vocoder (thin over ``cantor.Vocoder``)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from cantor.errors import CantorError, UsageError


def vocode(
    inputs: list[Path] = typer.Argument(None, help="Audio file to resynthesise (mel → waveform)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output WAV (32-bit float)."),
    model: str = typer.Option("gan", "--model", "-m", help="Shipped vocoder (gan, waveflow) or a model folder."),
    mel: Path = typer.Option(None, "--mel", help="Decode a saved mel (.npy, [n_mels, frames] or [channels, …])."),
    temperature: float = typer.Option(
        None, "--temperature", help="WaveFlow's sampling temperature (0 = mean; default: the model's own)."
    ),
    seed: int = typer.Option(0, "--seed", help="WaveFlow's noise seed."),
    chunk: float = typer.Option(10.0, "--chunk", help="Seconds decoded per chunk (memory grows with it)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUT if it exists."),
    threads: int = typer.Option(None, "--threads", help="CPU threads for the model."),
    precision: str = typer.Option(
        "auto",
        "--precision",
        help="A GAN's network in fp32 or bf16; auto: bf16 on CPUs that compute it natively (WaveFlow: fp32).",
    ),
) -> None:
    """Resynthesise INPUT through mel → waveform, or decode --mel FILE.npy; writes OUT as a WAV."""
    import numpy as np
    import torch

    from cantor.audio.io import audio_info, save
    from cantor.inference.vocode import Vocoder

    if (mel is None) == (not inputs):
        raise UsageError("give either one audio INPUT or --mel FILE.npy")
    if inputs and len(inputs) > 1:
        raise UsageError("one INPUT at a time (OUT is a single file)")
    if out.suffix.lower() != ".wav":
        raise UsageError(f"-o/--out must end in .wav, got {out.name}")
    if out.exists() and not overwrite:
        raise UsageError(f"{out} exists; pass --overwrite to replace it")
    if threads is not None:
        if threads < 1:
            raise UsageError(f"--threads must be at least 1, got {threads}")
        torch.set_num_threads(threads)
    vocoder = Vocoder(model, chunk_seconds=chunk, temperature=temperature, seed=seed, precision=precision)
    console = Console(stderr=True)
    columns = (TextColumn("[bold]vocoding"), BarColumn(), TimeElapsedColumn(), TimeRemainingColumn())
    if mel is not None:
        try:
            array = np.load(mel, allow_pickle=False)
        except (OSError, ValueError) as error:
            raise CantorError(f"{mel}: not a NumPy .npy file ({error})") from error
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("", total=max(1, array.shape[-1] - 1))
            audio = vocoder.decode(array, progress=lambda n: progress.advance(task, n))
        save(out, audio if audio.ndim > 1 else audio[None], vocoder.sample_rate, subtype="FLOAT")
    else:
        frames = audio_info(inputs[0]).frames
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("", total=max(1, frames))
            vocoder.resynthesize_file(inputs[0], out, overwrite=overwrite, progress=lambda n: progress.advance(task, n))
    console.print(f"{vocoder.name} vocoder → {out}", soft_wrap=True)
