"""``Analyzer``: separate a track, then describe every stem — instrument, pitch, notes, sections.

>>> from cantor import Analyzer
>>> analysis = Analyzer().analyze(audio, sample_rate=44100)    # doctest: +SKIP
>>> analysis.stems["melody"].family                             # doctest: +SKIP
'reed'

The CLI (``cantor analyze``) and the web studio call :meth:`Analyzer.analyze_file`, which streams: the stems are
separated to disk and each is then described 40 s at a time, so memory stays flat however long the track.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from cantor.analysis.notes import Note, PitchTrack, StreamingTranscription
from cantor.analysis.sections import SectionFeatures, Sections
from cantor.data.instruments import DRUM_PROGRAM_LABEL, DRUMS_FAMILY, instrument_name
from cantor.errors import AudioError
from cantor.features.cqt import CQTConfig, cqt_frames
from cantor.inference.chunked import FreedMemory
from cantor.models.instrument import INSTRUMENT_KIND, InstrumentClassifier, InstrumentClassifierConfig
from cantor.models.registry import resolve_model
from cantor.models.transcriber import NOTE_OUTPUTS, TRANSCRIBER_KIND, Transcriber, TranscriberConfig
from cantor.models.weights import load_weights

Progress = Callable[[str, float], None]  # told which step runs and how far it is (0–1)
Reader = Callable[[int, int], torch.Tensor | np.ndarray]  # (start, stop) → samples [channels, stop - start]

OVERVIEW_COLUMNS = 2000  # time columns of the CQT kept for pictures: enough for a page-wide image
TRANSCRIBER_SECONDS = 20.0  # the transcriber's piece of a block
TRANSCRIBER_CONTEXT_SECONDS = 2.0  # each side of a piece: the transcriber's LSTM settles within it
WINDOWS_PER_BLOCK = 8  # classifier windows (5 s) per block of analysis


@dataclass
class StemAnalysis:
    """Everything Cantor found in one stem."""

    name: str
    family: str
    family_probability: float
    instruments: list[dict]  # top 3: {"program", "name", "probability"}
    segments: list[dict]  # per window: {"start", "end", "family", "instrument"}
    notes: list[Note]
    pitch: PitchTrack | None  # None for drums
    sections: Sections
    overview: np.ndarray = field(repr=False)  # [bins, ≤ OVERVIEW_COLUMNS] CQT magnitude, max over time, for pictures

    @property
    def pitched(self) -> bool:
        return self.family != DRUMS_FAMILY

    @property
    def program(self) -> int:
        return int(self.instruments[0]["program"]) if self.instruments else 0

    def to_dict(self) -> dict:
        return {
            "family": self.family,
            "family_probability": round(self.family_probability, 3),
            "instruments": self.instruments,
            "segments": self.segments,
            "f0": self.pitch.summary() if self.pitch is not None else None,
            "notes": [note.to_dict() for note in self.notes],
            "sections": self.sections.to_dict(),
        }


@dataclass
class Analysis:
    """A track's stems (``{name: StemAnalysis}``) and its sections; ``stem_audio`` holds the separated audio of an
    in-memory analysis (:meth:`Analyzer.analyze`), ``None`` where the stems went straight to disk."""

    sample_rate: int
    duration: float
    stems: dict[str, StemAnalysis]
    sections: Sections
    stem_audio: dict[str, torch.Tensor] | None = field(default=None, repr=False)
    cqt_config: CQTConfig = field(default_factory=CQTConfig, repr=False)

    def to_dict(self) -> dict:
        return {
            "duration": round(self.duration, 3),
            "sections": self.sections.to_dict(),
            "stems": {name: stem.to_dict() for name, stem in self.stems.items()},
        }


class Analyzer:
    """Separates (optionally) and analyses audio.

    Args:
        separator: separator for :meth:`analyze` with ``separate=True`` (shipped name or folder).
        transcriber: note transcriber (shipped name or folder).
        classifier: instrument classifier (shipped name or folder).
        segment_seconds: window of the per-segment instrument labels.
    """

    def __init__(
        self,
        separator: str | Path = "band",
        *,
        transcriber: str | Path = "notes",
        classifier: str | Path = "instruments",
        segment_seconds: float = 5.0,
    ) -> None:
        self.separator_name = separator
        self._separator = None
        self.transcriber, _ = load_weights(
            resolve_model(transcriber, kind=TRANSCRIBER_KIND),
            kind=TRANSCRIBER_KIND,
            build=lambda c: Transcriber(TranscriberConfig.from_dict(c)),
        )
        self.classifier, _ = load_weights(
            resolve_model(classifier, kind=INSTRUMENT_KIND),
            kind=INSTRUMENT_KIND,
            build=lambda c: InstrumentClassifier(InstrumentClassifierConfig.from_dict(c)),
        )
        self.transcriber.eval()
        self.classifier.eval()
        if self.transcriber.config.cqt != self.classifier.config.cqt:
            raise AudioError("the transcriber and the classifier were trained on different CQT settings")
        self.cqt_config: CQTConfig = self.transcriber.config.cqt
        self.segment_seconds = segment_seconds

    @property
    def separator(self):
        if self._separator is None:
            from cantor.inference.separate import Separator

            self._separator = Separator(self.separator_name)
        return self._separator

    def analyze(
        self,
        audio: torch.Tensor | np.ndarray,
        sample_rate: int,
        *,
        separate: bool = True,
        name: str = "mix",
        progress: Progress | None = None,
    ) -> Analysis:
        """``audio`` ``[channels, time]`` or ``[time]`` in memory → :class:`Analysis`. Without ``separate`` the whole
        input is analysed as one stem called ``name``."""
        audio = torch.as_tensor(audio, dtype=torch.float32)
        if audio.ndim == 1:
            audio = audio[None]
        if audio.ndim != 2 or audio.shape[-1] == 0:
            raise AudioError(f"audio must have shape [channels, time > 0], got {tuple(audio.shape)}")
        if not torch.isfinite(audio).all():
            raise AudioError("audio contains NaN or infinite samples")
        steps = self._steps(progress, separate, name)
        if separate:
            stems = self.separator.separate(audio, sample_rate, progress=steps.samples("separating", audio.shape[-1]))
        else:
            stems = {name: audio}
        readers = {stem: _memory_reader(signal) for stem, signal in stems.items()}
        whole = _memory_reader(audio) if separate else None
        analysis = self._analyze_readers(readers, whole, audio.shape[-1], sample_rate, steps)
        analysis.stem_audio = stems
        return analysis

    def analyze_file(
        self,
        path: str | Path,
        folder: str | Path,
        *,
        separate: bool = True,
        title: str | None = None,
        overwrite: bool = False,
        progress: Progress | None = None,
    ) -> Analysis:
        """Analyse an audio file of any length into ``folder`` (its :data:`~cantor.analysis.report.OUTPUT_FILES` and
        ``stems/<stem>.wav``), with memory flat in its duration: the stems are separated to disk and read back 40 s
        at a time."""
        from cantor.analysis.report import write_results
        from cantor.audio.decode import readable
        from cantor.audio.io import audio_info, resample_file
        from cantor.errors import CantorError
        from cantor.files import staged_folder

        path, folder = Path(path), Path(folder)
        if folder.exists() and not overwrite:
            raise CantorError(f"{folder} exists; pass --overwrite to replace it")
        audio_info(path)  # (a bad file fails here, before the staging folder exists)
        steps = self._steps(progress, separate, "mix")
        with staged_folder(folder) as staging, readable(path, staging) as source:
            info = audio_info(source)
            stems_folder = staging / "stems"
            if separate:
                written = self.separator.separate_file(
                    source, staging, progress=steps.samples("separating", info.frames)
                )
                next(iter(written.values())).parent.rename(stems_folder)
            else:
                stems_folder.mkdir()
                written = {"mix": resample_file(source, stems_folder / "mix.wav", target_sample_rate=info.samplerate)}
            readers = {name: _file_reader(stems_folder / stem.name) for name, stem in written.items()}
            whole = _file_reader(source) if separate else None
            analysis = self._analyze_readers(readers, whole, info.frames, info.samplerate, steps)
            steps.share("writing the report")(1.0)
            write_results(analysis, staging, title=title or path.stem)
        return analysis

    def _steps(self, progress: Progress | None, separate: bool, name: str) -> _Steps:
        """The job's steps, weighted by their rough cost on a CPU: separating ≈ describing one stem, and the
        mixture's sections (no transcriber) a third of that."""
        weights = {"separating": 1.0, **dict.fromkeys(self.separator.sources, 1.0)} if separate else {name: 1.0}
        if separate:
            weights["finding sections"] = 0.3
        return _Steps(progress, {**weights, "writing the report": 0.1})

    def analyze_stem(self, name: str, audio: torch.Tensor | np.ndarray, sample_rate: int) -> StemAnalysis:
        """One stem ``[channels, time]`` or ``[time]`` in memory, without separating it."""
        audio = torch.as_tensor(audio, dtype=torch.float32)
        audio = audio[None] if audio.ndim == 1 else audio
        return self._analyze_signal(name, _memory_reader(audio), audio.shape[-1], sample_rate)

    def classify(self, cqt: np.ndarray) -> tuple[str, float, list[dict], list[dict]]:
        """A whole CQT ``[bins, frames]`` → its family, that family's probability, the top-3 programs and the
        per-window labels."""
        windows = self._windows(cqt.shape[1])
        outputs = [self._classify_window(cqt[:, start:stop])[:2] for start, stop in windows]
        return self._summarise(windows, outputs)

    def _analyze_readers(
        self,
        readers: dict[str, Reader],
        whole: Reader | None,
        samples: int,
        sample_rate: int,
        steps: _Steps,
    ) -> Analysis:
        """Each stem's analysis, and the track's sections (from ``whole``, the mixture, if given, else the one
        stem's)."""
        results = {}
        for name, read in readers.items():
            results[name] = self._analyze_signal(
                name, read, samples, sample_rate, steps.share(f"analysing {name}", name)
            )
        if whole is not None:
            sections = self._analyze_signal(
                "mix", whole, samples, sample_rate, steps.share("finding sections"), transcribe=False
            ).sections
        else:
            sections = next(iter(results.values())).sections
        return Analysis(
            sample_rate=sample_rate,
            duration=samples / sample_rate,
            stems=results,
            sections=sections,
            cqt_config=self.cqt_config,
        )

    def _analyze_signal(
        self,
        name: str,
        read: Reader,
        samples: int,
        sample_rate: int,
        progress: Callable[[float], None] | None = None,
        *,
        transcribe: bool = True,
    ) -> StemAnalysis:
        """One signal, block by block: each block's CQT (with context for the transcriber) feeds the classifier
        windows inside it, the sections' running means and the streaming note decoder, then is dropped."""
        config = self.cqt_config
        fps = config.frames_per_second
        frames = config.frames(samples, sample_rate)
        windows = self._windows(frames)
        # a multiple of the window step, so no window straddles two blocks
        block = WINDOWS_PER_BLOCK * self._window_step
        piece = int(TRANSCRIBER_SECONDS * fps)
        context = int(TRANSCRIBER_CONTEXT_SECONDS * fps) if transcribe else 0
        sections = SectionFeatures(frames, config)
        overview = _Overview(config.n_bins, frames)
        notes = StreamingTranscription(config, frames)
        window_outputs = []
        memory = FreedMemory()
        for first in range(0, frames, block):
            last = min(first + block, frames)
            lo, hi = max(0, first - context), min(frames, last + context)
            cqt = cqt_frames(read, samples, sample_rate, lo, hi, config)
            core = cqt[:, first - lo : last - lo]
            sections.add_cqt(core, first)
            overview.add(core, first)
            for start, stop in windows:
                if first <= start < last:
                    family, program, embedding = self._classify_window(cqt[:, start - lo : stop - lo])
                    window_outputs.append((family, program))
                    sections.add_embedding(embedding, start / fps, stop / fps)
            # the transcriber takes a block in 20-s pieces, each with its own context: its activations (16
            # channels × 264 bins a frame) would cost 300 MB for a whole block
            for start in range(first, last, piece) if transcribe else ():
                stop = min(start + piece, last)
                low, high = max(lo, start - context), min(hi, stop + context)
                posteriors = self._transcribe(cqt[:, low - lo : high - lo])[:, :, start - low : stop - low]
                notes.push(posteriors[0], posteriors[1], cqt[:, start - lo : stop - lo])
            memory.after_chunk()
            if progress:
                progress(last / frames)
        memory.release()
        family, family_probability, instruments, segments = self._summarise(windows, window_outputs)
        found, pitch = notes.result() if transcribe and family != DRUMS_FAMILY else ([], None)
        return StemAnalysis(
            name=name,
            family=family,
            family_probability=family_probability,
            instruments=instruments,
            segments=segments,
            notes=found,
            pitch=pitch,
            sections=sections.sections(),
            overview=overview.columns,
        )

    # --- the models ---------------------------------------------------------------------------------------------

    def _transcribe(self, cqt: np.ndarray) -> np.ndarray:
        """Posteriors ``[3 (onset, frame, offset), 88, frames]`` of a CQT block."""
        with torch.inference_mode():
            logits = self.transcriber(torch.from_numpy(np.ascontiguousarray(cqt))[None])
            return torch.stack([torch.sigmoid(logits[name][0]) for name in NOTE_OUTPUTS]).numpy()

    def _classify_window(self, cqt: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Family and program probabilities of one window ``[bins, frames]``, and its timbre embedding
        ``[hidden, frames']``; zero-padded to what the classifier's pooling needs (very short inputs)."""
        shortfall = 2 * self.classifier.time_stride - cqt.shape[1]
        if shortfall > 0:
            cqt = np.pad(cqt, ((0, 0), (0, shortfall)))
        with torch.inference_mode():
            family_logits, program_logits, features = self.classifier.classify(
                torch.from_numpy(np.ascontiguousarray(cqt))[None]
            )
        return (
            torch.softmax(family_logits[0], -1).numpy(),
            torch.softmax(program_logits[0], -1).numpy(),
            features[0].numpy().T,
        )

    @property
    def _window_step(self) -> int:
        """Frames of one classifier window (``segment_seconds``)."""
        return max(1, int(self.segment_seconds * self.cqt_config.frames_per_second))

    def _windows(self, frames: int) -> list[tuple[int, int]]:
        step = self._window_step
        starts = list(range(0, max(frames - step // 2, 1), step))
        return [(start, min(start + step, frames)) for start in starts]

    def _summarise(
        self, windows: list[tuple[int, int]], outputs: list[tuple[np.ndarray, np.ndarray]]
    ) -> tuple[str, float, list[dict], list[dict]]:
        """The stem's family and top-3 programs (window probabilities averaged) and per-window labels."""
        families = self.classifier.config.families
        fps = self.cqt_config.frames_per_second
        family_mean = np.mean([family for family, _ in outputs], axis=0)
        program_mean = np.mean([program for _, program in outputs], axis=0)
        best_family = int(family_mean.argmax())
        instruments = [_instrument(int(p), float(program_mean[p])) for p in np.argsort(program_mean)[::-1][:3]]
        segments = [
            {
                "start": round(start / fps, 3),
                "end": round(stop / fps, 3),
                "family": families[int(f.argmax())],
                "instrument": _instrument(int(p.argmax()), float(p.max()))["name"],
            }
            for (start, stop), (f, p) in zip(windows, outputs, strict=True)
        ]
        return families[best_family], float(family_mean[best_family]), instruments, segments


class _Steps:
    """Turns each step's own progress (0–1) into the whole job's, for one progress bar over all of them."""

    def __init__(self, progress: Progress | None, weights: dict[str, float]) -> None:
        self.progress = progress
        total, done = sum(weights.values()), 0.0
        self.spans: dict[str, tuple[float, float]] = {}
        for name, weight in weights.items():
            self.spans[name] = (done / total, weight / total)
            done += weight

    def share(self, label: str, step: str | None = None) -> Callable[[float], None]:
        offset, weight = self.spans.get(step or label, (0.0, 0.0))
        if self.progress is None:
            return lambda share: None
        return lambda share: self.progress(label, min(1.0, offset + weight * share))

    def samples(self, label: str, total: int) -> Callable[[int], None]:
        """A callback counting finished samples (the separator's kind) out of ``total``."""
        report, done = self.share(label), [0]

        def advance(samples: int) -> None:
            done[0] += samples
            report(done[0] / max(total, 1))

        return advance


class _Overview:
    """A CQT ``[bins, frames]`` max-pooled in time to at most :data:`OVERVIEW_COLUMNS` columns, block by block."""

    def __init__(self, bins: int, frames: int) -> None:
        self.pool = max(1, -(-frames // OVERVIEW_COLUMNS))
        self.columns = np.zeros((bins, -(-frames // self.pool)), np.float32)

    def add(self, cqt: np.ndarray, first_frame: int) -> None:
        column = (first_frame + np.arange(cqt.shape[1])) // self.pool
        np.maximum.at(self.columns.T, column, cqt.T)


def _memory_reader(audio: torch.Tensor) -> Reader:
    return lambda start, stop: audio[:, start:stop]


def _file_reader(path: Path) -> Reader:
    from cantor.audio.io import read_array

    return lambda start, stop: read_array(path, start=start, frames=stop - start)[0].T


def _instrument(label: int, probability: float) -> dict:
    drum = label == DRUM_PROGRAM_LABEL
    return {
        "program": 0 if drum else label,
        "is_drum": drum,
        "name": "Drum kit" if drum else instrument_name(label),
        "probability": round(probability, 3),
    }


def analyze(audio: torch.Tensor | np.ndarray, sample_rate: int, *, separate: bool = True) -> Analysis:
    """Analyse ``audio`` with the shipped models: ``cantor.analyze(audio, 44100).stems["bass"].notes``."""
    return Analyzer().analyze(audio, sample_rate, separate=separate)
