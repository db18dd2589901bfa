"""From the transcriber's posteriors to pitch tracks, notes, MIDI and MusicXML.

Notes are decoded as in Onsets and Frames (Hawthorne et al. 2018): a note starts where its key's onset posterior
peaks above a threshold, and lasts while the frame posterior stays up — so a repeated note is two notes and a held
one is one; a sounding stretch with no onset near its start also becomes a note. The f0 track takes each voiced
frame's most probable key and refines it to cents on the CQT (parabolic interpolation of the log-magnitude peak
within that key's bins).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pretty_midi

from cantor.features.cqt import CQTConfig

# Where decoded notes overlap, the f0 line follows the highest unless another's frame posterior beats it by this
# much. Chosen on the band and chorale validation splits (raw pitch accuracy 0.928 / 0.904 with the highest note
# always, 0.941 / 0.920 with the likeliest always, 0.941 / 0.919 with this margin): a small margin keeps the
# melody convention where the model hesitates.
OVERLAP_POSTERIOR_MARGIN = 0.1
# A frame whose most probable key stays below this is silence or noise: its pitch guess is the last voiced pitch (a
# decaying note still sounds to the listener, and its score still holds it), not whichever key the noise favours.
# Chosen on the band and chorale validation splits (raw pitch 0.959 → 0.962 and 0.9285 → 0.9285).
SILENT_CONFIDENCE = 0.1
# The refinement to cents follows a note's intonation (vibrato, a sample tuned a little off), which stays well inside
# its key; a CQT peak further than this from the key is the neighbouring key's bin (low notes, where the bins of
# adjacent semitones overlap), and the decoded key is the better judge. Chosen on the validation splits (raw pitch
# band 0.936 → 0.949, chorale 0.939 → 0.947; any cap from 30 to 49 cents gives the same).
MAX_CENTS_FROM_KEY = 45


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
    """``times`` ``[frames]`` seconds; ``f0`` Hz (NaN where unvoiced); ``confidence`` in [0, 1]; ``guess`` Hz in
    every frame (as CREPE and pYIN give one): ``f0`` where voiced, elsewhere the most probable key's pitch, or the
    last voiced pitch where no key is heard (``SILENT_CONFIDENCE``); to score pitch apart from voicing or to voice the
    track at another ``confidence``."""

    times: np.ndarray
    f0: np.ndarray
    confidence: np.ndarray
    guess: np.ndarray

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
    spans = _note_spans(onset, frame, cqt, config, onset_threshold, frame_threshold, min_duration)
    return sorted((_note(span, 0, config) for span in spans), key=lambda n: (n.start, n.pitch))


def _note_spans(onset, frame, cqt, config, onset_threshold, frame_threshold, min_duration) -> list[tuple[int, ...]]:
    """``(first frame, end frame, pitch, velocity)`` of each note, as :func:`decode_notes` describes."""
    fps = config.frames_per_second
    semitones, frames = frame.shape
    spans = []
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
            velocity = _velocity(cqt, config, key, first, last) if cqt is not None else 90
            spans.append((int(first), int(last), config.lowest_midi + key, velocity))
    return spans


def _note(span: tuple[int, ...], offset: int, config: CQTConfig) -> Note:
    first, last, pitch, velocity = span
    return Note(
        (first + offset) / config.frames_per_second, (last + offset) / config.frames_per_second, pitch, velocity
    )


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
    first_frame: int = 0,
    previous_pitch: float = np.nan,
) -> PitchTrack:
    """The predominant pitch per frame, refined to cents: frame posteriors ``[88, N]`` and CQT ``[bins, N]`` of the
    frames from ``first_frame`` on.

    A frame is voiced where a decoded note sounds (its pitch; where notes overlap, the highest, unless the frame
    posterior clearly favours another there, as a melody's new note outweighs the ringing of the one before) or,
    between notes, where the most probable key passes ``voicing_threshold``: the f0 line then agrees with the notes,
    also where a decaying note's frame posterior has faded before its decoded end. The pitch is refined to cents
    from the CQT peak near the frame's key, within ``MAX_CENTS_FROM_KEY`` of it. Unvoiced frames get a pitch guess:
    their most probable key, or where no key is heard (below ``SILENT_CONFIDENCE``) the last voiced pitch
    (``previous_pitch`` before the first frame).
    """
    frames = frame.shape[1]
    keys = frame.argmax(axis=0)
    confidence = frame.max(axis=0)
    times = (first_frame + np.arange(frames)) / config.frames_per_second
    voiced = confidence >= voicing_threshold
    sounding = np.zeros(frame.shape, dtype=bool)
    for note in notes:
        first = max(int(round(note.start * config.frames_per_second)) - first_frame, 0)
        last = min(int(round(note.end * config.frames_per_second)) - first_frame, frames)
        sounding[note.pitch - config.lowest_midi, first:last] = True
    in_note = sounding.any(axis=0)
    columns = np.arange(frames)
    highest = np.where(sounding, np.arange(frame.shape[0])[:, None], -1).argmax(axis=0)
    likeliest = np.where(sounding, frame, -1.0).argmax(axis=0)
    clearly_likelier = frame[likeliest, columns] > frame[highest, columns] + OVERLAP_POSTERIOR_MARGIN
    keys[in_note] = np.where(clearly_likelier, likeliest, highest)[in_note]
    voiced |= in_note
    # every frame's key refined to cents, voiced or not: an unvoiced frame keeps it as its pitch guess
    per_semitone = config.bins_per_semitone
    log_cqt = np.log(np.maximum(cqt[:, :frames], 1e-9))
    around = np.arange(-(per_semitone // 2) - 1, per_semitone // 2 + 2)[:, None]  # the key's bins and one each side
    window = np.clip(keys * per_semitone + per_semitone // 2 + around, 1, log_cqt.shape[0] - 2)
    peak = window[log_cqt[window, columns].argmax(axis=0), columns]
    left, middle, right = (log_cqt[peak + step, columns] for step in (-1, 0, 1))
    curvature = left - 2 * middle + right
    with np.errstate(divide="ignore", invalid="ignore"):
        shift = np.where(curvature < 0, 0.5 * (left - right) / curvature, 0.0)
    midi = config.bin_to_midi(peak + np.clip(shift, -0.5, 0.5))
    key_midi = keys + config.lowest_midi
    semitones = MAX_CENTS_FROM_KEY / 100
    guess = pretty_midi.note_number_to_hz(np.clip(midi, key_midi - semitones, key_midi + semitones))
    last_voiced = np.maximum.accumulate(np.where(voiced, columns, -1))
    held = np.where(last_voiced >= 0, guess[np.maximum(last_voiced, 0)], previous_pitch)
    silent = ~voiced & (confidence < SILENT_CONFIDENCE) & np.isfinite(held)
    guess = np.where(silent, held, guess)
    return PitchTrack(times=times, f0=np.where(voiced, guess, np.nan), confidence=confidence, guess=guess)


class StreamingTranscription:
    """Notes and the f0 track from posteriors that arrive block by block, the same as :func:`decode_notes` and
    :func:`pitch_track` on the whole track, holding only the frames that are not settled yet.

    Whether a frame starts a note depends on the three frames around it, and where a note ends on the frames up to
    its end. So after each block, the notes that end well before the block's end are settled, up to the first
    that may still grow; the frames before that point get their f0, and are dropped (but for three of context).
    A note held for minutes keeps its minutes of frames, and nothing else stays.
    """

    CONTEXT = 3  # frames a start's decision looks back (a rise is a start unless an onset peak is within 2 frames)

    def __init__(
        self,
        config: CQTConfig,
        frames: int,
        *,
        onset_threshold: float = 0.5,
        frame_threshold: float = 0.3,
        min_duration: float = 0.05,
    ) -> None:
        self.config = config
        self.frames = frames
        self._thresholds = {
            "onset_threshold": onset_threshold,
            "frame_threshold": frame_threshold,
            "min_duration": min_duration,
        }
        # A note cut short by the window's end is this long at least, so it is never dropped as too short
        self.lookahead = math.ceil(min_duration * config.frames_per_second) + self.CONTEXT + 1
        self.notes: list[Note] = []
        self.f0 = np.full(frames, np.nan)
        self.guess = np.full(frames, np.nan)
        self.confidence = np.zeros(frames, np.float32)
        self._window_start = 0  # first frame held
        self._settled = 0  # frames before this have their notes and f0
        self._held: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # onset, frame, cqt from _window_start
        self._sounding: list[Note] = []  # settled notes that reach past _settled
        self._last_pitch = np.nan  # the last voiced f0 before _settled (the pitch guess of silent frames after it)

    def push(self, onset: np.ndarray, frame: np.ndarray, cqt: np.ndarray) -> None:
        """The next frames' posteriors ``[88, n]`` and CQT ``[bins, n]``."""
        if self._held is None:
            self._held = (onset, frame, cqt)
        else:
            pieces = zip(self._held, (onset, frame, cqt), strict=True)
            self._held = tuple(np.concatenate(pair, axis=1) for pair in pieces)
        end = self._window_start + self._held[0].shape[1]
        if end > self.frames:
            raise ValueError(f"pushed {end} frames into a track of {self.frames}")
        self._settle(final=end == self.frames)

    def _settle(self, *, final: bool) -> None:
        onset, frame, cqt = self._held
        start, end = self._window_start, self._window_start + onset.shape[1]
        spans = _note_spans(onset, frame, cqt, self.config, **self._thresholds)
        spans = [span for span in spans if span[0] + start >= self._settled]  # earlier ones are settled already
        if final:
            settled_until = end
        else:
            open_starts = [first + start for first, last, *_ in spans if last + start > end - self.CONTEXT]
            settled_until = min([end - self.lookahead, *open_starts])
        if settled_until <= self._settled:
            return
        new = [_note(span, start, self.config) for span in spans if span[0] + start < settled_until]
        self.notes += new
        fps = self.config.frames_per_second
        self._sounding = [n for n in self._sounding + new if round(n.end * fps) > self._settled]
        inside = slice(self._settled - start, settled_until - start)
        track = pitch_track(
            frame[:, inside],
            cqt[:, inside],
            self.config,
            notes=self._sounding,
            first_frame=self._settled,
            previous_pitch=self._last_pitch,
        )
        voiced = np.flatnonzero(np.isfinite(track.f0))
        if voiced.size:
            self._last_pitch = float(track.f0[voiced[-1]])
        self.f0[self._settled : settled_until] = track.f0
        self.guess[self._settled : settled_until] = track.guess
        self.confidence[self._settled : settled_until] = track.confidence
        self._settled = settled_until
        keep_from = max(settled_until - self.CONTEXT, 0)
        self._held = tuple(array[:, keep_from - start :] for array in self._held)
        self._window_start = keep_from

    def result(self) -> tuple[list[Note], PitchTrack]:
        if self._settled != self.frames:
            raise ValueError(f"only {self._settled} of {self.frames} frames were pushed")
        times = np.arange(self.frames) / self.config.frames_per_second
        notes = sorted(self.notes, key=lambda n: (n.start, n.pitch))
        return notes, PitchTrack(times=times, f0=self.f0, confidence=self.confidence, guess=self.guess)


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
