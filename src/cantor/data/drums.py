"""Drum grooves for the band preset: one generator per style, humanised, with fills and crashes at phrase edges.

All positions are in ticks (1/48 quarter). A bar is split into drum beats of a quarter (simple meters) or a dotted
quarter (compound meters: 6/8, 9/8, 12/8) with eighth-note subdivisions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EIGHTH = 24
SIXTEENTH = 12

KICK, KICK_ALT, SIDE_STICK, SNARE, CLAP, SNARE_ALT = 36, 35, 37, 38, 39, 40
CLOSED_HAT, PEDAL_HAT, OPEN_HAT, CRASH, RIDE, RIDE_BELL = 42, 44, 46, 49, 51, 53
TAMBOURINE, COWBELL, CRASH_2, SHAKER, CABASA, HIGH_CONGA, LOW_CONGA = 54, 56, 57, 70, 69, 63, 64
TOMS = (50, 48, 47, 45, 43, 41)
TRIANGLE = 81

STYLES = ("pop", "rock", "swing", "waltz", "latin", "ballad", "folk", "hymn")


@dataclass(frozen=True)
class Hit:
    tick: int
    pitch: int
    velocity: int


@dataclass(frozen=True)
class DrumFeel:
    """Per-song choices that keep a groove consistent for the whole song (all recorded in the manifest)."""

    style: str
    timekeeper: int
    backbeat: int
    kick: int
    sixteenths: bool
    extra_kick_probability: float
    ghost_probability: float
    fill_probability: float
    phrase_bars: int
    loudness: float

    @staticmethod
    def draw(style: str, rng: np.random.Generator) -> DrumFeel:
        if style not in STYLES:
            raise ValueError(f"unknown drum style {style!r}; choose from {STYLES}")
        timekeepers = {
            "swing": (RIDE,),
            "ballad": (CLOSED_HAT, RIDE),
            "folk": (SHAKER, CLOSED_HAT, TAMBOURINE, CABASA),
            "hymn": (RIDE,),
            "latin": (CLOSED_HAT, SHAKER, CABASA),
        }.get(style, (CLOSED_HAT, CLOSED_HAT, RIDE, SHAKER))
        backbeats = {"ballad": (SIDE_STICK, SNARE), "latin": (SIDE_STICK,), "folk": (SNARE, TAMBOURINE, CLAP)}.get(
            style, (SNARE, SNARE, SNARE_ALT, CLAP)
        )
        return DrumFeel(
            style=style,
            timekeeper=int(rng.choice(timekeepers)),
            backbeat=int(rng.choice(backbeats)),
            kick=int(rng.choice((KICK, KICK, KICK_ALT))),
            sixteenths=bool(style in ("pop", "rock") and rng.random() < 0.3),
            extra_kick_probability=float(rng.uniform(0.0, 0.5)),
            ghost_probability=float(rng.uniform(0.0, 0.3)),
            fill_probability=float(rng.uniform(0.3, 0.9)),
            phrase_bars=int(rng.choice((4, 8))),
            loudness=float(rng.uniform(0.7, 1.0)),
        )


def groove(feel: DrumFeel, *, bar_ticks: int, beat_ticks: int, num_bars: int, rng: np.random.Generator) -> list[Hit]:
    """Hits for ``num_bars`` bars, bar 0 starting at tick 0."""
    compound = beat_ticks % 72 == 0 and beat_ticks != 0
    drum_beat = 72 if compound else 48
    beats = max(1, bar_ticks // drum_beat)
    hits: list[Hit] = []
    for bar in range(num_bars):
        origin = bar * bar_ticks
        phrase_end = (bar + 1) % feel.phrase_bars == 0 and bar < num_bars - 1
        fill = phrase_end and rng.random() < feel.fill_probability
        fill_from = bar_ticks - (drum_beat if rng.random() < 0.6 or beats < 2 else 2 * drum_beat) if fill else bar_ticks
        bar_hits = _STYLE_BARS[feel.style](feel, beats, drum_beat, compound, bar, rng)
        if bar % feel.phrase_bars == 0 and (bar > 0 or rng.random() < 0.5) and feel.style != "hymn":
            bar_hits.append(Hit(0, int(rng.choice((CRASH, CRASH_2))), 100))
        if fill:
            bar_hits = [h for h in bar_hits if h.tick < fill_from] + _fill(fill_from, bar_ticks, compound, rng)
        for hit in bar_hits:
            if hit.tick < bar_ticks:
                velocity = hit.velocity * feel.loudness + rng.normal(0, 6)
                hits.append(Hit(origin + hit.tick, hit.pitch, min(max(round(velocity), 12), 127)))
    return hits


def _timekeeping(feel: DrumFeel, beats: int, drum_beat: int, compound: bool, base: int) -> list[Hit]:
    step = EIGHTH if compound or not feel.sixteenths else SIXTEENTH
    hits = []
    for tick in range(0, beats * drum_beat, step):
        accent = 1.0 if tick % drum_beat == 0 else 0.75
        hits.append(Hit(tick, feel.timekeeper, int(base * accent)))
    return hits


def _backbeats(beats: int) -> list[int]:
    if beats == 1:
        return []
    if beats == 3:
        return [1, 2]
    return list(range(1, beats, 2))


def _ghosts(feel: DrumFeel, beats: int, drum_beat: int, rng: np.random.Generator) -> list[Hit]:
    return [
        Hit(tick, SNARE, 35)
        for tick in range(EIGHTH, beats * drum_beat, EIGHTH)
        if tick % drum_beat != 0 and rng.random() < feel.ghost_probability
    ]


def _pop_bar(feel, beats, drum_beat, compound, bar, rng, *, strength=90):
    hits = _timekeeping(feel, beats, drum_beat, compound, strength - 20)
    hits += [Hit(b * drum_beat, feel.kick, strength + 10) for b in range(0, beats, 2)]
    hits += [Hit(b * drum_beat, feel.backbeat, strength + 5) for b in _backbeats(beats)]
    hits += [
        Hit(b * drum_beat + (drum_beat - EIGHTH), feel.kick, strength - 10)
        for b in range(beats)
        if rng.random() < feel.extra_kick_probability
    ]
    return hits + _ghosts(feel, beats, drum_beat, rng)


def _rock_bar(feel, beats, drum_beat, compound, bar, rng):
    hits = _pop_bar(feel, beats, drum_beat, compound, bar, rng, strength=105)
    if beats >= 4 and rng.random() < 0.3:
        hits.append(Hit((beats - 1) * drum_beat + EIGHTH, OPEN_HAT, 90))
    return hits


def _swing_bar(feel, beats, drum_beat, compound, bar, rng):
    triplet = drum_beat * 2 // 3  # the swung "and"
    hits = []
    for b in range(beats):
        hits.append(Hit(b * drum_beat, RIDE, 80 if b % 2 else 70))
        if b % 2 == 1:
            hits.append(Hit(b * drum_beat + triplet, RIDE, 60))
            hits.append(Hit(b * drum_beat, PEDAL_HAT, 70))
        hits.append(Hit(b * drum_beat, feel.kick, 35))  # "feathered" quarter-note kick
        if rng.random() < 0.25:
            hits.append(Hit(b * drum_beat + triplet, SNARE, int(rng.integers(40, 75))))
    return hits


def _waltz_bar(feel, beats, drum_beat, compound, bar, rng):
    hits = [Hit(0, feel.kick, 90)]
    hits += [Hit(b * drum_beat, feel.backbeat, 65) for b in range(1, beats)]
    hits += [Hit(b * drum_beat, feel.timekeeper, 60) for b in range(beats)]
    return hits + _ghosts(feel, beats, drum_beat, rng)


# Son clave (3-2) over two bars of eight eighths.
_CLAVE = ((0, 3, 6), (2, 4))


def _latin_bar(feel, beats, drum_beat, compound, bar, rng):
    hits = _timekeeping(feel, beats, drum_beat, compound, 60)
    for b in range(0, beats, 2):
        hits += [Hit(b * drum_beat, feel.kick, 90), Hit(b * drum_beat + drum_beat + EIGHTH, feel.kick, 75)]
    hits += [Hit(e * EIGHTH, SIDE_STICK, 85) for e in _CLAVE[bar % 2] if e * EIGHTH < beats * drum_beat]
    hits += [
        Hit(tick, int(rng.choice((HIGH_CONGA, LOW_CONGA))), 70)
        for tick in range(0, beats * drum_beat, EIGHTH)
        if rng.random() < 0.3
    ]
    return hits


def _ballad_bar(feel, beats, drum_beat, compound, bar, rng):
    hits = _timekeeping(feel, beats, drum_beat, compound, 50)
    hits.append(Hit(0, feel.kick, 75))
    if beats >= 4 and rng.random() < 0.5:
        hits.append(Hit(2 * drum_beat + EIGHTH, feel.kick, 60))
    hits += [Hit(b * drum_beat, feel.backbeat, 70) for b in _backbeats(beats)]
    return hits


def _folk_bar(feel, beats, drum_beat, compound, bar, rng):
    hits = _timekeeping(feel, beats, drum_beat, compound, 60)
    hits += [Hit(b * drum_beat, feel.kick, 85) for b in range(0, beats, 2 if beats >= 4 else 1)]
    hits += [Hit(b * drum_beat, feel.backbeat, 70) for b in _backbeats(beats)]
    hits += [Hit(b * drum_beat + EIGHTH, TOMS[-1], 55) for b in range(beats) if rng.random() < 0.2]
    return hits


def _hymn_bar(feel, beats, drum_beat, compound, bar, rng):
    hits = [Hit(0, TOMS[-1], 70)]
    if bar % 2 == 0:
        hits.append(Hit(0, RIDE, 45))
    if rng.random() < 0.3:
        hits.append(Hit((beats - 1) * drum_beat, TOMS[-2], 55))
    if bar % feel.phrase_bars == 0:
        hits.append(Hit(0, TRIANGLE, 50))
    return hits


_STYLE_BARS = {
    "pop": _pop_bar,
    "rock": _rock_bar,
    "swing": _swing_bar,
    "waltz": _waltz_bar,
    "latin": _latin_bar,
    "ballad": _ballad_bar,
    "folk": _folk_bar,
    "hymn": _hymn_bar,
}


def _fill(start: int, end: int, compound: bool, rng: np.random.Generator) -> list[Hit]:
    step = EIGHTH // 2 if not compound else EIGHTH
    if rng.random() < 0.3:
        step *= 2
    voices = [SNARE, *TOMS] if rng.random() < 0.7 else [SNARE]
    count = max(1, (end - start) // step)
    hits = []
    for i, tick in enumerate(range(start, end, step)):
        pitch = voices[min(len(voices) - 1, i * len(voices) // count)]
        hits.append(Hit(tick, pitch, int(70 + 40 * i / count)))
    hits.append(Hit(start, KICK, 80))
    return hits
