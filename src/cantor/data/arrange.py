"""Turning a corpus piece into a multitrack arrangement: which notes each stem plays, on which instrument.

Two presets:
- ``band``: ``melody`` (the tune), ``other`` (a harmonisation voiced for keys, guitar, organ, strings or pads),
  ``bass`` (a line following the harmony) and ``drums`` (a groove on GM channel 10), in one of eight styles.
- ``chorale``: the four voices of a Bach chorale, each on its own instrument.

Everything drawn is kept in the :class:`Arrangement` so the manifest can say exactly what was rendered.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from cantor.data import drums
from cantor.data.band_grid import block_chords
from cantor.data.corpus import CHORALE_VOICES, TICKS_PER_QUARTER, Note, Piece
from cantor.data.instruments import BAND_PROGRAMS, CHORALE_PROGRAMS, STYLE_KITS, family_of
from cantor.data.render import NoteEvent
from cantor.data.theory import Chord, fit_chords, nearest_pitch, scale_of, voice_chord

PRESETS = {"band": ("drums", "bass", "melody", "other"), "chorale": CHORALE_VOICES}

TEMPO_RANGES = {
    "pop": (85, 135),
    "rock": (95, 160),
    "swing": (100, 200),
    "waltz": (80, 170),
    "latin": (90, 140),
    "ballad": (60, 90),
    "folk": (80, 180),
    "hymn": (55, 95),
    "chorale": (50, 100),
}
SWING_STYLES = {"swing": (0.6, 0.68)}
BASS_PATTERNS = {
    "pop": ("beats", "eighths", "octave", "root_fifth"),
    "rock": ("eighths", "beats"),
    "swing": ("walking",),
    "waltz": ("waltz", "root_fifth"),
    "latin": ("latin",),
    "ballad": ("sustain", "root_fifth"),
    "folk": ("root_fifth", "beats"),
    "hymn": ("sustain", "beats"),
}
OTHER_PATTERNS = {
    "pop": ("block", "arpeggio", "strum", "sustain", "offbeat"),
    "rock": ("strum", "block", "sustain"),
    "swing": ("charleston", "sustain", "block"),
    "waltz": ("waltz", "arpeggio", "sustain"),
    "latin": ("offbeat", "arpeggio", "block"),
    "ballad": ("arpeggio", "sustain", "block"),
    "folk": ("strum", "arpeggio", "block"),
    "hymn": ("sustain", "block"),
}
SUSTAINING_FAMILIES = {"organ", "strings", "ensemble", "synth pad", "brass", "reed", "pipe"}
BASS_REGISTER = (28, 52)
OTHER_REGISTER = (50, 76)
MELODY_CENTRE = (62, 80)


@dataclass(frozen=True)
class StemPlan:
    """What one stem plays: its GM program, its notes in seconds, and how they were made (``details``)."""

    name: str
    program: int
    is_drum: bool
    notes: tuple[NoteEvent, ...]
    details: dict = field(default_factory=dict)

    @property
    def family(self) -> str:
        return family_of(self.program, is_drum=self.is_drum)


@dataclass(frozen=True)
class Arrangement:
    """A song ready to render: stems, tempo, key, and every choice drawn on the way."""

    preset: str
    piece: Piece
    style: str
    tempo_bpm: float
    transpose: int
    start_bar: int
    num_bars: int
    duration: float
    stems: dict[str, StemPlan]
    choices: dict


def arrange(piece: Piece, *, preset: str, seconds: float, rng: np.random.Generator) -> Arrangement:
    """Arrange ``piece`` as a ``seconds``-long song of ``preset`` ("band" or "chorale")."""
    if preset == "band":
        return _arrange_band(piece, seconds=seconds, rng=rng)
    if preset == "chorale":
        if not piece.is_chorale:
            raise ValueError(f"the chorale preset needs a four-voice chorale, {piece.piece_id} is {piece.source}")
        return _arrange_chorale(piece, seconds=seconds, rng=rng)
    raise ValueError(f"unknown preset {preset!r}; choose from {sorted(PRESETS)}")


# --- shared steps ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Timeline:
    """Tempo, swing and length of a song; converts ticks to seconds."""

    tempo_bpm: float
    swing: float
    body_ticks: int
    body_seconds: float

    def seconds(self, tick: float) -> float:
        if self.swing != 0.5:
            beat, phase = divmod(tick, TICKS_PER_QUARTER)
            half = TICKS_PER_QUARTER / 2
            if phase <= half:
                phase = phase / half * self.swing * TICKS_PER_QUARTER
            else:
                phase = self.swing * TICKS_PER_QUARTER + (phase - half) / half * (1 - self.swing) * TICKS_PER_QUARTER
            tick = beat * TICKS_PER_QUARTER + phase
        return tick / TICKS_PER_QUARTER * 60.0 / self.tempo_bpm


def _draw_tempo(piece: Piece, style: str, rng: np.random.Generator) -> float:
    """A tempo in the style's range that keeps the melody's typical note between 0.15 and 0.7 s."""
    low, high = TEMPO_RANGES[style]
    median_quarters = float(np.median([n.duration for n in piece.melody])) / TICKS_PER_QUARTER
    fast_enough, slow_enough = 60 * median_quarters / 0.7, 60 * median_quarters / 0.15
    lo, hi = max(low, fast_enough), min(high, slow_enough)
    if lo > hi:
        lo = hi = min(max((low + high) / 2, fast_enough), slow_enough)
    return float(round(rng.uniform(lo, hi), 1))


def _timeline(piece: Piece, *, seconds: float, tempo: float, swing: float) -> _Timeline:
    tail = min(1.5, 0.2 * seconds)  # room for releases and reverb after the last note
    body_seconds = seconds - tail
    body_ticks = int(body_seconds * tempo / 60 * TICKS_PER_QUARTER)
    return _Timeline(tempo_bpm=tempo, swing=swing, body_ticks=body_ticks, body_seconds=body_seconds)


def _place(
    piece: Piece, timeline: _Timeline, rng: np.random.Generator, *, transpose_range: tuple[int, int]
) -> tuple[int, int, int]:
    """How many bars the song needs, the bar of the piece it starts at, and its transposition in semitones."""
    num_bars = max(1, math.ceil(timeline.body_ticks / piece.bar_ticks))
    piece_bars = max(1, math.ceil((piece.length_ticks - piece.downbeat) / piece.bar_ticks))
    start_bar = int(rng.integers(0, max(1, piece_bars - num_bars + 1)))
    return num_bars, start_bar, int(rng.integers(*transpose_range))


def _excerpt(
    piece: Piece, voices: Sequence[str], *, start_bar: int, num_bars: int, transpose: int
) -> dict[str, list[Note]]:
    """Notes of ``voices`` from bar ``start_bar`` for ``num_bars`` bars, looping the piece (its pickup dropped)."""
    bar = piece.bar_ticks
    piece_bars = max(1, math.ceil((piece.length_ticks - piece.downbeat) / bar))
    total = num_bars * bar
    out: dict[str, list[Note]] = {}
    for name in voices:
        notes = []
        repeat = 0
        while True:
            shift = repeat * piece_bars * bar - (piece.downbeat + start_bar * bar)
            if piece.downbeat + shift >= total:
                break
            for note in piece.voices[name]:
                onset = note.onset + shift
                if note.onset < piece.downbeat or onset < 0 or onset >= total:
                    continue
                duration = min(note.duration, total - onset)
                notes.append(Note(onset, duration, note.pitch + transpose))
            repeat += 1
        out[name] = notes
    return out


def _performed(
    notes: Sequence[Note],
    timeline: _Timeline,
    rng: np.random.Generator,
    *,
    velocity: tuple[int, int],
    legato: float,
    jitter_ms: float,
    bar_ticks: int,
) -> tuple[NoteEvent, ...]:
    """Ticks → seconds with swing, timing jitter, articulation and a slow dynamic swell; clipped to the body."""
    events = []
    swell_period = 8 * bar_ticks
    swell_phase = rng.uniform(0, 2 * math.pi)
    for note in notes:
        start = timeline.seconds(note.onset) + rng.normal(0, jitter_ms / 1000)
        end = timeline.seconds(note.onset + note.duration * legato)
        start = max(0.0, start)
        end = min(end, timeline.body_seconds)
        if end - start < 0.02:
            continue
        accent = 1.1 if note.onset % bar_ticks == 0 else 1.0
        swell = 1.0 + 0.12 * math.sin(2 * math.pi * note.onset / swell_period + swell_phase)
        level = rng.uniform(*velocity) * accent * swell
        events.append(NoteEvent(round(start, 5), round(end, 5), int(note.pitch), int(np.clip(round(level), 1, 127))))
    return tuple(events)


def _octave_shift(notes: Sequence[Note], *, low: int, high: int) -> tuple[list[Note], int]:
    """Shift by whole octaves so the median pitch falls in [low, high]."""
    median = float(np.median([n.pitch for n in notes]))
    shift = 0
    while median + shift < low:
        shift += 12
    while median + shift > high:
        shift -= 12
    return [Note(n.onset, n.duration, n.pitch + shift) for n in notes], shift


def _pick(rng: np.random.Generator, options: Sequence) -> object:
    return options[int(rng.integers(len(options)))]


# --- band ------------------------------------------------------------------------------------------------------


def _band_styles(piece: Piece) -> tuple[str, ...]:
    compound = piece.beat_ticks % 72 == 0
    beats = piece.bar_ticks // (72 if compound else 48)
    if beats == 3:
        styles = ("waltz", "ballad", "folk")
    elif compound:
        styles = ("folk", "ballad", "rock", "pop")
    else:
        styles = ("pop", "rock", "swing", "latin", "ballad", "folk")
    return (*styles, "hymn") if piece.is_chorale else styles


def _arrange_band(piece: Piece, *, seconds: float, rng: np.random.Generator) -> Arrangement:
    style = str(_pick(rng, _band_styles(piece)))
    tempo = _draw_tempo(piece, style, rng)
    swing = float(rng.uniform(*SWING_STYLES[style])) if style in SWING_STYLES else 0.5
    if swing == 0.5 and style in ("pop", "folk", "ballad") and rng.random() < 0.2:
        swing = float(rng.uniform(0.52, 0.6))  # a light shuffle
    timeline = _timeline(piece, seconds=seconds, tempo=tempo, swing=swing)
    num_bars, start_bar, transpose = _place(piece, timeline, rng, transpose_range=(-5, 7))
    voice_names = list(piece.voices)
    excerpt = _excerpt(piece, voice_names, start_bar=start_bar, num_bars=num_bars, transpose=transpose)
    tonic = (piece.tonic_pc + transpose) % 12

    halves = piece.bar_ticks == 4 * TICKS_PER_QUARTER and rng.random() < 0.5
    window = piece.bar_ticks // 2 if halves else piece.bar_ticks
    num_windows = math.ceil(num_bars * piece.bar_ticks / window)
    chords = fit_chords(
        list(excerpt.values()),
        tonic=tonic,
        mode=piece.mode,
        window_ticks=window,
        num_windows=num_windows,
        bar_ticks=piece.bar_ticks,
    )
    colour = float(rng.uniform(0, 0.5)) if style in ("pop", "swing", "ballad", "latin") else 0.0
    chords = [_coloured(c, rng, colour) for c in chords]
    inner_voices = piece.is_chorale and rng.random() < 0.5
    melody_name = "soprano" if piece.is_chorale else "melody"
    common = {"timeline": timeline, "bar_ticks": piece.bar_ticks, "rng": rng}

    melody_program = int(_pick(rng, BAND_PROGRAMS["melody"]))
    melody_notes, melody_octave = _octave_shift(excerpt[melody_name], low=MELODY_CENTRE[0], high=MELODY_CENTRE[1])
    legato, jitter = round(float(rng.uniform(0.7, 1.0)), 3), round(float(rng.uniform(3, 15)), 2)
    melody = StemPlan(
        "melody",
        melody_program,
        False,
        _performed(melody_notes, **common, velocity=(80, 105), legato=legato, jitter_ms=jitter),
        {"voice": melody_name, "octave_shift": melody_octave, "legato": legato, "timing_jitter_ms": jitter},
    )

    bass_program = int(_pick(rng, BAND_PROGRAMS["bass"]))
    if inner_voices:
        bass_notes, bass_octave = _octave_shift(excerpt["bass"], low=38, high=48)
        bass_ticks, bass_details = bass_notes, {"source": "chorale bass voice", "octave_shift": bass_octave}
    else:
        pattern = str(_pick(rng, BASS_PATTERNS[style]))
        bass_ticks = _bass_line(chords, pattern, window=window, beat=_drum_beat(piece), tonic=tonic, mode=piece.mode)
        bass_details = {"source": "harmony", "pattern": pattern}
    bass_details["legato"] = round(float(rng.uniform(0.75, 0.98)), 3)
    bass = StemPlan(
        "bass",
        bass_program,
        False,
        _performed(bass_ticks, **common, velocity=(80, 110), legato=bass_details["legato"], jitter_ms=6),
        bass_details,
    )

    other_program = int(_pick(rng, BAND_PROGRAMS["other"]))
    if inner_voices:
        other_ticks = excerpt["alto"] + excerpt["tenor"]
        other_details: dict = {"source": "chorale alto + tenor voices"}
    else:
        patterns = OTHER_PATTERNS[style]
        if family_of(other_program) in SUSTAINING_FAMILIES and rng.random() < 0.7:
            patterns = ("sustain", "block")
        pattern = str(_pick(rng, patterns))
        register_shift = int(rng.integers(-4, 5))
        other_ticks = _comping(
            chords,
            pattern,
            window=window,
            beat=_drum_beat(piece),
            low=OTHER_REGISTER[0] + register_shift,
            high=OTHER_REGISTER[1] + register_shift,
            size=int(rng.integers(3, 5)),
        )
        other_details = {"source": "harmony", "pattern": pattern, "register_shift": register_shift}
    other_details["legato"] = round(float(rng.uniform(0.8, 1.0)), 3)
    other_details["strum_spread_s"] = (
        round(float(rng.uniform(0.005, 0.025)), 4) if other_details.get("pattern") == "strum" else 0
    )
    other = StemPlan(
        "other",
        other_program,
        False,
        _strummed(
            _performed(other_ticks, **common, velocity=(60, 90), legato=other_details["legato"], jitter_ms=5),
            spread=other_details["strum_spread_s"],
        ),
        other_details,
    )

    feel = drums.DrumFeel.draw(style, rng)
    kit = int(_pick(rng, STYLE_KITS[style]))
    hits = drums.groove(feel, bar_ticks=piece.bar_ticks, beat_ticks=piece.beat_ticks, num_bars=num_bars, rng=rng)
    jitter = float(rng.uniform(2, 10))
    drum_events = []
    for hit in hits:
        start = timeline.seconds(hit.tick) + rng.normal(0, jitter / 1000)
        if 0 <= start < timeline.body_seconds - 0.05:
            drum_events.append(NoteEvent(round(start, 5), round(start + 0.1, 5), hit.pitch, hit.velocity))
    drum_stem = StemPlan("drums", kit, True, tuple(drum_events), {"feel": feel.__dict__, "timing_jitter_ms": jitter})

    return Arrangement(
        preset="band",
        piece=piece,
        style=style,
        tempo_bpm=tempo,
        transpose=transpose,
        start_bar=start_bar,
        num_bars=num_bars,
        duration=seconds,
        stems={"drums": drum_stem, "bass": bass, "melody": melody, "other": other},
        choices={
            "swing": round(swing, 3),
            "chord_window_ticks": window,
            "chords": [c.name() for c in chords],
            "colour_probability": round(colour, 3),
            "harmony_from_inner_voices": inner_voices,
        },
    )


def band_score(piece: Piece, rng: np.random.Generator) -> Piece:
    """``piece`` arranged for a band as a score: ``melody``, ``bass``, ``chords`` (block chords, one per change) and
    ``drums`` in ticks, its pickup dropped, untransposed — the symbolic generator's band training data. Melody, bass
    pattern, harmony and groove are drawn as for the audio data (:func:`arrange`), without performance."""
    style = str(_pick(rng, _band_styles(piece)))
    num_bars = max(1, math.ceil((piece.length_ticks - piece.downbeat) / piece.bar_ticks))
    excerpt = _excerpt(piece, list(piece.voices), start_bar=0, num_bars=num_bars, transpose=0)
    halves = piece.bar_ticks == 4 * TICKS_PER_QUARTER and rng.random() < 0.5
    window = piece.bar_ticks // 2 if halves else piece.bar_ticks
    chords = fit_chords(
        list(excerpt.values()),
        tonic=piece.tonic_pc,
        mode=piece.mode,
        window_ticks=window,
        num_windows=math.ceil(num_bars * piece.bar_ticks / window),
        bar_ticks=piece.bar_ticks,
    )
    melody, _ = _octave_shift(excerpt["soprano" if piece.is_chorale else "melody"], low=MELODY_CENTRE[0], high=72)
    if piece.is_chorale and rng.random() < 0.5:
        bass, _ = _octave_shift(excerpt["bass"], low=38, high=48)
    else:
        pattern = str(_pick(rng, BASS_PATTERNS[style]))
        bass = _bass_line(chords, pattern, window=window, beat=_drum_beat(piece), tonic=piece.tonic_pc, mode=piece.mode)
    feel = drums.DrumFeel.draw(style, rng)
    hits = drums.groove(feel, bar_ticks=piece.bar_ticks, beat_ticks=piece.beat_ticks, num_bars=num_bars, rng=rng)
    return Piece(
        piece_id=f"{piece.piece_id}-band",
        source="band",
        title=piece.title,
        tonic_pc=piece.tonic_pc,
        mode=piece.mode,
        meter=piece.meter,
        bar_ticks=piece.bar_ticks,
        beat_ticks=piece.beat_ticks,
        downbeat=0,
        voices={
            "melody": tuple(melody),
            "bass": tuple(bass),
            "chords": tuple(block_chords(chords, window)),
            "drums": tuple(Note(hit.tick, drums.SIXTEENTH, hit.pitch) for hit in hits),
        },
        tune_group=piece.tune_group,
    )


def band_scores(pieces: Sequence[Piece], count: int, *, seed: int = 0) -> list[Piece]:
    """``count`` band scores of every piece that arranges for a band in 4/4 or 2/2 (a sixteenth grid of 16 steps a
    bar), each drawn with its own seed from the piece's id (the same scores on every run)."""
    scores = []
    for piece in pieces:
        if piece.bar_ticks != 4 * TICKS_PER_QUARTER or not ({"melody", "soprano"} & set(piece.voices)):
            continue
        for index in range(count):
            rng = np.random.default_rng((seed, zlib.crc32(piece.piece_id.encode()), index))
            scores.append(band_score(piece, rng))
    return scores


