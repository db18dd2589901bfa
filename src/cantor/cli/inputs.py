"""What the batch commands share: finding the audio files of a library, sharding them, reporting failures."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from rich.console import Console

from cantor.errors import CantorError, UsageError

Item = TypeVar("Item")


def expand_inputs(inputs: list[Path]) -> list[tuple[Path, Path]]:
    """Audio files, and the folder each one's results go to relative to the output: a folder given is searched
    recursively and its layout mirrored (``Artist/Album/01.wav`` → ``OUT/Artist/Album/01/``), so two tracks with
    one name in different albums never collide; a file given goes straight into the output.

    A file named twice is taken once; two files whose results would share a folder (``song.wav`` and
    ``song.flac``) are a usage error, raised before any work starts, rather than one overwriting the other.
    """
    from cantor.audio.io import READABLE_EXTENSIONS

    files: list[tuple[Path, Path]] = []
    for item in inputs:
        if item.is_dir():
            found = sorted(p for p in item.rglob("*") if p.suffix.lower() in READABLE_EXTENSIONS and p.is_file())
            files += [(path, path.parent.relative_to(item)) for path in found if not _hidden(path, item)]
        else:
            files.append((item, Path()))
    unique, seen = [], set()
    by_target: dict[Path, list[Path]] = {}
    for path, folder in files:
        if (resolved := path.resolve()) in seen:
            continue
        seen.add(resolved)
        unique.append((path, folder))
        by_target.setdefault(folder / path.stem, []).append(path)
    clashes = [paths for paths in by_target.values() if len(paths) > 1]
    if clashes:
        named = "; ".join(" and ".join(str(p) for p in paths) for paths in clashes)
        raise UsageError(f"these inputs would write to the same output folder: {named} (rename one, or run them apart)")
    return unique


def _hidden(path: Path, root: Path) -> bool:
    """Inside a hidden folder (``.partial`` staging of an interrupted run, ``.git``): not part of the library."""
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` → ``(K, N)`` with ``0 <= K < N``; a clear usage error otherwise."""
    number, _, count = text.partition("/")
    try:
        shard = int(number), int(count)
    except ValueError:
        shard = (-1, 0)
    if not 0 <= shard[0] < shard[1]:
        raise UsageError(f"--shard takes K/N with 0 <= K < N (e.g. 0/4 … 3/4), got {text!r}")
    return shard


def take_shard(items: list[Item], text: str) -> list[Item]:
    """Every N-th item from the K-th, for ``--shard K/N``: N machines split one sorted list between them."""
    number, count = parse_shard(text)
    return items[number::count]


def report_failures(console: Console, failures: list[tuple[Path, str]], total: int, where: Path) -> None:
    """One line per failed file, then an error (exit 1) if any failed; the others' results are in ``where``."""
    for path, reason in failures:
        console.print(f"[red]failed[/red] {reason if str(path) in reason else f'{path}: {reason}'}", soft_wrap=True)
    if failures:
        raise CantorError(f"{len(failures)} of {total} files failed; the others are in {where}")
