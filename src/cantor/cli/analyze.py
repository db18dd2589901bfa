"""``cantor analyze``: thin over :meth:`cantor.Analyzer.analyze_file`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from cantor.cli.inputs import expand_inputs, report_failures
from cantor.errors import CantorError, UsageError


def analyze(
    inputs: list[Path] = typer.Argument(..., help="Audio files (or folders, searched recursively)."),
    out: Path = typer.Option(Path("analysis"), "--out", "-o", help="Writes OUT/<track>/ (report.html and more)."),
    model: str = typer.Option("band", "--model", "-m", help="Separator to split the input first (band, chorale)."),
    no_separate: bool = typer.Option(False, "--no-separate", help="Analyse the input as one stem."),
    transcriber: str = typer.Option("notes", "--transcriber", help="Note transcriber (shipped name or folder)."),
    classifier: str = typer.Option("instruments", "--classifier", help="Instrument classifier (name or folder)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace tracks already analysed."),
    threads: int = typer.Option(None, "--threads", help="CPU threads for the models."),
) -> None:
    """Separate, then find each stem's instrument, pitch, notes and sections; writes a report per track.

    OUT/<track>/ holds analysis.json, notes.mid (one track per stem), score.musicxml, report.html and stems/.
    A failing file is reported; the others still finish (exit 1 if any failed).
    """
    import torch
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from cantor.inference.analyze import Analyzer

    if threads is not None:
        if threads < 1:
            raise UsageError(f"--threads must be at least 1, got {threads}")
        torch.set_num_threads(threads)
    files = expand_inputs(inputs)
    if not files:
        raise UsageError("no audio files found in the given inputs")
    analyzer = Analyzer(model, transcriber=transcriber, classifier=classifier)
    console = Console(stderr=True)
    failures: list[tuple[Path, str]] = []
    with Progress(
        TextColumn("[bold]{task.fields[name]}: {task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        for path, folder in files:
            task = progress.add_task("reading", total=1.0, name=path.name)

            def show(step: str, share: float, task=task) -> None:
                progress.update(task, description=step, completed=share)

            try:
                target = out / folder / path.stem
                analyzer.analyze_file(path, target, separate=not no_separate, overwrite=overwrite, progress=show)
                progress.update(task, description="done", completed=1.0)
                console.print(f"{path} → {target / 'report.html'}", soft_wrap=True)  # a path must stay whole
            except UsageError:
                raise
            except CantorError as error:
                progress.update(task, description="[red]failed")
                failures.append((path, str(error)))
    report_failures(console, failures, len(files), out)
