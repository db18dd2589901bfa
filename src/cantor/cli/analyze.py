"""``cantor analyze``: thin over :class:`cantor.Analyzer` and :func:`cantor.analysis.report.write_analysis`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from cantor.cli.separate import expand_inputs, report_failures
from cantor.errors import CantorError, UsageError


def analyze(
    inputs: list[Path] = typer.Argument(..., help="Audio files (or folders, searched recursively)."),
    out: Path = typer.Option(Path("analysis"), "--out", "-o", help="Writes OUT/<track>/ (report.html and more)."),
    model: str = typer.Option("band", "--model", "-m", help="Separator to split the input first (band, chorale)."),
    no_separate: bool = typer.Option(False, "--no-separate", help="Analyse the input as one stem."),
    transcriber: str = typer.Option("notes", "--transcriber", help="Note transcriber (shipped name or folder)."),
    classifier: str = typer.Option("instruments", "--classifier", help="Instrument classifier (name or folder)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace tracks already analysed."),
    threads: int = typer.Option(None, "--threads", "-j", help="CPU threads for the models."),
) -> None:
    """Separate, then find each stem's instrument, pitch, notes and sections; writes a report per track.

    OUT/<track>/ holds analysis.json, notes.mid (one track per stem), score.musicxml, report.html and stems/.
    A failing file is reported; the others still finish (exit 1 if any failed).
    """
    import torch

    from cantor.analysis.report import write_analysis
    from cantor.audio.io import load
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
    for path in files:
        target = out / path.stem
        try:
            if target.exists() and not overwrite:
                raise CantorError(f"{target} exists; pass --overwrite to replace it")
            with console.status(f"[bold]{path.name}: reading") as status:
                audio, rate = load(path)
                analysis = analyzer.analyze(
                    audio,
                    rate,
                    separate=not no_separate,
                    progress=lambda step, s=status, n=path.name: s.update(f"[bold]{n}: {step}"),
                )
                status.update(f"[bold]{path.name}: writing the report")
                written = write_analysis(analysis, target, title=path.stem, overwrite=overwrite)
            console.print(f"{path} → {written['report.html']}", soft_wrap=True)  # a path must stay whole
        except UsageError:
            raise
        except CantorError as error:
            failures.append((path, str(error)))
    report_failures(console, failures, len(files), out)
