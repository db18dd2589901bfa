"""From the transcriber's posteriors to pitch tracks, notes, MIDI and MusicXML.

Notes are decoded as in Onsets and Frames (Hawthorne et al. 2018): a note starts where its key's onset posterior
peaks above a threshold, and lasts while the frame posterior stays up — so a repeated note is two notes and a held
one is one; a sounding stretch with no onset near its start also becomes a note. The f0 track takes each voiced
frame's most probable key and refines it to cents on the CQT (parabolic interpolation of the log-magnitude peak
within that key's bins).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pretty_midi

from cantor.features.cqt import CQTConfig


@dataclass(frozen=True)
class Note:
    start: float  # seconds
    end: float
    pitch: int  # MIDI
    velocity: int

    def to_dict(self) -> dict:
        start, end = round(self.start, 4), round(self.end, 4)
        return {"start": start, "end": end, "pitch": self.pitch, "velocity": self.velocity}


@dataclass(frozen=True)
class PitchTrack:
    """``times`` ``[frames]`` seconds; ``f0`` Hz (NaN where unvoiced); ``confidence`` in [0, 1]."""

    times: np.ndarray
    f0: np.ndarray
    confidence: np.ndarray

    def summary(self) -> dict:
        voiced = np.isfinite(self.f0)
        if not voiced.any():
            return {"voiced_share": 0.0}
        midi = pretty_midi.hz_to_note_number(self.f0[voiced])
        return {
            "voiced_share": round(float(voiced.mean()), 3),
            "median_hz": round(float(np.median(self.f0[voiced])), 2),
            "range": [pretty_midi.note_number_to_name(int(round(v))) for v in np.percentile(midi, [5, 95])],
            "mean_confidence": round(float(self.confidence[voiced].mean()), 3),
        }


def decode_notes(
    onset: np.ndarray,
    frame: np.ndarray,
    cqt: np.ndarray | None,
    config: CQTConfig,
    *,
    onset_threshold: float = 0.5,
    frame_threshold: float = 0.3,
    min_duration: float = 0.05,
) -> list[Note]:
    """Posteriors ``[88, frames]`` (probabilities) → notes sorted by start; velocity from the CQT level if given."""
    fps = config.frames_per_second
    semitones, frames = frame.shape
    notes = []
    for key in range(semitones):
        active = frame[key] >= frame_threshold
        starts = set(_onset_peaks(onset[key], onset_threshold))
        # A stretch of sounding frames with no onset near its start is a note too (a soft attack, a bowed or
        # blown note that swells in): basic-pitch's rule. Without it, a missed onset loses the whole note.
        rises = np.flatnonzero(active & ~np.concatenate([[False], active[:-1]]))
        starts.update(int(r) for r in rises if not any(abs(r - s) <= 2 for s in starts))
        starts = sorted(starts)
        for index, first in enumerate(starts):
            limit = starts[index + 1] if index + 1 < len(starts) else frames
            last = first + 1
            while last < limit and active[last]:
                last += 1
            if (last - first) / fps < min_duration:
                continue
            pitch = config.lowest_midi + key
            velocity = _velocity(cqt, config, key, first, last) if cqt is not None else 90
            notes.append(Note(first / fps, last / fps, pitch, velocity))
    return sorted(notes, key=lambda n: (n.start, n.pitch))


def _onset_peaks(curve: np.ndarray, threshold: float) -> list[int]:
    """Local maxima above ``threshold``; on a plateau, its first frame."""
    above = curve >= threshold
    previous = np.concatenate([[-np.inf], curve[:-1]])
    following = np.concatenate([curve[1:], [-np.inf]])
    return list(np.flatnonzero(above & (curve > previous) & (curve >= following)))


def _velocity(cqt: np.ndarray, config: CQTConfig, key: int, first: int, last: int) -> int:
    centre = key * config.bins_per_semitone + config.bins_per_semitone // 2
    level = cqt[centre, first : min(last, first + 4)].max()
    decibels = 20 * np.log10(max(float(level), 1e-6))
    # A CQT magnitude of ~1 is a loud note, ~0.01 a quiet one: map -40..0 dB onto velocities 30..127.
    return int(np.clip(127 + (decibels / 40) * 97, 1, 127))


def pitch_track(
    frame: np.ndarray,
    cqt: np.ndarray,
    config: CQTConfig,
    *,
    notes: Sequence[Note] = (),
    voicing_threshold: float = 0.5,
) -> PitchTrack:
    """The predominant pitch per frame, refined to cents: frame posteriors ``[88, N]`` and CQT ``[bins, N]``.

    A frame is voiced where a decoded note sounds (its pitch, the highest where notes overlap) or, between notes,
    where the most probable key passes ``voicing_threshold``: the f0 line then agrees with the notes, also where a
    decaying note's frame posterior has faded before its decoded end.
    """
    frames = frame.shape[1]
    keys = frame.argmax(axis=0)
    confidence = frame.max(axis=0)
    times = np.arange(frames) / config.frames_per_second
    voiced = confidence >= voicing_threshold
    for note in sorted(notes, key=lambda n: n.pitch):  # higher notes overwrite lower ones
        first = int(round(note.start * config.frames_per_second))
        last = min(int(round(note.end * config.frames_per_second)), frames)
        keys[first:last] = note.pitch - config.lowest_midi
        voiced[first:last] = True
    f0 = np.full(frames, np.nan)
    per_semitone = config.bins_per_semitone
    log_cqt = np.log(np.maximum(cqt[:, :frames], 1e-9))
    for n in np.flatnonzero(voiced):
        centre = keys[n] * per_semitone + per_semitone // 2
        low, high = max(centre - per_semitone // 2 - 1, 1), min(centre + per_semitone // 2 + 1, cqt.shape[0] - 2)
        peak = low + int(np.argmax(log_cqt[low : high + 1, n]))
        left, middle, right = log_cqt[peak - 1 : peak + 2, n]
        curvature = left - 2 * middle + right
        shift = 0.5 * (left - right) / curvature if curvature < 0 else 0.0
        f0[n] = pretty_midi.note_number_to_hz(float(config.bin_to_midi(peak + np.clip(shift, -0.5, 0.5))))
    return PitchTrack(times=times, f0=f0, confidence=confidence)


def notes_to_midi(tracks: dict[str, tuple[list[Note], int, bool]]) -> pretty_midi.PrettyMIDI:
    """``{stem: (notes, program, is_drum)}`` → one MIDI track per stem, named after it."""
    midi = pretty_midi.PrettyMIDI()
    for name, (notes, program, is_drum) in tracks.items():
        instrument = pretty_midi.Instrument(program=program, is_drum=is_drum, name=name)
        instrument.notes = [pretty_midi.Note(n.velocity, n.pitch, n.start, max(n.end, n.start + 0.01)) for n in notes]
        midi.instruments.append(instrument)
    return midi


def midi_to_musicxml(midi_path: Path, target: Path) -> Path:
    """A MusicXML score of a MIDI file, quantised by music21 to sixteenths and triplet eighths."""
    import music21

    score = music21.converter.parse(str(midi_path), quantizePost=True, quarterLengthDivisors=(4, 3))
    written = score.write("musicxml", fp=str(target))
    return Path(written)
