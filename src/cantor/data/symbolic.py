"""Scores ↔ the generator's tensors: monophonic voices on a sixteenth-note grid, a token per voice and step.

Each voice's token at a step is ``REST`` (0), ``HOLD`` (1: the note sounding at the previous step goes on) or
``ONSET + pitch - low`` (a new note of that pitch). Four voices give the chorales' soprano, alto, tenor and bass;
one voice a folk melody. The grid is exact for everything at sixteenth-note resolution (all but four of the 351
chorales); a piece with shorter notes, or notes outside the pitch range, is refused with the reason.

Time follows the corpus (:mod:`cantor.data.corpus`): ticks of 1/48 quarter note, bar lines every ``bar_ticks``
from ``downbeat``. Windows start on bar lines so that the model always sees a bar as a bar; a pickup is padded
with rests to a full bar.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cantor.data.corpus import CHORALE_VOICES, TICKS_PER_QUARTER, Note, Piece
from cantor.data.theory import estimate_key
from cantor.errors import CantorError
from cantor.files import atomic_path

REST, HOLD, ONSET = 0, 1, 2
DRUM_VOICE = "drums"  # the voice of a score that is rendered on the GM drum channel
STEPS_PER_QUARTER = 4
TICKS_PER_STEP = TICKS_PER_QUARTER // STEPS_PER_QUARTER


class NotRepresentable(CantorError):
    """A piece that the converter's grid or range cannot hold exactly."""


