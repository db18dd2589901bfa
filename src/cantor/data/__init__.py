"""Labelled multitrack data: corpus, arranging, rendering, manifests, datasets."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cantor.data.build import BuildConfig, build_dataset, read_manifest

if TYPE_CHECKING:
    from cantor.data.dataset import MultitrackDataset

__all__ = ["BuildConfig", "MultitrackDataset", "build_dataset", "read_manifest"]


def __getattr__(name: str):
    # The reader needs torch (seconds to import); the data commands of the CLI do not.
    if name == "MultitrackDataset":
        from cantor.data.dataset import MultitrackDataset

        return MultitrackDataset
    raise AttributeError(f"module 'cantor.data' has no attribute {name!r}")
