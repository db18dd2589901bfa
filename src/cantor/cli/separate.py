"""``cantor separate``: thin over :class:`cantor.Separator`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from cantor.cli.inputs import expand_inputs, report_failures, take_shard
from cantor.errors import CantorError, UsageError


def separate(
    inputs: list[Path] = typer.Argument(..., help="Audio files (or folders, searched recursively)."),
    out: Path = typer.Option(Path("separated"), "--out", "-o", help="Writes OUT/<model>/<track>/<stem>.<format>."),
    model: str = typer.Option("band", "--model", "-m", help="Shipped model (see 'cantor models') or a model folder."),
    stems: str = typer.Option(None, "--stems", help="Comma-separated subset of the model's stems."),
    segment: float = typer.Option(10.0, "--segment", help="Chunk length in seconds (memory grows with it)."),
    overlap: float = typer.Option(
        0.0,
        "--overlap",
        help="Minimum overlap between chunks, as a share of a chunk (the model's receptive field is always used).",
    ),
    wiener: int = typer.Option(0, "--wiener", help="Multichannel Wiener post-filter iterations (0: off, 1: typical)."),
    audio_format: str = typer.Option("wav", "--format", help="wav (32-bit float) or flac (24-bit)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace tracks already separated."),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Worker processes, each with its own model (a library at once)."),
    threads: int = typer.Option(None, "--threads", help="CPU threads per worker (default: the cores shared out)."),
    device: str = typer.Option(
        "cpu", "--device", help="cpu, cuda or cuda:N (the network only; audio stays on the CPU)."
    ),
    precision: str = typer.Option(
        "auto",
        "--precision",
        help="fp32, bf16 (the network's products in bfloat16) or auto: bf16 on CPUs that compute it natively.",
    ),
    shard: str = typer.Option("0/1", "--shard", help="K/N: take every N-th file from the K-th (N machines or GPUs)."),
) -> None:
    """Split mixtures into stems. A folder is searched recursively and its layout kept under OUT/<model>/; tracks
    already separated are skipped, so a stopped run resumes. A failing file is reported; the others still finish
    (exit 1 if any failed)."""
    from cantor.audio.io import audio_info
    from cantor.inference.batch import SeparationJob, separate_files

    if jobs < 1:
        raise UsageError(f"-j/--jobs must be at least 1, got {jobs}")
    if threads is not None and threads < 1:
        raise UsageError(f"--threads must be at least 1, got {threads}")
    files = take_shard(expand_inputs(inputs), shard)
    if not files:
        raise UsageError("no audio files found in the given inputs")
    job = SeparationJob(
        model=model,
        segment_seconds=segment,
        overlap=overlap,
        wiener_iterations=wiener,
        stems=tuple(s.strip() for s in stems.split(",")) if stems else None,
        audio_format=audio_format,
        overwrite=overwrite,
        device=device,
        precision=precision,
    )
    target = out / job.check()  # a bad model, stem or option is one usage error, before any work
    console = Console(stderr=True)
    items, failures = {}, []
    for path, folder in files:
        try:
            items[path] = (audio_info(path).frames, target / folder)
        except CantorError as error:
            failures.append((path, str(error)))
    with Progress(
        TextColumn("[bold]separating"),
        BarColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("", total=sum(frames for frames, _ in items.values()) or 1)
        for path, result in separate_files(
            [(path, folder) for path, (_, folder) in items.items()],
            job,
            workers=jobs,
            threads=threads,
            progress=lambda n: progress.advance(task, n),
        ):
            if isinstance(result, CantorError):
                failures.append((path, str(result)))
            else:
                console.print(f"{path} → {next(iter(result.values())).parent}", soft_wrap=True)
    report_failures(console, failures, len(files), target)
