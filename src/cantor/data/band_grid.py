"""Small-band arrangements ↔ the generator's tensors: melody, bass, chords and drums on the sixteenth-note grid.

The same token scheme as :mod:`cantor.data.symbolic` (``REST``, ``HOLD``, ``ONSET + k``), read per voice:

- ``melody`` and ``bass``: ``k`` is the pitch above ``low``, as for any monophonic voice;
- ``chords``: ``k = 4 · root + quality`` (major, minor, diminished, dominant seventh), held while the chord lasts;
  in a score the chords voice holds block chords (one voicing per change), read back by matching pitch classes;
- ``drums``: ``k + 1`` is a bit mask of the seven drum classes struck at that step (MusicVAE reduces GM drums to
  nine classes the same way); drums never hold, and a drum hit lasts one step in a score.

Transposing moves melody and bass, turns chord roots, and leaves drums alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cantor.data.corpus import Note, Piece
from cantor.data.symbolic import (
    DRUM_VOICE,
    HOLD,
    ONSET,
    TICKS_PER_STEP,
    NotRepresentable,
    VoiceGridConverter,
    monophonic,
    read_midi,
)
from cantor.data.theory import QUALITY_INTERVALS, Chord, estimate_key, fit_chords, voice_chord
from cantor.errors import CantorError

BAND_VOICES = ("melody", "bass", "chords", DRUM_VOICE)
CHORD_VOICE = "chords"
QUALITIES = tuple(QUALITY_INTERVALS)  # maj, min, dim, dom7
CHORD_REGISTER = (52, 76)
CHORD_SIZE = 4

# GM drum notes → class; each class is written back as its first note (``DRUM_CLASS_NOTES[c][0]``).
DRUM_CLASS_NOTES = (
    (36, 35),  # kick
    (38, 37, 39, 40),  # snare, side stick, clap
    (42, 44, 54, 56, 69, 70, 81, 82),  # closed hi-hat and the small timekeepers (shaker, tambourine, cabasa, …)
    (46,),  # open hi-hat
    (45, 41, 43, 47, 48, 50, 60, 61, 62, 63, 64),  # toms and hand drums
    (49, 52, 55, 57),  # crash cymbals
    (51, 53, 59),  # ride
)
DRUM_CLASS = {note: index for index, notes in enumerate(DRUM_CLASS_NOTES) for note in notes}


def block_chords(chords: Sequence[Chord], window: int) -> list[Note]:
    """One chord per ``window`` ticks → block chords with smooth voice leading; a chord repeated over several
    windows is one block."""
    notes: list[Note] = []
    voicing, start = None, 0
    for index, chord in enumerate(chords):
        if index + 1 < len(chords) and chords[index + 1] == chord:
            continue
        voicing = voice_chord(chord, previous=voicing, low=CHORD_REGISTER[0], high=CHORD_REGISTER[1], size=CHORD_SIZE)
        end = (index + 1) * window
        notes += [Note(start, end - start, pitch) for pitch in voicing]
        start = end
    return notes


def chord_token(chord: Chord) -> int:
    return ONSET + 4 * chord.root + QUALITIES.index(chord.quality)


def token_chord(token: int) -> Chord:
    root, quality = divmod(token - ONSET, 4)
    return Chord(root, QUALITIES[quality])


def chord_of(pitches: set[int]) -> Chord:
    """The chord whose tones best cover ``pitches`` (tones it has count for it, tones it lacks against it; the
    lowest note as root breaks ties)."""
    classes = {pitch % 12 for pitch in pitches}
    bass = min(pitches) % 12

    def score(chord: Chord) -> tuple[int, bool]:
        tones = set(chord.pitch_classes)
        return len(classes & tones) - len(classes - tones) - len(tones - classes), chord.root == bass

    return max((Chord(root, quality) for root in range(12) for quality in QUALITIES), key=score)


@dataclass(frozen=True)
class BandGridConverter(VoiceGridConverter):
    """A band of ``BAND_VOICES``; ``low``…``high`` bounds the melody and bass pitches."""

    voices: tuple[str, ...] = BAND_VOICES
    kind: str = "band"

    def __post_init__(self) -> None:
        if self.voices != BAND_VOICES:
            raise ValueError(f"a band grid has the voices {BAND_VOICES}, got {self.voices}")

    @property
    def vocabulary(self) -> int:
        """Tokens per voice: the largest of the pitch range, the 48 chords and the 127 drum combinations."""
        return ONSET + max(self.high - self.low + 1, 12 * len(QUALITIES), 2 ** len(DRUM_CLASS_NOTES) - 1)

    def _encode_voice(self, column: np.ndarray, voice: str, notes, *, start: int, transpose: int, piece_id: str):
        if voice == DRUM_VOICE:
            for note in notes:  # hits are instants: rounded to the nearest step (a swung hit lands on its step)
                step = round((note.onset - start) / TICKS_PER_STEP)
                if note.pitch in DRUM_CLASS and 0 <= step < len(column):
                    mask = max(column[step] - ONSET + 1, 0) | (1 << DRUM_CLASS[note.pitch])
                    column[step] = ONSET + mask - 1
            return
        if voice != CHORD_VOICE:
            super()._encode_voice(column, voice, notes, start=start, transpose=transpose, piece_id=piece_id)
            return
        by_onset: dict[int, list[Note]] = {}
        for note in notes:
            by_onset.setdefault(note.onset, []).append(note)
        for onset, block in by_onset.items():
            duration = max(note.duration for note in block)
            if onset % TICKS_PER_STEP or duration % TICKS_PER_STEP:
                raise NotRepresentable(f"{piece_id}: chords off the sixteenth-note grid")
            chord = chord_of({note.pitch + transpose for note in block})
            first = (onset - start) // TICKS_PER_STEP
            column[first] = chord_token(chord)
            column[first + 1 : first + duration // TICKS_PER_STEP] = HOLD

    def _decode_voice(self, column: np.ndarray, voice: str) -> tuple[Note, ...]:
        if voice == DRUM_VOICE:
            return tuple(
                Note(step * TICKS_PER_STEP, TICKS_PER_STEP, notes[0])
                for step, token in enumerate(column.tolist())
                if token >= ONSET
                for bit, notes in enumerate(DRUM_CLASS_NOTES)
                if (token - ONSET + 1) >> bit & 1
            )
        if voice != CHORD_VOICE:
            return super()._decode_voice(column, voice)
        notes, voicing = [], None
        for onset, duration, token in _spans(column):
            if token - ONSET >= 12 * len(QUALITIES):
                continue  # a token no chord has (a sampled one can be): silence
            voicing = voice_chord(
                token_chord(token), previous=voicing, low=CHORD_REGISTER[0], high=CHORD_REGISTER[1], size=CHORD_SIZE
            )
            notes += [Note(onset * TICKS_PER_STEP, duration * TICKS_PER_STEP, pitch) for pitch in voicing]
        return tuple(sorted(notes))

    def read_midi(self, path: str | Path) -> Piece:
        """A user's MIDI file as a band: the track named "melody" (else the highest pitched track) is the melody,
        the one named "bass" (else the lowest) the bass, the harmony of all of them (fitted per half bar, as the
        training data's) the chords, and the drum channel the drums."""
        score = read_midi(path)
        if len(score.tracks) < 2:
            raise CantorError(f"{path}: a band needs at least two pitched tracks (melody and bass), found 1")
        bar = TICKS_PER_STEP * self.steps_per_bar
        everything = [note for track in score.tracks for note in track]
        tonic, mode = estimate_key(everything)
        length = max(note.onset + note.duration for note in everything)
        chords = fit_chords(
            score.tracks,
            tonic=tonic,
            mode=mode,
            window_ticks=bar // 2,
            num_windows=math.ceil(length / (bar // 2)),
            bar_ticks=bar,
        )
        voices = {
            "melody": monophonic(score.named("melody") or score.tracks[0]),
            "bass": monophonic(score.named("bass") or score.tracks[-1]),
            CHORD_VOICE: block_chords(chords, bar // 2),
            DRUM_VOICE: score.drums,
        }
        return score.piece(voices)

    def transpose(self, tokens: np.ndarray, semitones: int) -> np.ndarray | None:
        """Melody and bass moved (None when they would leave ``low``…``high``), chord roots turned, drums kept."""
        pitched = [self.voices.index(voice) for voice in ("melody", "bass")]
        moved = super().transpose(tokens[:, pitched], semitones) if semitones else tokens[:, pitched]
        if moved is None:
            return None
        out = tokens.copy()
        out[:, pitched] = moved
        chords = out[:, self.voices.index(CHORD_VOICE)]
        onsets = chords >= ONSET
        root, quality = np.divmod(chords[onsets] - ONSET, 4)
        chords[onsets] = ONSET + 4 * ((root + semitones) % 12) + quality
        return out


def _spans(column: np.ndarray):
    """(first step, steps, token) of each onset in ``column`` and the holds after it."""
    tokens = column.tolist()
    for step, token in enumerate(tokens):
        if token >= ONSET:
            end = step + 1
            while end < len(tokens) and tokens[end] == HOLD:
                end += 1
            yield step, end - step, token
