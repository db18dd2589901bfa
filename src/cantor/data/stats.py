"""Summaries of a built data set: songs, durations, loudness, instrument families per split, as tables and a PNG."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from cantor.data.build import SPLITS, read_manifest
from cantor.errors import CantorError
from cantor.files import atomic_path


@dataclass
class DatasetStats:
    root: Path
    songs: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    families: dict[str, Counter] = field(default_factory=dict)
    styles: Counter = field(default_factory=Counter)
    soundfonts: Counter = field(default_factory=Counter)
    mixture_db: list[float] = field(default_factory=list)
    stem_db: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    tempos: list[float] = field(default_factory=list)


def dataset_stats(root: str | Path) -> DatasetStats:
    """Read the per-song records under ``root`` and count what is there."""
    root = Path(root)
    if not root.is_dir():
        raise CantorError(f"{root}: no such folder")
    records = read_manifest(root)
    if not records:
        raise CantorError(f"{root}: no songs found (expected <split>/<song>/song.json from 'cantor data build')")
    summary = DatasetStats(root=root)
    for split in SPLITS:
        summary.families[split] = Counter()
    for record in records:
        split = record["split"]
        summary.songs[split] = summary.songs.get(split, 0) + 1
        summary.seconds[split] = summary.seconds.get(split, 0.0) + record["duration_seconds"]
        summary.styles[record["style"]] += 1
        summary.tempos.append(record["tempo_bpm"])
        summary.mixture_db.append(record["mix"]["loudness_rms_db"])
        for stem, info in record["stems"].items():
            summary.families[split][info["family"]] += 1
            summary.soundfonts[info["soundfont"]] += 1
            summary.stem_db[stem].append(info["loudness_rms_db"])
    return summary


def print_stats(summary: DatasetStats, console: Console) -> None:
    songs = Table(title=f"{summary.root}: songs per split")
    for column in ("split", "songs", "minutes"):
        songs.add_column(column, justify="right" if column != "split" else "left")
    for split in SPLITS:
        songs.add_row(split, str(summary.songs.get(split, 0)), f"{summary.seconds.get(split, 0.0) / 60:.1f}")
    console.print(songs)

    families = Table(title="stems per instrument family")
    families.add_column("family")
    for split in SPLITS:
        families.add_column(split, justify="right")
    all_families = sorted({f for counter in summary.families.values() for f in counter})
    for family in all_families:
        families.add_row(family, *(str(summary.families[split][family]) for split in SPLITS))
    console.print(families)

    loudness = Table(title="loudness (RMS dBFS)")
    for column in ("track", "median", "min", "max"):
        loudness.add_column(column, justify="right" if column != "track" else "left")
    for name, values in {"mixture": summary.mixture_db, **summary.stem_db}.items():
        loudness.add_row(name, f"{np.median(values):.1f}", f"{min(values):.1f}", f"{max(values):.1f}")
    console.print(loudness)
    console.print("styles: " + ", ".join(f"{k} {v}" for k, v in summary.styles.most_common()))
    console.print("soundfonts (stems): " + ", ".join(f"{k} {v}" for k, v in summary.soundfonts.most_common()))


def plot_stats(summary: DatasetStats, path: str | Path) -> Path:
    """Four panels: families per split, loudness per track, styles, tempos."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, 2, figsize=(13, 8.5))
    all_families = sorted({f for counter in summary.families.values() for f in counter})
    positions = np.arange(len(all_families))
    width = 0.8 / len(SPLITS)
    for i, split in enumerate(SPLITS):
        counts = [summary.families[split][f] for f in all_families]
        axes[0, 0].bar(positions + i * width, counts, width, label=f"{split} ({summary.songs.get(split, 0)} songs)")
    axes[0, 0].set_xticks(positions + width, all_families, rotation=45, ha="right")
    axes[0, 0].set_title("stems per instrument family")
    axes[0, 0].legend()

    tracks = {"mixture": summary.mixture_db, **summary.stem_db}
    axes[0, 1].boxplot(list(tracks.values()), tick_labels=list(tracks))
    axes[0, 1].set_ylabel("RMS dBFS")
    axes[0, 1].set_title("loudness")

    styles = summary.styles.most_common()
    axes[1, 0].bar([s for s, _ in styles], [c for _, c in styles], color="tab:green")
    axes[1, 0].set_title("songs per style")

    axes[1, 1].hist(summary.tempos, bins=20, color="tab:purple")
    axes[1, 1].set_xlabel("tempo (quarter notes per minute)")
    axes[1, 1].set_title("tempo")
    total_minutes = sum(summary.seconds.values()) / 60
    figure.suptitle(f"{summary.root.name}: {sum(summary.songs.values())} songs, {total_minutes:.1f} minutes")
    figure.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=90)
    plt.close(figure)
    return path
