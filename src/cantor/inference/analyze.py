"""``Analyzer``: separate a track, then describe every stem — instrument, pitch, notes, sections.

>>> from cantor import Analyzer
>>> analysis = Analyzer().analyze(audio, sample_rate=44100)    # doctest: +SKIP
>>> analysis.stems["melody"].family                             # doctest: +SKIP
'reed'

The CLI (``cantor analyze``) and the web studio call this class; :func:`write_analysis` writes its files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from cantor.analysis.notes import Note, PitchTrack, decode_notes, pitch_track
from cantor.analysis.sections import Sections, track_sections
from cantor.data.instruments import DRUM_PROGRAM_LABEL, DRUMS_FAMILY, instrument_name
from cantor.errors import AudioError
from cantor.features.cqt import CQTConfig, cqt_magnitude
from cantor.inference.chunked import apply_chunked, plan_chunks
from cantor.models.instrument import INSTRUMENT_KIND, InstrumentClassifier, InstrumentClassifierConfig
from cantor.models.registry import resolve_model
from cantor.models.transcriber import NOTE_OUTPUTS, TRANSCRIBER_KIND, Transcriber, TranscriberConfig
from cantor.models.weights import load_weights

Progress = Callable[[str], None]  # told which step starts


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
    cqt: np.ndarray = field(repr=False)  # [bins, frames] magnitude, for the report
    frame_probabilities: np.ndarray | None = field(default=None, repr=False)  # [88, frames]

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
    """A track's stems (``{name: StemAnalysis}``), its sections, and the audio that was analysed."""

    sample_rate: int
    duration: float
    stems: dict[str, StemAnalysis]
    sections: Sections
    stem_audio: dict[str, torch.Tensor] = field(repr=False)
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
        """``audio`` ``[channels, time]`` or ``[time]`` → :class:`Analysis`. Without ``separate`` the whole input is
        analysed as one stem called ``name``."""
        audio = torch.as_tensor(audio, dtype=torch.float32)
        if audio.ndim == 1:
            audio = audio[None]
        if audio.ndim != 2 or audio.shape[-1] == 0:
            raise AudioError(f"audio must have shape [channels, time > 0], got {tuple(audio.shape)}")
        if not torch.isfinite(audio).all():
            raise AudioError("audio contains NaN or infinite samples")
        if separate:
            if progress:
                progress("separating")
            stems = self.separator.separate(audio, sample_rate)
        else:
            stems = {name: audio}
        results = {}
        for stem_name, stem_audio in stems.items():
            if progress:
                progress(f"analysing {stem_name}")
            results[stem_name] = self.analyze_stem(stem_name, stem_audio, sample_rate)
        if separate:
            whole = cqt_magnitude(audio, sample_rate, self.cqt_config)
            sections = track_sections(whole, self.cqt_config, embedding=self._embedding(whole))
        else:  # the one stem is the whole input: its sections are the track's (no second CQT and embedding)
            sections = results[name].sections
        return Analysis(
            sample_rate=sample_rate,
            duration=audio.shape[-1] / sample_rate,
            stems=results,
            sections=sections,
            stem_audio=stems,
            cqt_config=self.cqt_config,
        )

    def analyze_stem(self, name: str, audio: torch.Tensor, sample_rate: int) -> StemAnalysis:
        config = self.cqt_config
        cqt = cqt_magnitude(audio, sample_rate, config)
        family, family_probability, instruments, segments = self.classify(cqt)
        notes: list[Note] = []
        pitch = None
        frame = None
        if family != DRUMS_FAMILY:
            probabilities = self._transcribe(cqt)
            onset, frame = probabilities["onset"], probabilities["frame"]
            notes = decode_notes(onset, frame, cqt, config)
            pitch = pitch_track(frame, cqt, config, notes=notes)
        sections = track_sections(cqt, config, embedding=self._embedding(cqt))
        return StemAnalysis(
            name=name,
            family=family,
            family_probability=family_probability,
            instruments=instruments,
            segments=segments,
            notes=notes,
            pitch=pitch,
            sections=sections,
            cqt=cqt,
            frame_probabilities=frame,
        )

    # --- the models ---------------------------------------------------------------------------------------------

    def _transcribe(self, cqt: np.ndarray) -> dict[str, np.ndarray]:
        """Posteriors ``{onset, frame, offset}`` ``[88, frames]``, in 20-s chunks with 2 s of context each side."""
        fps = round(self.cqt_config.frames_per_second)
        plan = plan_chunks(cqt.shape[1], sample_rate=fps, segment_seconds=20.0, receptive_field=2 * fps)

        def run(chunk: torch.Tensor, start: int) -> torch.Tensor:
            logits = self.transcriber(chunk[None])
            return torch.stack([torch.sigmoid(logits[name][0]) for name in NOTE_OUTPUTS])  # (3, 88, n)

        with torch.inference_mode():
            stacked = apply_chunked(run, torch.from_numpy(cqt), plan).numpy()
        return {name: stacked[index] for index, name in enumerate(NOTE_OUTPUTS)}

    def _window_input(self, cqt: np.ndarray, start: int, stop: int) -> torch.Tensor:
        """``[1, bins, frames]``, zero-padded to what the classifier's pooling needs (very short inputs)."""
        piece = cqt[:, start:stop]
        shortfall = 2 * self.classifier.time_stride - piece.shape[1]
        if shortfall > 0:
            piece = np.pad(piece, ((0, 0), (0, shortfall)))
        return torch.from_numpy(np.ascontiguousarray(piece))[None]

    def _windows(self, frames: int) -> list[tuple[int, int]]:
        step = max(1, int(self.segment_seconds * self.cqt_config.frames_per_second))
        starts = list(range(0, max(frames - step // 2, 1), step))
        return [(start, min(start + step, frames)) for start in starts]

    def classify(self, cqt: np.ndarray) -> tuple[str, float, list[dict], list[dict]]:
        """The stem's family and top-3 programs (window probabilities averaged) and per-window labels."""
        families = self.classifier.config.families
        fps = self.cqt_config.frames_per_second
        windows = self._windows(cqt.shape[1])
        family_probabilities, program_probabilities = [], []
        with torch.inference_mode():
            for start, stop in windows:
                family_logits, program_logits = self.classifier(self._window_input(cqt, start, stop))
                family_probabilities.append(torch.softmax(family_logits[0], -1).numpy())
                program_probabilities.append(torch.softmax(program_logits[0], -1).numpy())
        family_mean = np.mean(family_probabilities, axis=0)
        program_mean = np.mean(program_probabilities, axis=0)
        best_family = int(family_mean.argmax())
        instruments = [_instrument(int(p), float(program_mean[p])) for p in np.argsort(program_mean)[::-1][:3]]
        segments = [
            {
                "start": round(start / fps, 3),
                "end": round(stop / fps, 3),
                "family": families[int(f.argmax())],
                "instrument": _instrument(int(p.argmax()), float(p.max()))["name"],
            }
            for (start, stop), f, p in zip(windows, family_probabilities, program_probabilities, strict=True)
        ]
        return families[best_family], float(family_mean[best_family]), instruments, segments

    def _embedding(self, cqt: np.ndarray) -> np.ndarray:
        """The classifier's timbre embedding ``[hidden, frames']`` over the whole track, window by window."""
        pieces = []
        with torch.inference_mode():
            for start, stop in self._windows(cqt.shape[1]):
                features = self.classifier.frame_features(self._window_input(cqt, start, stop))
                pieces.append(features[0].numpy().T)
        return np.concatenate(pieces, axis=1)


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
