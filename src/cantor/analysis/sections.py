"""Sections by spectral clustering (Laplacian segmentation, McFee & Ellis 2014).

Segments (beats, or fixed windows where no beat is found) are described by timbre and chroma. Their affinity is a
mix of *recurrence* (segments that sound alike, anywhere in the track) and *succession* (neighbours in time, so
sections come out contiguous). The normalised Laplacian's first eigenvectors embed the segments; k-means on those
rows gives the section labels, with k chosen by the largest gap between consecutive eigenvalues unless given.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
from scipy.cluster.vq import kmeans2
from scipy.spatial.distance import cdist

from cantor.features.cqt import CQTConfig


@dataclass(frozen=True)
class Sections:
    """``boundaries`` in seconds (first 0, last the end); ``labels`` one letter per section."""

    boundaries: list[float]
    labels: list[str]

    def to_dict(self) -> list[dict]:
        return [
            {"start": round(start, 3), "end": round(end, 3), "label": label}
            for start, end, label in zip(self.boundaries[:-1], self.boundaries[1:], self.labels, strict=True)
        ]


def standardise(features: np.ndarray) -> np.ndarray:
    """Zero mean, unit variance per dimension, then unit length per row (cosine geometry)."""
    centred = (features - features.mean(axis=0)) / (features.std(axis=0) + 1e-8)
    return centred / (np.linalg.norm(centred, axis=1, keepdims=True) + 1e-8)


def spectral_sections(
    segments: np.ndarray,
    edges: np.ndarray,
    *,
    k: int | None = None,
    max_k: int = 6,
    neighbours: int | None = None,
    succession_weight: float = 0.5,
    min_segments: int = 3,
    seed: int = 0,
) -> Sections:
    """Cluster segment features ``[segments, dims]`` (spanning ``edges``, seconds) into contiguous sections."""
    count = len(segments)
    if count < 2:
        return Sections([float(edges[0]), float(edges[-1])], ["A"])
    neighbours = neighbours or max(2, int(round(2 * np.sqrt(count))))
    distances = cdist(segments, segments, "sqeuclidean")
    scale = np.median(np.sort(distances, axis=1)[:, 1 : neighbours + 1]) + 1e-9
    recurrence = np.exp(-distances / scale)
    # keep mutual nearest neighbours only: affinity between truly similar segments, not everything a little
    order = np.argsort(distances, axis=1)[:, : neighbours + 1]
    mask = np.zeros_like(recurrence, dtype=bool)
    np.put_along_axis(mask, order, True, axis=1)
    recurrence *= mask & mask.T
    np.fill_diagonal(recurrence, 0.0)
    succession = np.zeros_like(recurrence)
    steps = np.exp(-np.sum(np.diff(segments, axis=0) ** 2, axis=1) / scale)
    succession[np.arange(count - 1), np.arange(1, count)] = steps
    succession += succession.T
    affinity = (1 - succession_weight) * recurrence + succession_weight * succession
    degree = affinity.sum(axis=1) + 1e-9
    laplacian = np.eye(count) - affinity / np.sqrt(np.outer(degree, degree))
    eigenvalues, eigenvectors = scipy.linalg.eigh(laplacian)
    if k is None:
        gaps = np.diff(eigenvalues[: min(max_k, count - 1) + 1])
        k = int(np.argmax(gaps[1:]) + 2) if len(gaps) > 1 else 2
    k = max(1, min(k, count))
    embedding = eigenvectors[:, :k]
    embedding = embedding / (np.linalg.norm(embedding, axis=1, keepdims=True) + 1e-9)
    _, assignment = kmeans2(embedding, k, seed=seed, minit="++")
    return _runs(assignment, edges, min_segments=min_segments)


def _runs(assignment: np.ndarray, edges: np.ndarray, *, min_segments: int) -> Sections:
    """Contiguous runs of one cluster become sections; runs shorter than ``min_segments`` (a transition, a fill)
    join the section before them (the first one joins the next)."""
    runs: list[list[int]] = []  # [cluster, first segment, end segment]
    for index, cluster in enumerate(assignment):
        if runs and runs[-1][0] == cluster:
            runs[-1][2] = index + 1
        else:
            runs.append([int(cluster), index, index + 1])
    while len(runs) > 1:
        short = [i for i, (_, first, end) in enumerate(runs) if end - first < min_segments]
        if not short:
            break
        i = short[0]
        if i == 0:
            runs[1][1] = runs[0][1]
        else:
            runs[i - 1][2] = runs[i][2]
        del runs[i]
        merged = [runs[0]]  # neighbours of one cluster that now touch become one section
        for run in runs[1:]:
            if run[0] == merged[-1][0]:
                merged[-1][2] = run[2]
            else:
                merged.append(run)
        runs = merged
    names: dict[int, str] = {}
    labels = [names.setdefault(cluster, chr(ord("A") + len(names))) for cluster, _, _ in runs]
    boundaries = [float(edges[first]) for _, first, _ in runs] + [float(edges[-1])]
    return Sections(boundaries, labels)


def cqt_descriptors(cqt: np.ndarray, config: CQTConfig) -> np.ndarray:
    """Per-frame chroma (12, harmony) and a coarse log spectral envelope (one band per third of an octave, timbre)
    from a CQT magnitude ``[bins, frames]`` → ``[dims, frames]``. Each frame on its own, so blocks can be described
    one at a time (the envelope's scale does not matter: :func:`standardise` follows)."""
    per_semitone = config.bins_per_semitone
    keys = cqt.reshape(config.semitones, per_semitone, -1).sum(axis=1)  # (88, N)
    pitch_classes = (config.lowest_midi + np.arange(config.semitones)) % 12
    chroma = np.stack([keys[pitch_classes == c].sum(axis=0) for c in range(12)])
    chroma /= chroma.max(axis=0, keepdims=True) + 1e-9
    bands = keys[: config.semitones // 4 * 4].reshape(-1, 4, keys.shape[1]).mean(axis=1)
    return np.concatenate([chroma, np.log(bands + 1e-6)])


class SectionFeatures:
    """Per-segment means of a track's CQT descriptors and timbre embeddings, gathered block by block (so an
    hour-long track never needs its whole CQT), then clustered into :class:`Sections`.

    Segments are ``segment_seconds`` windows, longer where the track would have more than ``max_segments`` of
    them (the clustering holds several segments × segments matrices: an hour in 1-s segments would take about a
    gigabyte); the last runs to the end, and a stub shorter than a quarter window joins the one before it.
    """

    def __init__(
        self, frames: int, config: CQTConfig, *, segment_seconds: float = 1.0, max_segments: int = 600
    ) -> None:
        self.config = config
        self.duration = frames / config.frames_per_second
        segment_seconds = max(segment_seconds, self.duration / max_segments)
        self.too_short = self.duration < 2 * segment_seconds  # too short to have parts
        edges = np.arange(0.0, self.duration, segment_seconds)
        if len(edges) and self.duration - edges[-1] <= segment_seconds / 4:
            edges = edges[:-1]
        self.edges = np.append(edges, self.duration)
        self._sums: dict[str, np.ndarray] = {}
        self._counts: dict[str, np.ndarray] = {}

    def add_cqt(self, cqt: np.ndarray, first_frame: int) -> None:
        """A block of CQT frames ``[bins, n]`` starting at frame ``first_frame``."""
        times = (first_frame + np.arange(cqt.shape[1])) / self.config.frames_per_second
        self._add("cqt", cqt_descriptors(cqt, self.config), times)

    def add_embedding(self, embedding: np.ndarray, start: float, end: float) -> None:
        """Timbre embeddings ``[dims, n]`` spread evenly over ``start``–``end`` seconds."""
        if embedding.shape[1]:
            self._add(
                "embedding",
                embedding,
                start + (np.arange(embedding.shape[1]) + 0.5) * (end - start) / embedding.shape[1],
            )

    def _add(self, kind: str, features: np.ndarray, times: np.ndarray) -> None:
        if self.too_short:
            return
        if kind not in self._sums:
            self._sums[kind] = np.zeros((len(self.edges) - 1, features.shape[0]))
            self._counts[kind] = np.zeros(len(self.edges) - 1)
        segment = np.clip(np.searchsorted(self.edges, times, side="right") - 1, 0, len(self.edges) - 2)
        np.add.at(self._sums[kind], segment, features.T)
        np.add.at(self._counts[kind], segment, 1)

    def sections(self, k: int | None = None) -> Sections:
        if self.too_short or not self._sums:
            return Sections([0.0, self.duration], ["A"])
        parts = [standardise(self._sums[kind] / np.maximum(self._counts[kind], 1)[:, None]) for kind in self._sums]
        return spectral_sections(np.concatenate(parts, axis=1), self.edges, k=k)


def track_sections(
    cqt: np.ndarray,
    config: CQTConfig,
    *,
    embedding: np.ndarray | None = None,
    segment_seconds: float = 1.0,
    k: int | None = None,
) -> Sections:
    """Sections of one track from its whole CQT ``[bins, frames]`` and optional timbre embeddings ``[dims, frames']``
    (spread evenly over the same duration)."""
    features = SectionFeatures(cqt.shape[1], config, segment_seconds=segment_seconds)
    features.add_cqt(cqt, 0)
    if embedding is not None:
        features.add_embedding(embedding, 0.0, features.duration)
    return features.sections(k)
