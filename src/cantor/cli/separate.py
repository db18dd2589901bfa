"""``cantor separate``: thin over :class:`cantor.Separator`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from cantor.errors import CantorError, UsageError


def report_failures(console: Console, failures: list[tuple[Path, str]], total: int, where: Path) -> None:
    """One line per failed file, then an error (exit 1) if any failed; the others' results are in ``where``."""
    for path, reason in failures:
        console.print(f"[red]failed[/red] {reason if str(path) in reason else f'{path}: {reason}'}")
    if failures:
        raise CantorError(f"{len(failures)} of {total} files failed; the others are in {where}")


def expand_inputs(inputs: list[Path]) -> list[Path]:
    from cantor.audio.io import READABLE_EXTENSIONS

    files: list[Path] = []
    for item in inputs:
        if item.is_dir():
            files += sorted(p for p in item.rglob("*") if p.suffix.lower() in READABLE_EXTENSIONS and p.is_file())
        else:
            files.append(item)
    return files


def separate(
    inputs: list[Path] = typer.Argument(..., help="Audio files (or folders, searched recursively)."),
    out: Path = typer.Option(Path("separated"), "--out", "-o", help="Writes OUT/<model>/<track>/<stem>.<format>."),
    model: str = typer.Option("band", "--model", "-m", help="Shipped model (see 'cantor models') or a model folder."),
    stems: str = typer.Option(None, "--stems", help="Comma-separated subset of the model's stems."),
    segment: float = typer.Option(10.0, "--segment", help="Chunk length in seconds (memory grows with it)."),
    overlap: float = typer.Option(0.25, "--overlap", help="Minimum overlap between chunks, as a share of a chunk."),
    wiener: int = typer.Option(0, "--wiener", help="Multichannel Wiener post-filter iterations (0: off, 1: typical)."),
    audio_format: str = typer.Option("wav", "--format", help="wav (32-bit float) or flac (24-bit)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace tracks already separated."),
    threads: int = typer.Option(None, "--threads", "-j", help="CPU threads for the model."),
) -> None:
    """Split mixtures into stems. A failing file is reported; the others still finish (exit 1 if any failed)."""
    import torch

    from cantor.audio.io import audio_info
    from cantor.inference.separate import Separator

    if threads is not None:
        if threads < 1:
            raise UsageError(f"--threads must be at least 1, got {threads}")
        torch.set_num_threads(threads)
    files = expand_inputs(inputs)
    if not files:
        raise UsageError("no audio files found in the given inputs")
    separator = Separator(model, segment_seconds=segment, overlap=overlap, wiener_iterations=wiener)
    wanted = [s.strip() for s in stems.split(",")] if stems else None
    target = out / separator.name
    console = Console(stderr=True)
    durations = {}
    failures: list[tuple[Path, str]] = []
    for path in files:
        try:
            durations[path] = audio_info(path).frames
        except CantorError as error:
            failures.append((path, str(error)))
    with Progress(
        TextColumn("[bold]separating {task.fields[name]}"),
        BarColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("", total=sum(durations.values()) or 1, name="")
        for path in durations:
            progress.update(task, name=path.name)
            try:
                written = separator.separate_file(
                    path,
                    target,
                    stems=wanted,
                    audio_format=audio_format,
                    overwrite=overwrite,
                    progress=lambda n: progress.advance(task, n),
                )
                console.print(f"{path} → {next(iter(written.values())).parent}", soft_wrap=True)
            except UsageError:
                raise
            except CantorError as error:
                failures.append((path, str(error)))
    report_failures(console, failures, len(files), target)