def _drum_beat(piece: Piece) -> int:
    return 72 if piece.beat_ticks % 72 == 0 else TICKS_PER_QUARTER


def _coloured(chord: Chord, rng: np.random.Generator, probability: float) -> Chord:
    """Add a seventh or ninth now and then, as pop and jazz voicings do."""
    if chord.quality in ("dom7", "dim") or rng.random() >= probability:
        return chord
    extension = (11 if chord.quality == "maj" else 10) if rng.random() < 0.6 else 14
    return Chord(chord.root, chord.quality, (extension,))


def _bass_line(chords: Sequence[Chord], pattern: str, *, window: int, beat: int, tonic: int, mode: str) -> list[Note]:
    low, high = BASS_REGISTER
    notes: list[Note] = []
    previous = 40.0
    scale = scale_of(tonic, mode)
    for index, chord in enumerate(chords):
        start = index * window
        root = nearest_pitch(chord.root, target=previous, low=low, high=high)
        fifth = nearest_pitch(chord.fifth, target=root + 5, low=low, high=high)
        beats = max(1, window // beat)
        if pattern == "sustain":
            hits = [(0, window, root)]
        elif pattern == "beats":
            hits = [(b * beat, beat, root) for b in range(beats)]
        elif pattern == "eighths":
            hits = [(t, beat // 2, root) for t in range(0, window, beat // 2)]
        elif pattern == "octave":
            upper = root + 12 if root + 12 <= 60 else root
            hits = [(t, beat // 2, upper if (t // (beat // 2)) % 2 else root) for t in range(0, window, beat // 2)]
        elif pattern == "root_fifth":
            hits = [(b * beat, beat, root if b % 2 == 0 else fifth) for b in range(beats)]
        elif pattern == "waltz":
            hits = [(0, beat, root)] + ([(beat * (beats - 1), beat, fifth)] if beats > 3 else [])
        elif pattern == "latin":
            hits = [(0, beat + beat // 2, root), (beat + beat // 2, beat // 2, fifth)]
            hits += [(b * beat, beat, root if b % 2 == 0 else fifth) for b in range(2, beats)]
        elif pattern == "walking":
            target = chords[index + 1].root if index + 1 < len(chords) else chord.root
            hits = _walk(root, target, beats=beats, beat=beat, chord=chord, scale=scale, low=low, high=high)
        else:
            raise ValueError(f"unknown bass pattern {pattern!r}")
        notes += [Note(start + t, d, p) for t, d, p in hits if t < window]
        previous = float(root)
    return notes


def _walk(root, target_pc, *, beats, beat, chord, scale, low, high) -> list[tuple[int, int, int]]:
    """A walking line: root, chord and scale tones, then a chromatic approach to the next root."""
    line = [root]
    target = nearest_pitch(target_pc, target=root, low=low, high=high)
    for b in range(1, beats):
        if b == beats - 1:
            line.append(target + (1 if target < line[-1] else -1))
        else:
            direction = 1 if target >= line[-1] else -1
            step = line[-1] + direction
            while step % 12 not in scale and step % 12 not in chord.pitch_classes:
                step += direction
            line.append(int(np.clip(step, low, high)))
    return [(b * beat, beat, pitch) for b, pitch in enumerate(line)]


def _comping(
    chords: Sequence[Chord], pattern: str, *, window: int, beat: int, low: int, high: int, size: int
) -> list[Note]:
    notes: list[Note] = []
    previous: list[int] | None = None
    for index, chord in enumerate(chords):
        start = index * window
        voicing = voice_chord(chord, previous=previous, low=low, high=high, size=size)
        previous = voicing
        beats = max(1, window // beat)
        if pattern == "sustain":
            hits = [(0, window, voicing)]
        elif pattern == "block":
            hits = [(b * beat, beat, voicing) for b in range(beats)]
        elif pattern == "strum":
            hits = [(t, beat // 2, voicing) for t in range(0, window, beat // 2)]
        elif pattern == "offbeat":
            hits = [(b * beat + beat // 2, beat // 2, voicing) for b in range(beats)]
        elif pattern == "waltz":
            hits = [(b * beat, beat, voicing) for b in range(1, beats)] or [(0, window, voicing)]
        elif pattern == "charleston":
            hits = [(0, beat, voicing)] + ([(beat + beat // 2, beat // 2, voicing)] if beats >= 2 else [])
        elif pattern == "arpeggio":
            order = voicing + voicing[-2:0:-1]
            step = beat // 2
            hits = [(t, step * 2, [order[i % len(order)]]) for i, t in enumerate(range(0, window, step))]
        else:
            raise ValueError(f"unknown comping pattern {pattern!r}")
        notes += [Note(start + t, d, p) for t, d, chord_notes in hits if t < window for p in chord_notes]
    return notes


def _strummed(events: tuple[NoteEvent, ...], *, spread: float) -> tuple[NoteEvent, ...]:
    """Spread simultaneous chord notes low to high by ``spread`` seconds, like a strum."""
    if spread <= 0:
        return events
    out = []
    by_start: dict[float, list[NoteEvent]] = {}
    for event in events:
        by_start.setdefault(event.start, []).append(event)
    for start, group in by_start.items():
        for rank, event in enumerate(sorted(group, key=lambda e: e.pitch)):
            shifted = round(start + rank * spread, 5)
            if shifted < event.end:
                out.append(NoteEvent(shifted, event.end, event.pitch, event.velocity))
    return tuple(sorted(out, key=lambda e: (e.start, e.pitch)))


# --- chorale ---------------------------------------------------------------------------------------------------


def _arrange_chorale(piece: Piece, *, seconds: float, rng: np.random.Generator) -> Arrangement:
    tempo = _draw_tempo(piece, "chorale", rng)
    timeline = _timeline(piece, seconds=seconds, tempo=tempo, swing=0.5)
    num_bars, start_bar, transpose = _place(piece, timeline, rng, transpose_range=(-4, 5))
    excerpt = _excerpt(piece, CHORALE_VOICES, start_bar=start_bar, num_bars=num_bars, transpose=transpose)
    stems = {}
    for name in CHORALE_VOICES:
        program = int(_pick(rng, CHORALE_PROGRAMS[name]))
        legato = float(rng.uniform(0.8, 1.0))
        events = _performed(
            excerpt[name],
            timeline,
            rng,
            velocity=(70, 105),
            legato=legato,
            jitter_ms=float(rng.uniform(3, 15)),
            bar_ticks=piece.bar_ticks,
        )
        stems[name] = StemPlan(name, program, False, events, {"legato": round(legato, 3)})
    return Arrangement(
        preset="chorale",
        piece=piece,
        style="chorale",
        tempo_bpm=tempo,
        transpose=transpose,
        start_bar=start_bar,
        num_bars=num_bars,
        duration=seconds,
        stems=stems,
        choices={},
    )