@dataclass(frozen=True)
class VoiceGridConverter:
    """``voices`` named as in the corpus, pitches ``low``…``high`` (MIDI), bars of ``steps_per_bar`` sixteenths
    (16: 4/4 only), windows of ``bars`` bars."""

    voices: tuple[str, ...] = CHORALE_VOICES
    low: int = 28
    high: int = 96
    steps_per_bar: int = 16
    bars: int = 4
    kind: str = "voices"

    @property
    def vocabulary(self) -> int:
        """Tokens per voice: rest, hold and one onset per pitch."""
        return ONSET + self.high - self.low + 1

    @property
    def window_steps(self) -> int:
        return self.bars * self.steps_per_bar

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @staticmethod
    def from_dict(payload: dict) -> VoiceGridConverter:
        payload = {**payload, "voices": tuple(payload["voices"])}
        if payload.get("kind") == "band":
            from cantor.data.band_grid import BandGridConverter

            return BandGridConverter(**payload)
        return VoiceGridConverter(**payload)

    # --- whole pieces ---------------------------------------------------------------------------------------

    def encode(self, piece: Piece, *, transpose: int = 0) -> np.ndarray:
        """``piece`` → tokens ``[steps, voices]`` from the bar line at or before its first note (whole bars)."""
        bar_ticks = self.steps_per_bar * TICKS_PER_STEP
        if piece.bar_ticks != bar_ticks:
            raise NotRepresentable(f"{piece.piece_id}: meter {piece.meter[0]}/{piece.meter[1]} is not 4/4")
        missing = [voice for voice in self.voices if voice not in piece.voices]
        if missing:
            raise NotRepresentable(f"{piece.piece_id}: no voice {', '.join(missing)}")
        start = piece.downbeat - bar_ticks if piece.downbeat else 0
        bars = -(-(piece.length_ticks - start) // bar_ticks)
        tokens = np.full((bars * self.steps_per_bar, len(self.voices)), REST, dtype=np.int64)
        for column, voice in enumerate(self.voices):
            self._encode_voice(
                tokens[:, column], voice, piece.voices[voice], start=start, transpose=transpose, piece_id=piece.piece_id
            )
        return tokens

    def _encode_voice(self, column: np.ndarray, voice: str, notes, *, start: int, transpose: int, piece_id: str):
        """Write one monophonic voice's ``notes`` into its ``column`` of tokens (in place)."""
        for note in notes:
            pitch = note.pitch + transpose
            if note.onset % TICKS_PER_STEP or note.duration % TICKS_PER_STEP:
                raise NotRepresentable(f"{piece_id}: {voice} has notes off the sixteenth-note grid")
            if not self.low <= pitch <= self.high:
                raise NotRepresentable(f"{piece_id}: {voice} pitch {pitch} outside {self.low}–{self.high}")
            first = (note.onset - start) // TICKS_PER_STEP
            last = first + note.duration // TICKS_PER_STEP
            column[first] = ONSET + pitch - self.low
            column[first + 1 : last] = HOLD

    def decode(self, tokens: np.ndarray) -> dict[str, tuple[Note, ...]]:
        """Tokens ``[steps, voices]`` → notes per voice (ticks from the first step). A hold after a rest (which a
        sampled sequence may contain) is read as a rest."""
        tokens = np.asarray(tokens)
        if tokens.ndim != 2 or tokens.shape[1] != len(self.voices):
            raise CantorError(f"tokens must be [steps, {len(self.voices)}], got {list(tokens.shape)}")
        return {voice: self._decode_voice(tokens[:, column], voice) for column, voice in enumerate(self.voices)}

    def _decode_voice(self, column: np.ndarray, voice: str) -> tuple[Note, ...]:
        notes, onset, pitch = [], None, 0
        for step, token in enumerate([*column.tolist(), REST]):
            if token == HOLD and onset is not None:
                continue
            if onset is not None:
                notes.append(Note(onset * TICKS_PER_STEP, (step - onset) * TICKS_PER_STEP, pitch))
                onset = None
            if ONSET <= token <= ONSET + self.high - self.low:  # (a band's shared vocabulary has more tokens)
                onset, pitch = step, self.low + token - ONSET
        return tuple(notes)

    # --- training windows -----------------------------------------------------------------------------------

    def to_tensors(self, piece: Piece, *, transpose: int = 0, hop_bars: int = 1) -> list[np.ndarray]:
        """Windows ``[bars · steps_per_bar, voices]`` every ``hop_bars`` bars. A note held into a window starts
        there (each window stands alone); windows where every voice rests are left out."""
        tokens = self.encode(piece, transpose=transpose)
        windows = []
        for start in range(0, len(tokens) - self.window_steps + 1, hop_bars * self.steps_per_bar):
            window = restate_held_notes(tokens[start : start + self.window_steps], tokens[:start])
            if not (window == REST).all():
                windows.append(window)
        return windows

    def transpose(self, tokens: np.ndarray, semitones: int) -> np.ndarray | None:
        """``tokens`` moved by ``semitones``, or None when a note would leave ``low``…``high``."""
        onsets = tokens >= ONSET
        if semitones == 0 or not onsets.any():
            return tokens
        pitches = tokens[onsets] - ONSET + semitones
        if pitches.min() < 0 or pitches.max() > self.high - self.low:
            return None
        moved = tokens.copy()
        moved[onsets] = pitches + ONSET
        return moved

    def corpus_windows(self, pieces: Sequence[Piece], *, hop_bars: int = 1) -> tuple[np.ndarray, list[str]]:
        """Every window of every piece that holds this converter's voices and fits its grid: ``[N, steps, voices]``
        (int16) and the ``piece_id`` of each window. Pieces the grid cannot hold exactly are skipped."""
        windows, owners = [], []
        for piece in pieces:
            if not all(voice in piece.voices for voice in self.voices):
                continue
            try:
                found = self.to_tensors(piece, hop_bars=hop_bars)
            except NotRepresentable:
                continue
            windows += found
            owners += [piece.piece_id] * len(found)
        shape = (0, self.window_steps, len(self.voices))
        return (np.stack(windows).astype(np.int16) if windows else np.zeros(shape, np.int16)), owners

    def read_midi(self, path: str | Path) -> Piece:
        """A user's MIDI file as a piece with this converter's voices."""
        return piece_from_midi(path, self.voices)

    def from_tensors(self, tokens: np.ndarray, *, title: str = "generated") -> Piece:
        """Tokens ``[steps, voices]`` → a 4/4 :class:`Piece` (for MIDI, MusicXML and rendering), in the key that
        :func:`estimate_key` reads from its notes."""
        voices = self.decode(tokens)
        tonic, mode = estimate_key(_pitched(voices))
        return Piece(
            piece_id=title,
            source="generated",
            title=title,
            tonic_pc=tonic,
            mode=mode,
            meter=(4, 4),
            bar_ticks=self.steps_per_bar * TICKS_PER_STEP,
            beat_ticks=TICKS_PER_QUARTER,
            downbeat=0,
            voices=voices,
            tune_group=title,
        )


def pitched_notes(piece: Piece) -> list[Note]:
    """Every note of the piece's pitched voices (the drum voice's "pitches" name instruments, not pitches)."""
    return _pitched(piece.voices)


def _pitched(voices: dict[str, Sequence[Note]]) -> list[Note]:
    return [note for voice, notes in voices.items() if voice != DRUM_VOICE for note in notes]


def restate_held_notes(window: np.ndarray, before: np.ndarray) -> np.ndarray:
    """``window [steps, voices]`` cut from a longer sequence after ``before``: a voice that starts on a hold gets
    the onset that the hold continues (each window stands alone, as the model was trained), or a rest when what
    went before was a rest."""
    window = np.array(window, copy=True)
    for column in np.flatnonzero(window[0] == HOLD):
        sounding = np.flatnonzero(before[:, column] != HOLD)
        window[0, column] = before[sounding[-1], column] if len(sounding) else REST
    return window


def voices_sounding(tokens: np.ndarray) -> np.ndarray:
    """``tokens [..., steps, voices]`` → ``[..., voices]``: whether each voice's note still sounds after the last
    step (its last token other than a hold is an onset)."""
    tokens = np.asarray(tokens)
    not_hold = tokens != HOLD
    last = tokens.shape[-2] - 1 - np.argmax(np.flip(not_hold, axis=-2), axis=-2)  # last step that is not a hold
    last_token = np.take_along_axis(tokens, np.expand_dims(last, -2), axis=-2).squeeze(-2)
    return not_hold.any(axis=-2) & (last_token >= ONSET)


class WindowDataset:
    """Training windows with random transposition: item ``i`` is a window drawn at random (seeded by epoch and
    index, so a resumed run sees new draws) moved by up to ±``transpose`` semitones where the range allows.
    ``random=False`` gives each window once, untransposed (validation)."""

    def __init__(
        self,
        windows: np.ndarray,
        converter: VoiceGridConverter,
        *,
        items: int | None = None,
        transpose: int = 0,
        random: bool = True,
        seed: int = 0,
    ) -> None:
        if len(windows) == 0:
            raise CantorError("no training windows: no piece holds the model's voices in 4/4 on its grid")
        self.windows = windows
        self.converter = converter
        self.items = items if (random and items) else len(windows)
        self.transpose = transpose
        self.random = random
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.items

    def __getitem__(self, index: int) -> np.ndarray:
        if not self.random:
            return self.windows[index].astype(np.int64)
        rng = np.random.default_rng((self.seed, self.epoch, index))
        window = self.windows[rng.integers(len(self.windows))].astype(np.int64)
        for _ in range(4):  # a shift that leaves the range is redrawn; no shift always fits
            moved = self.converter.transpose(window, int(rng.integers(-self.transpose, self.transpose + 1)))
            if moved is not None:
                return moved
        return window


# --- MIDI files ----------------------------------------------------------------------------------------------


def piece_from_midi(path: str | Path, voices: tuple[str, ...]) -> Piece:
    """A user's MIDI file → a :class:`Piece` with ``voices`` taken from its non-drum tracks (by track name when
    every voice has its own, else highest first: the top track is the melody or soprano), each made monophonic (a
    chord keeps its top note)."""
    score = read_midi(path)
    if len(score.tracks) < len(voices):
        raise CantorError(f"{path}: {len(score.tracks)} pitched track(s), {len(voices)} needed ({', '.join(voices)})")
    tracks = [score.named(voice) for voice in voices]
    if not all(tracks):
        tracks = score.tracks
    return score.piece({name: monophonic(track) for name, track in zip(voices, tracks, strict=False)})


@dataclass(frozen=True)
class MidiScore:
    """What :func:`read_midi` found: pitched tracks (highest first), the drum hits, the meter, all in corpus ticks."""

    path: Path
    tracks: list[list[Note]]
    names: list[str]  # of the tracks
    drums: list[Note]
    meter: tuple[int, int]

    def named(self, name: str) -> list[Note] | None:
        """The notes of the one pitched track called ``name`` (as Cantor names them), or None."""
        found = [track for track, track_name in zip(self.tracks, self.names, strict=True) if track_name == name]
        return found[0] if len(found) == 1 else None

    def piece(self, voices: dict[str, Sequence[Note]]) -> Piece:
        tonic, mode = estimate_key(_pitched(voices))
        return Piece(
            piece_id=self.path.stem,
            source="midi",
            title=self.path.stem,
            tonic_pc=tonic,
            mode=mode,
            meter=self.meter,
            bar_ticks=TICKS_PER_QUARTER * 4 * self.meter[0] // self.meter[1],
            beat_ticks=TICKS_PER_QUARTER,
            downbeat=0,
            voices={name: tuple(notes) for name, notes in voices.items()},
            tune_group=self.path.stem,
        )


def read_midi(path: str | Path) -> MidiScore:
    """A MIDI file's notes in corpus ticks. Times are read in the file's own quarter-note ticks, so tempo changes
    do not matter; a file that is not MIDI, has no pitched notes or changes meter is refused with the reason."""
    import pretty_midi

    path = Path(path)
    try:
        midi = pretty_midi.PrettyMIDI(str(path))
    except Exception as error:  # pretty_midi/mido raise many kinds of errors for files that are not MIDI
        raise CantorError(f"{path}: not a readable MIDI file ({error})") from error
    meters = {(s.numerator, s.denominator) for s in midi.time_signature_changes}
    if len(meters) > 1:
        raise CantorError(f"{path}: the meter changes ({', '.join(f'{n}/{d}' for n, d in sorted(meters))})")

    def ticks(seconds: float) -> int:
        # through the file's own quarter-note ticks: exact under tempo changes and in any meter (beats would be
        # half notes in 2/2)
        return int(round(midi.time_to_tick(seconds) / midi.resolution * TICKS_PER_QUARTER))

    def notes_of(track) -> list[Note]:
        notes = (Note(ticks(n.start), ticks(n.end) - ticks(n.start), n.pitch) for n in track.notes)
        return sorted(note for note in notes if note.duration > 0)

    pitched = [(notes_of(track), track.name.strip()) for track in midi.instruments if not track.is_drum and track.notes]
    if not pitched:
        raise CantorError(f"{path}: no notes (drum tracks aside)")
    pitched.sort(key=lambda found: -np.mean([note.pitch for note in found[0]]))
    drums = sorted(note for track in midi.instruments if track.is_drum for note in notes_of(track))
    tracks, names = (list(column) for column in zip(*pitched, strict=True))
    return MidiScore(path, tracks, names, drums, next(iter(meters), (4, 4)))


def monophonic(notes: Sequence[Note]) -> list[Note]:
    """``notes`` sorted by onset as one line: a chord keeps its top note, a note is cut where the next begins."""
    line: list[Note] = []
    for note in sorted(notes):
        if line and line[-1].onset == note.onset:
            line[-1] = max(line[-1], note, key=lambda n: n.pitch)
            continue
        if line and note.onset < line[-1].onset + line[-1].duration:
            line[-1] = line[-1]._replace(duration=note.onset - line[-1].onset)
        line.append(note)
    return line


def piece_to_midi(piece: Piece, path: str | Path, *, tempo_bpm: float = 90.0, programs: dict[str, int] | None = None):
    """Write ``piece`` as a MIDI file: one track per voice (GM ``programs`` by voice name, default 0; the drums
    voice on the drum channel)."""
    import pretty_midi

    midi = pretty_midi.PrettyMIDI(initial_tempo=tempo_bpm)
    midi.time_signature_changes.append(pretty_midi.TimeSignature(piece.meter[0], piece.meter[1], 0.0))
    # (MIDI key numbers: 0–11 major from C, 12–23 minor; MusicXML made from the file takes its key signature)
    midi.key_signature_changes.append(pretty_midi.KeySignature(piece.tonic_pc + 12 * (piece.mode == "minor"), 0.0))
    seconds_per_tick = 60.0 / tempo_bpm / TICKS_PER_QUARTER
    for name, notes in piece.voices.items():
        track = pretty_midi.Instrument(program=(programs or {}).get(name, 0), is_drum=name == DRUM_VOICE, name=name)
        track.notes = [
            pretty_midi.Note(
                velocity=80,
                pitch=note.pitch,
                start=note.onset * seconds_per_tick,
                end=(note.onset + note.duration) * seconds_per_tick,
            )
            for note in notes
        ]
        midi.instruments.append(track)
    with atomic_path(path) as temporary:
        midi.write(str(temporary))
    return midi
