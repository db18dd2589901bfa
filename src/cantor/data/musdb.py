"""MUSDB18's compressed release unpacked into the folder layout Cantor's readers take (MUSDB18-HQ's).

MUSDB18 ships each track as ``<split>/<track>.stem.mp4`` in Native Instruments' stems format: one MP4 holding five
AAC streams — the mixture, then drums, bass, other and vocals. :class:`~cantor.data.dataset.MultitrackDataset`,
training and the benchmarks read ``<split>/<track>/<stem>.wav|flac`` instead (seeking a crop by sample needs a
PCM file), so :func:`import_stem_files` decodes every stream once into that layout.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cantor.audio.decode import count_audio_streams, decode_to_file
from cantor.errors import CantorError, UsageError
from cantor.files import staged_folder

STEM_SUFFIX = ".stem.mp4"
MUSDB_STREAMS = ("mixture", "drums", "bass", "other", "vocals")
# FLAC: 24-bit integers, about half the size, but a loud master's decode can go past full scale and is clipped
# there (then the mixture is no longer quite the sum of its stems); WAV: 32-bit float, the decoder's samples exactly.
SUBTYPES = {"flac": "PCM_24", "wav": "FLOAT"}


@dataclass
class ImportReport:
    imported: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # complete from an earlier run
    failed: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)


def find_stem_files(source: Path) -> list[tuple[str, Path]]:
    """``(split, file)`` for every ``<split>/<track>.stem.mp4`` under ``source`` (MUSDB18's ``train`` and ``test``,
    or any other split folders), sorted."""
    if not source.is_dir():
        raise UsageError(f"{source}: not a folder (expected MUSDB18's <split>/<track>.stem.mp4)")
    found = [
        (split.name, path)
        for split in sorted(p for p in source.iterdir() if p.is_dir() and not p.name.startswith("."))
        for path in sorted(split.glob(f"*{STEM_SUFFIX}"))
    ]
    if not found:
        raise UsageError(f"{source}: no <split>/*{STEM_SUFFIX} files (MUSDB18's layout: train/ and test/)")
    return found


def import_stem_files(
    source: str | Path,
    target: str | Path,
    *,
    names: tuple[str, ...] = MUSDB_STREAMS,
    audio_format: str = "flac",
    on_plan: Callable[[int], None] | None = None,
    on_track: Callable[[str], None] | None = None,
) -> ImportReport:
    """Decode every ``source/<split>/<track>.stem.mp4`` into ``target/<split>/<track>/<name>.<format>``, stream
    ``i`` to ``names[i]``. A track's folder appears only when complete; complete ones are skipped, so a stopped
    import resumes; a file that fails is reported and the others still finish."""
    if audio_format not in SUBTYPES:
        raise UsageError(f"--format must be one of {', '.join(SUBTYPES)}, got {audio_format!r}")
    if len(set(names)) != len(names) or "mixture" not in names:
        raise UsageError(f"stream names must be distinct and include 'mixture', got {', '.join(names)}")
    files = find_stem_files(Path(source))
    if on_plan:
        on_plan(len(files))
    report = ImportReport()
    for split, path in files:
        track = path.name[: -len(STEM_SUFFIX)]
        folder = Path(target) / split / track
        if all((folder / f"{name}.{audio_format}").is_file() for name in names):
            report.skipped.append(track)
        else:
            try:
                _import_one(path, folder, names, audio_format)
                report.imported.append(track)
            except CantorError as error:
                report.failed.append((str(path), str(error)))
        if on_track:
            on_track(track)
    return report


def _import_one(path: Path, folder: Path, names: tuple[str, ...], audio_format: str) -> None:
    streams = count_audio_streams(path)
    if streams != len(names):
        raise CantorError(f"{path}: {streams} audio streams, expected {len(names)} ({', '.join(names)})")
    with staged_folder(folder) as staging:
        for index, name in enumerate(names):
            decode_to_file(path, staging / f"{name}.{audio_format}", stream=index, subtype=SUBTYPES[audio_format])
