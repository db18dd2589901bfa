"""``cantor data``: build labelled multitrack data sets and summarise them."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from cantor.cli.inputs import parse_shard
from cantor.errors import CantorError, UsageError

data_app = typer.Typer(help="Build and inspect labelled multitrack data.", no_args_is_help=True)


def _soundfont_list(values: list[str] | None, *, default: bool = True) -> tuple[str, ...]:
    from cantor.data.render import default_soundfonts, resolve_soundfont

    if not values:
        return tuple(str(path) for path in default_soundfonts()) if default else ()
    fonts = [item.strip() for value in values for item in value.split(",") if item.strip()]
    return tuple(str(resolve_soundfont(font)) for font in fonts)


def _counting_progress(verb: str, console: Console) -> Progress:
    """A bar that counts the items of a long job (songs, tracks), with the time taken and the time left."""
    return Progress(
        TextColumn(f"[bold]{verb}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )


@data_app.command("build")
def build(
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write the data set to (created; resumable)."),
    preset: str = typer.Option(
        "band", help="band (drums, bass, melody, other) or chorale (soprano, alto, tenor, bass)."
    ),
    songs: int = typer.Option(10, help="Number of songs; splits train/valid/test follow 8:1:1 by tune."),
    seconds: float = typer.Option(30.0, help="Length of each song in seconds."),
    seed: int = typer.Option(0, help="Seed: the same seed and settings give the same songs."),
    soundfont: list[str] = typer.Option(
        None, "--soundfont", help="Soundfont(s), repeat or comma-separate; one is drawn per stem. Default: all found."
    ),
    drum_soundfont: list[str] = typer.Option(
        None,
        "--drum-soundfont",
        help="Soundfont(s) for the drum stems only, e.g. the recorded kits Black_Pearl_4_LV2 and Red_Zeppelin_4_LV2 "
        "(Debian's avldrums.lv2-soundfont). Default: drums draw from --soundfont.",
    ),
    jobs: int = typer.Option(1, "-j", "--jobs", help="Worker processes."),
    effects: bool = typer.Option(True, "--effects/--no-effects", help="Per-stem EQ, compression, reverb, panning."),
    audio_format: str = typer.Option("wav", "--format", help="wav or flac (both 24-bit, lossless)."),
    sample_rate: int = typer.Option(44100, "--sample-rate", help="Sample rate of the rendered audio."),
    splits: str = typer.Option(
        "train,valid,test", "--splits", help="Render only the songs of these splits (e.g. test for a held-out set)."
    ),
    shard: str = typer.Option(
        "0/1", "--shard", help="K/N: render every N-th song from the K-th (N machines, one folder each, K = 0…N-1)."
    ),
) -> None:
    """Render a labelled multitrack data set from music21's corpus with FluidSynth."""
    # The library is imported here, not at the top, so that `cantor --help` answers without loading torch.
    from cantor.data.build import BuildConfig, build_dataset

    if jobs < 1:
        raise UsageError(f"-j/--jobs must be at least 1, got {jobs}")
    shard_number, shard_count = parse_shard(shard)
    config = BuildConfig(
        preset=preset,
        songs=songs,
        seconds=seconds,
        seed=seed,
        soundfonts=_soundfont_list(soundfont),
        drum_soundfonts=_soundfont_list(drum_soundfont, default=False),
        sample_rate=sample_rate,
        effects=effects,
        audio_format=audio_format,
    )
    console = Console(stderr=True)
    console.print(f"soundfonts: {', '.join(Path(f).name for f in config.soundfonts)}")
    if config.drum_soundfonts:
        console.print(f"drum soundfonts: {', '.join(Path(f).name for f in config.drum_soundfonts)}")
    with _counting_progress("rendering", console) as progress:
        wanted = tuple(s.strip() for s in splits.split(",") if s.strip())
        task = progress.add_task("songs", total=None)
        report = build_dataset(
            config,
            out,
            workers=jobs,
            splits=wanted,
            on_song=lambda _: progress.advance(task),
            on_plan=lambda count: progress.update(task, total=count),
            shard=(shard_number, shard_count),
        )
    speed = report.seconds_of_audio / report.wall_seconds if report.wall_seconds else 0.0
    console.print(
        f"built {len(report.built)} songs, skipped {len(report.skipped)} already complete, "
        f"{report.seconds_of_audio:.0f} s of audio in {report.wall_seconds:.1f} s ({speed:.0f}× real time) → {out}"
    )
    if report.failed:
        for name, reason in report.failed:
            console.print(f"[red]failed[/red] {name}: {reason}")
        total = len(report.built) + len(report.skipped) + len(report.failed)
        raise CantorError(f"{len(report.failed)} of {total} songs failed (the others are complete)")


@data_app.command("import-stems")
def import_stems(
    source: Path = typer.Argument(..., help="MUSDB18's folder: <split>/<track>.stem.mp4 (train/ and test/)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write <split>/<track>/<stem>.<format> to."),
    audio_format: str = typer.Option(
        "flac", "--format", help="flac (24-bit, clips a decode past full scale) or wav (32-bit float, twice the size)."
    ),
    names: str = typer.Option(
        None, "--names", help="The streams' names, in the files' order. Default: MUSDB18's (mixture, then its stems)."
    ),
) -> None:
    """Unpack MUSDB18-style .stem.mp4 files (the mixture and its stems as AAC streams) into the folder layout that
    training and the benchmarks read (MUSDB18-HQ's). Resumable: complete tracks are skipped."""
    from cantor.data.musdb import MUSDB_STREAMS, import_stem_files

    console = Console(stderr=True)
    with _counting_progress("decoding", console) as progress:
        task = progress.add_task("tracks", total=None)
        report = import_stem_files(
            source,
            out,
            names=tuple(name.strip() for name in names.split(",") if name.strip()) if names else MUSDB_STREAMS,
            audio_format=audio_format,
            on_plan=lambda count: progress.update(task, total=count),
            on_track=lambda _: progress.advance(task),
        )
    console.print(
        f"imported {len(report.imported)} tracks, skipped {len(report.skipped)} already complete → {out}",
        soft_wrap=True,
    )
    for path, reason in report.failed:
        console.print(f"[red]failed[/red] {reason if path in reason else f'{path}: {reason}'}", soft_wrap=True)
    if report.failed:
        total = len(report.imported) + len(report.skipped) + len(report.failed)
        raise CantorError(f"{len(report.failed)} of {total} tracks failed (the others are complete)")


@data_app.command("stats")
def stats(
    root: Path = typer.Argument(..., help="A folder built by 'cantor data build' (or with manifest.jsonl)."),
    plot: Path = typer.Option(None, "--plot", help="Where to write the PNG summary (default ROOT/stats.png)."),
) -> None:
    """Counts per family and split, durations and loudness; writes a PNG summary."""
    from cantor.data.stats import dataset_stats, plot_stats, print_stats

    summary = dataset_stats(root)
    print_stats(summary, Console())
    target = plot or root / "stats.png"
    plot_stats(summary, target)
    Console(stderr=True).print(f"plot → {target}")
