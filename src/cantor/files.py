"""Atomic file writes: write to a temporary file beside the target, rename when complete."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path


def make_folder(path: str | Path) -> Path:
    """``path`` and its parents created (if missing); a clear error when that is impossible (a file in the way, no
    permission, a full disk)."""
    from cantor.errors import CantorError

    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CantorError(f"{path}: cannot create this folder ({error.strerror or error})") from None
    return path


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on failure it is removed.

    The temporary name keeps the suffix so format-sniffing writers (soundfile, pretty_midi) still work.
    """
    path = Path(path)
    make_folder(path.parent)
    # A fresh random name, created by the writer itself, so the file gets the usual permissions (umask), not
    # mkstemp's 0600.
    tmp = path.with_name(f".{path.stem}.{secrets.token_hex(6)}.tmp{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def staged_folder(folder: str | Path) -> Iterator[Path]:
    """Yield a hidden staging folder beside ``folder``; on success it replaces ``folder`` whole, on failure it is
    removed — so ``folder`` is either complete or absent (or the old one), never half-written."""
    folder = Path(folder)
    staging = folder.with_name(f".{folder.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    make_folder(staging)
    try:
        yield staging
        if folder.exists():
            shutil.rmtree(folder)
        staging.rename(folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_text_atomic(path: str | Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json_atomic(path: str | Path, payload: object) -> Path:
    return write_text_atomic(path, json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
