"""General-MIDI programs, their families, and the pools each stem draws its instrument from."""

from __future__ import annotations

# The 16 GM families of 8 programs each, plus "drums" for channel 10. Names follow the issue tracker's labels.
GM_FAMILIES = (
    "piano",
    "chromatic percussion",
    "organ",
    "guitar",
    "bass",
    "strings",
    "ensemble",
    "brass",
    "reed",
    "pipe",
    "synth lead",
    "synth pad",
    "synth effects",
    "ethnic",
    "percussive",
    "sound effects",
)
DRUMS_FAMILY = "drums"
# The instrument classifier's labels: the GM families and drums; programs 0–127 plus one label for every drum kit.
FAMILIES = (*GM_FAMILIES, DRUMS_FAMILY)
DRUM_PROGRAM_LABEL = 128

# GM drum kits (bank 128 programs) found in FluidR3_GM; other fonts fall back to the standard kit (0).
DRUM_KITS = {
    0: "Standard",
    8: "Room",
    16: "Power",
    24: "Electronic",
    25: "TR-808",
    32: "Jazz",
    40: "Brush",
    48: "Orchestra",
}


def family_of(program: int, *, is_drum: bool = False) -> str:
    """GM family name of a program (0–127)."""
    if is_drum:
        return DRUMS_FAMILY
    if not 0 <= program <= 127:
        raise ValueError(f"GM program must be in 0..127, got {program}")
    return GM_FAMILIES[program // 8]


def instrument_name(program: int, *, is_drum: bool = False) -> str:
    """Human-readable name: the GM instrument, or the drum kit."""
    if is_drum:
        return f"{DRUM_KITS.get(program, f'Kit {program}')} drum kit"
    import pretty_midi  # here: the label tables above are needed where pretty_midi is not (the generator)

    return pretty_midi.program_to_instrument_name(program)


def _family_programs(*families: str, exclude: tuple[int, ...] = ()) -> tuple[int, ...]:
    programs = [p for f in families for p in range(GM_FAMILIES.index(f) * 8, GM_FAMILIES.index(f) * 8 + 8)]
    return tuple(p for p in programs if p not in exclude)


# Programs per stem of the `band` preset. Sound effects, percussive and most ethnic programs are left out: they do
# not carry a melody or a chord. Pitch ranges are kept playable by octave-shifting into each stem's register.
BAND_PROGRAMS = {
    "melody": _family_programs(
        "piano",
        "chromatic percussion",
        "organ",
        "strings",
        "brass",
        "reed",
        "pipe",
        "synth lead",
        exclude=(43, 44, 45, 47, 55, 58),
    )
    + (24, 25, 26, 27, 29, 30, 52, 53, 54, 104, 105, 109, 110),
    "bass": _family_programs("bass") + (43, 58, 42, 70, 87),
    "other": _family_programs("piano", "organ", "guitar", "synth pad")
    + (11, 12, 13, 46, 48, 49, 50, 51, 52, 61, 62, 63, 105, 107),
}

# The `chorale` preset draws each voice from instruments that can play its range.
CHORALE_PROGRAMS = {
    "soprano": (40, 48, 49, 52, 53, 54, 56, 64, 68, 71, 72, 73, 74, 75, 79, 16, 19, 20, 21, 80, 81, 88, 6, 11),
    "alto": (41, 48, 49, 52, 53, 54, 56, 60, 65, 68, 69, 71, 73, 16, 19, 20, 21, 89, 91, 11, 12),
    "tenor": (41, 42, 48, 49, 52, 53, 54, 57, 60, 61, 66, 69, 70, 71, 16, 19, 20, 89, 94, 12),
    "bass": (42, 43, 32, 33, 35, 38, 48, 52, 57, 58, 67, 70, 19, 20, 39, 87),
}

# Drum kits preferred per style.
STYLE_KITS = {
    "pop": (0, 24, 25, 8),
    "rock": (16, 0, 8),
    "swing": (32, 40, 0),
    "waltz": (40, 32, 0, 8),
    "latin": (0, 8, 32),
    "ballad": (40, 0, 32, 8),
    "folk": (8, 0, 40),
    "hymn": (48, 0, 8),
}
