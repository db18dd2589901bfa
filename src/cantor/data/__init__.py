"""Labelled multitrack data: corpus, arranging, rendering, manifests, datasets."""

from __future__ import annotations

import contextlib
import io
from typing import TYPE_CHECKING

# pyfluidsynth, which pretty_midi imports, prints where it found libfluidsynth whenever $CI is set. That line would
# land in the middle of Cantor's own output (and in anything piped from it), so it is imported first, quietly.
# Without libfluidsynth the import fails; the renderer says so, with the fix, when it is needed.
with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(ImportError):
    import fluidsynth  # noqa: F401

if TYPE_CHECKING:
    from cantor.data.build import BuildConfig, build_dataset, read_manifest
    from cantor.data.dataset import MultitrackDataset

__all__ = ["BuildConfig", "MultitrackDataset", "build_dataset", "read_manifest"]


def __getattr__(name: str):
    # Imported on first use: the builder pulls in the audio stack and the reader torch, and the symbolic side of
    # Cantor (the generator) needs neither.
    if name in ("BuildConfig", "build_dataset", "read_manifest"):
        from cantor.data import build

        return getattr(build, name)
    if name == "MultitrackDataset":
        from cantor.data.dataset import MultitrackDataset

        return MultitrackDataset
    raise AttributeError(f"module 'cantor.data' has no attribute {name!r}")
