"""Separating a library: many files, in this process or in worker processes, with one stream of progress.

Each worker process builds its own :class:`~cantor.inference.separate.Separator` once and takes files as they
come; the finished samples of every file flow back through a queue, so one progress bar covers the whole run.
A file that fails is yielded with its error and the rest go on; a finished track is skipped on the next run
(:meth:`Separator.separate_file` leaves a track's folder complete or absent), so a killed run resumes.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from cantor.errors import CantorError

Progress = Callable[[int], None]  # samples just finished, of any file


@dataclass(frozen=True)
class SeparationJob:
    """What every file of a run is separated with; it travels to the worker processes, which build the model."""

    model: str = "band"
    segment_seconds: float = 10.0
    overlap: float = 0.0
    wiener_iterations: int = 0
    stems: tuple[str, ...] | None = None
    audio_format: str = "wav"
    overwrite: bool = False
    device: str = "cpu"
    precision: str = "auto"

    def separator(self):
        from cantor.inference.separate import Separator

        return Separator(
            self.model,
            segment_seconds=self.segment_seconds,
            overlap=self.overlap,
            wiener_iterations=self.wiener_iterations,
            device=self.device,
            precision=self.precision,
        )

    def check(self) -> str:
        """Build the model once and check the stems: a bad model, stem or option fails here, before any worker
        starts. Returns the model's name."""
        from cantor.inference.separate import check_format

        check_format(self.audio_format)
        separator = self.separator()
        separator.check_stems(self.stems)
        return separator.name

    def run(self, separator, source: Path, out_dir: Path, progress: Progress | None) -> dict[str, Path]:
        return separator.separate_file(
            source,
            out_dir,
            stems=self.stems,
            audio_format=self.audio_format,
            overwrite=self.overwrite,
            progress=progress,
        )


def separate_files(
    items: list[tuple[Path, Path]],
    job: SeparationJob,
    *,
    workers: int = 1,
    threads: int | None = None,
    progress: Progress | None = None,
) -> Iterator[tuple[Path, dict[str, Path] | CantorError]]:
    """Separate each ``(source, out_dir)``; yield ``(source, written paths or the error)`` as each finishes.

    ``workers`` processes (1: this one) with ``threads`` torch threads each (default: the cores shared out).
    """
    import torch

    if workers <= 1 or len(items) <= 1:
        if threads:
            torch.set_num_threads(threads)
        separator = job.separator()
        for source, out_dir in items:
            try:
                yield source, job.run(separator, source, out_dir, progress)
            except CantorError as error:
                yield source, error
        return
    threads = threads or max(1, (os.cpu_count() or 1) // workers)
    context = multiprocessing.get_context("spawn")  # never fork a process whose torch threads are running
    finished: multiprocessing.Queue = context.Queue()
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_start_worker, initargs=(job, threads, finished)
    ) as pool:
        pending = {pool.submit(_separate_in_worker, source, out_dir): source for source, out_dir in items}
        while pending:
            done, _ = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
            _drain(finished, progress)
            for future in done:
                source = pending.pop(future)
                try:
                    yield source, future.result()
                except BrokenProcessPool:
                    yield source, CantorError(f"{source}: a worker process died (out of memory?); run again to resume")
        _drain(finished, progress)


def _drain(finished: multiprocessing.Queue, progress: Progress | None) -> None:
    while True:
        try:
            samples = finished.get_nowait()
        except queue.Empty:
            return
        if progress:
            progress(samples)


@dataclass
class _Worker:
    job: SeparationJob
    separator: object
    finished: multiprocessing.Queue


_worker: _Worker | None = None  # one per worker process: its model is loaded once, not per file


def _start_worker(job: SeparationJob, threads: int, finished: multiprocessing.Queue) -> None:
    import torch

    global _worker
    torch.set_num_threads(threads)
    _worker = _Worker(job, job.separator(), finished)


def _separate_in_worker(source: Path, out_dir: Path) -> dict[str, Path] | CantorError:
    assert _worker is not None, "the worker initializer did not run"
    try:
        return _worker.job.run(_worker.separator, source, out_dir, _worker.finished.put)
    except CantorError as error:  # returned, not raised: an error's own pickling must not decide what is reported
        return CantorError(str(error))
