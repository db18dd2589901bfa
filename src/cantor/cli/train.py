"""``cantor train``: train Cantor's models on data it built (or MUSDB18-style folders)."""

from __future__ import annotations

import dataclasses
import shlex
import sys
from pathlib import Path

import typer

from cantor.errors import UsageError

train_app = typer.Typer(help="Train models.", no_args_is_help=True)


@train_app.command("separator")
def separator(
    data: Path = typer.Option(..., "--data", help="Data folder with train/ and valid/ splits."),
    out: Path = typer.Option(..., "--out", "-o", help="Run folder (resumes from its last checkpoint)."),
    preset: str = typer.Option("band-small", help="Model and recipe preset."),
    sources: str = typer.Option(None, help="Comma-separated stem names (default: the preset's)."),
    max_steps: int = typer.Option(None, "--max-steps", help="Override the preset's number of steps."),
    max_minutes: float = typer.Option(None, "--max-minutes", help="Stop after this much training time."),
    batch_size: int = typer.Option(None, "--batch-size", help="Override the preset's batch size."),
    val_every: int = typer.Option(None, "--val-every", help="Validate (and export best/) every N steps."),
    accelerator: str = typer.Option("cpu", help="cpu, gpu or auto."),
    devices: str = typer.Option("1", help="Number of devices (or 'auto')."),
    strategy: str = typer.Option("auto", help="auto or ddp (several devices or nodes)."),
    threads: int = typer.Option(None, "--threads", help="CPU threads for torch (default: torch's choice)."),
    init_vocoder: str = typer.Option(
        None, "--init-vocoder", help="Start the reconstruction network from this vocoder (presets *-vocoder)."
    ),
) -> None:
    """Train a TCN-VAE separator; writes checkpoints, logs, curves.png, best/ and final/ (safetensors)."""
    import torch

    from cantor.models.presets import separator_preset
    from cantor.train.separator import train_separator

    if not data.is_dir():
        raise UsageError(f"--data {data}: no such folder")
    try:
        model_config, train_config = separator_preset(
            preset, sources=tuple(s.strip() for s in sources.split(",")) if sources else None
        )
    except KeyError as error:
        raise UsageError(str(error.args[0])) from error
    overrides = {"max_steps": max_steps, "batch_size": batch_size, "val_every_steps": val_every}
    train_config = dataclasses.replace(train_config, **{k: v for k, v in overrides.items() if v is not None})
    if threads:
        torch.set_num_threads(threads)
    command = "cantor " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    run = train_separator(
        data=data,
        out=out,
        model_config=model_config,
        train_config=train_config,
        max_minutes=max_minutes,
        accelerator=accelerator,
        devices=int(devices) if devices.isdigit() else devices,
        strategy=strategy,
        command=command,
        init_vocoder=init_vocoder,
    )
    typer.echo(f"trained → {run} (best/ and final/ hold the weights, curves.png the curves)")


@train_app.command("vocoder")
def vocoder(
    data: list[Path] = typer.Option(..., "--data", help="Data folder(s) with train/ and valid/ (repeat for several)."),
    out: Path = typer.Option(..., "--out", "-o", help="Run folder (resumes from its last checkpoint)."),
    preset: str = typer.Option("gan-small", help="gan-small, waveflow-small, waveflow-small-attention, … (tiny-*)."),
    max_steps: int = typer.Option(None, "--max-steps", help="Override the preset's number of steps."),
    max_minutes: float = typer.Option(None, "--max-minutes", help="Stop after this much training time."),
    batch_size: int = typer.Option(None, "--batch-size", help="Override the preset's batch size."),
    val_every: int = typer.Option(None, "--val-every", help="Validate (and export best/) every N steps."),
    adversarial_start: int = typer.Option(
        None, "--adversarial-start", help="GAN: step at which the discriminators join (reconstruction-only before)."
    ),
    accelerator: str = typer.Option("cpu", help="cpu, gpu or auto."),
    devices: str = typer.Option("1", help="Number of devices (or 'auto')."),
    strategy: str = typer.Option("auto", help="auto or ddp (several devices or nodes)."),
    threads: int = typer.Option(None, "--threads", help="CPU threads for torch (default: torch's choice)."),
) -> None:
    """Train a vocoder (GAN or WaveFlow) on every stem and mixture of the data; writes best/ and final/."""
    import torch

    from cantor.models.presets import vocoder_preset
    from cantor.train.vocoder import train_vocoder

    for folder in data:
        if not folder.is_dir():
            raise UsageError(f"--data {folder}: no such folder")
    try:
        model_config, train_config = vocoder_preset(preset)
    except KeyError as error:
        raise UsageError(str(error.args[0])) from error
    overrides = {
        "max_steps": max_steps,
        "batch_size": batch_size,
        "val_every_steps": val_every,
        "adversarial_start_step": adversarial_start,
    }
    train_config = dataclasses.replace(train_config, **{k: v for k, v in overrides.items() if v is not None})
    if threads:
        torch.set_num_threads(threads)
    command = "cantor " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    run = train_vocoder(
        data=list(data),
        out=out,
        model_config=model_config,
        train_config=train_config,
        max_minutes=max_minutes,
        accelerator=accelerator,
        devices=int(devices) if devices.isdigit() else devices,
        strategy=strategy,
        command=command,
    )
    typer.echo(f"trained → {run} (best/ and final/ hold the weights, curves.png the curves)")


