"""Labelled multitrack data: corpus, arranging, rendering, manifests, datasets."""

from cantor.data.build import BuildConfig, build_dataset, read_manifest
from cantor.data.dataset import MultitrackDataset

__all__ = ["BuildConfig", "MultitrackDataset", "build_dataset", "read_manifest"]