def _train_analysis(
    task: str,
    *,
    data: list[Path],
    cache: Path,
    out: Path,
    preset: str,
    overrides: dict,
    threads: int | None,
    devices: str,
    **run,
) -> None:
    import torch

    from cantor.models.presets import analysis_preset
    from cantor.train.analysis import train_analysis_model

    for folder in data:
        if not folder.is_dir():
            raise UsageError(f"--data {folder}: no such folder")
    try:
        model_config, train_config = analysis_preset(task, preset)
    except KeyError as error:
        raise UsageError(str(error.args[0])) from error
    train_config = dataclasses.replace(train_config, **{k: v for k, v in overrides.items() if v is not None})
    if threads:
        torch.set_num_threads(threads)
    trained = train_analysis_model(
        task,
        data=list(data),
        cache=cache,
        out=out,
        model_config=model_config,
        train_config=train_config,
        devices=int(devices) if devices.isdigit() else devices,
        command="cantor " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
        **run,
    )
    typer.echo(f"trained → {trained} (best/ and final/ hold the weights, curves.png the curves)")


_DATA = typer.Option(..., "--data", help="Data folder(s) built by Cantor (repeat for several).")
_CACHE = typer.Option(Path("data/cache"), "--cache", help="Where the stems' CQTs are cached (built on first use).")
_OUT = typer.Option(..., "--out", "-o", help="Run folder (resumes from its last checkpoint).")


def _analysis_command(task: str, default_preset: str, summary: str):
    """One CLI command per analysis model; they differ only in the task and its presets."""

    def command(
        data: list[Path] = _DATA,
        cache: Path = _CACHE,
        out: Path = _OUT,
        preset: str = typer.Option(default_preset, help=f"{default_preset} (or tiny-{task})."),
        songs: int = typer.Option(None, "--songs", help="Use the first N songs of each folder and split."),
        max_steps: int = typer.Option(None, "--max-steps", help="Override the preset's number of steps."),
        max_minutes: float = typer.Option(None, "--max-minutes", help="Stop after this much training time."),
        batch_size: int = typer.Option(None, "--batch-size", help="Override the preset's batch size."),
        val_every: int = typer.Option(None, "--val-every", help="Validate (and export best/) every N steps."),
        accelerator: str = typer.Option("cpu", help="cpu, gpu or auto."),
        devices: str = typer.Option("1", help="Number of devices (or 'auto')."),
        strategy: str = typer.Option("auto", help="auto or ddp (several devices or nodes)."),
        threads: int = typer.Option(None, "--threads", help="CPU threads for torch (default: torch's choice)."),
    ) -> None:
        overrides = {"songs": songs, "max_steps": max_steps, "batch_size": batch_size, "val_every_steps": val_every}
        _train_analysis(
            task,
            data=data,
            cache=cache,
            out=out,
            preset=preset,
            overrides=overrides,
            threads=threads,
            devices=devices,
            max_minutes=max_minutes,
            accelerator=accelerator,
            strategy=strategy,
        )

    command.__doc__ = summary
    return command


train_app.command("transcriber")(
    _analysis_command(
        "transcriber",
        "transcriber-small",
        "Train the note transcriber on the pitched stems' exact notes; writes best/ and final/.",
    )
)
train_app.command("classifier")(
    _analysis_command(
        "classifier",
        "classifier-small",
        "Train the instrument classifier (GM family and program) on every stem; writes best/ and final/.",
    )
)
