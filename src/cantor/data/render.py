"""Rendering note lists to float32 stereo audio with FluidSynth.

Two traps measured on this machine shape this module:
- A reused synth carries chorus/reverb and voice state into the next render, so every stem gets a **fresh synth**
  (with FluidSynth's own effects off: Cantor adds and records its own). A *holder* synth per soundfont stays alive so
  new synths load the font from FluidSynth's sample cache instead of re-reading (and, for .sf3, re-decoding) it.
  The holder loads every sample once (seconds for a compressed .sf3); each fresh synth loads lazily, only the
  samples of its preset, from that cache: ~10–25 ms per stem with the same output as a full load.
- pyfluidsynth only returns int16; ``fluid_synth_write_float`` is called directly for float32 output.

Events are applied at FluidSynth's 64-sample block boundaries (1.45 ms at 44.1 kHz); ``notes.mid`` stores the exact
intended times.
"""

from __future__ import annotations

import ctypes
import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from cantor.errors import CantorError

DRUM_CHANNEL = 9
DRUM_BANK = 128
# A font with fewer melodic presets than this and no bank-128 kit is a drum-kit font (e.g. avldrums' recorded kits,
# one preset at bank 0): never a source of pitched stems.
MIN_MELODIC_PRESETS = 8
# The recorded kits Cantor knows start at key 36; GM's Acoustic Bass Drum (35) would be silent, so it plays as 36.
KIT_FONT_KEY_MAP = {35: 36}


@dataclass(frozen=True)
class NoteEvent:
    """A note to render: times in seconds, MIDI pitch and velocity (1–127)."""

    start: float
    end: float
    pitch: int
    velocity: int


@dataclass(frozen=True)
class RenderedStem:
    """Audio ``[2, time]`` and the preset FluidSynth actually played (a font may lack the requested one)."""

    audio: np.ndarray
    bank: int
    program: int


def soundfont_presets(path: str | Path) -> frozenset[tuple[int, int]]:
    """The ``(bank, program)`` of every preset in an SF2/SF3 file, read from its ``phdr`` chunk without loading
    samples (milliseconds, even for a 140 MB font). Raises :class:`CantorError` when the file is no soundfont."""
    path = Path(path)
    try:
        with path.open("rb") as file:
            start = file.read(12)
            if len(start) < 12 or start[:4] != b"RIFF" or start[8:] != b"sfbk":
                raise CantorError(f"{path}: not a SoundFont (SF2/SF3) file")
            # Top level: LIST INFO, LIST sdta (the samples, skipped), LIST pdta (the preset headers come first).
            while len(header := file.read(12)) == 12:
                chunk, size, kind = struct.unpack("<4sI4s", header)
                if chunk == b"LIST" and kind == b"pdta":
                    phdr, records_size = struct.unpack("<4sI", file.read(8))
                    if phdr != b"phdr":
                        break
                    records = file.read(records_size)
                    # 38-byte records: name[20], preset, bank, …; the last one is the terminal "EOP" record.
                    return frozenset(
                        (bank, program)
                        for program, bank in (
                            struct.unpack_from("<HH", records, offset + 20)
                            for offset in range(0, records_size - 38, 38)
                        )
                    )
                file.seek(size - 4, os.SEEK_CUR)
                if size % 2:  # RIFF pads an odd chunk with a byte; some SF3 writers do not
                    padded = file.read(4) != b"LIST"
                    file.seek(-3 if padded else -4, os.SEEK_CUR)
    except (OSError, struct.error) as error:
        raise CantorError(f"{path}: cannot read soundfont presets ({error})") from error
    raise CantorError(f"{path}: not a SoundFont (SF2/SF3) file: no preset headers")


def has_gm_drum_bank(presets: frozenset[tuple[int, int]]) -> bool:
    """Whether a font has General MIDI's drum kits (bank 128)."""
    return any(bank == DRUM_BANK for bank, _ in presets)


def is_drum_kit_font(presets: frozenset[tuple[int, int]]) -> bool:
    """A font of a recorded drum kit (or a few), not a General-MIDI set: no bank-128 kit and too few melodic
    presets to play the GM programs Cantor's arrangements ask for."""
    return not has_gm_drum_bank(presets) and len(presets) < MIN_MELODIC_PRESETS


def _import_fluidsynth():
    try:
        import fluidsynth
    except ImportError as error:  # pyfluidsynth raises ImportError when libfluidsynth is missing
        raise CantorError(
            "FluidSynth is not installed: run 'make setup' or 'apt-get install fluidsynth' (libfluidsynth3)"
        ) from error
    return fluidsynth


class FluidRenderer:
    """Renders one stem at a time; holds every soundfont loaded once for the life of the renderer.

    Not thread-safe; use one per worker process.
    """

    def __init__(self, soundfonts: Sequence[str | Path], *, sample_rate: int = 44100, gain: float = 0.5) -> None:
        self._fluidsynth = _import_fluidsynth()
        self.sample_rate = sample_rate
        self.gain = gain
        self._write_float = self._fluidsynth._fl.fluid_synth_write_float
        self._write_float.restype = ctypes.c_int
        # Without argtypes ctypes passes the 64-bit synth pointer as a C int and FluidSynth crashes.
        self._write_float.argtypes = [ctypes.c_void_p, ctypes.c_int] + [ctypes.c_void_p, ctypes.c_int, ctypes.c_int] * 2
        self._quiet_fluidsynth_log()
        self._holders = {}
        self._kit_presets: dict[Path, tuple[int, int]] = {}  # drum-kit fonts → the (bank, program) of their kit
        for font in soundfonts:
            font = Path(font)
            if not font.is_file():
                raise CantorError(f"{font}: soundfont not found")
            holder = self._new_synth(lazy_samples=False)
            if holder.sfload(str(font)) < 0:
                raise CantorError(f"{font}: FluidSynth cannot load this soundfont")
            self._holders[font] = holder
            presets = soundfont_presets(font)
            if is_drum_kit_font(presets):
                self._kit_presets[font] = min(presets)

    def _quiet_fluidsynth_log(self) -> None:
        """FluidSynth prints an error for every preset a font lacks; Cantor checks return codes and falls back
        itself (recording what played), so those lines would only bury the progress bar. Panics still print."""
        set_log = self._fluidsynth._fl.fluid_set_log_function
        set_log.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
        for level in (1, 2, 3, 4):  # FLUID_ERR, FLUID_WARN, FLUID_INFO, FLUID_DBG
            set_log(level, None, None)

    def _new_synth(self, *, lazy_samples: bool = True):
        return self._fluidsynth.Synth(
            gain=self.gain,
            samplerate=self.sample_rate,
            channels=16,
            **{
                "synth.reverb.active": 0,
                "synth.chorus.active": 0,
                "synth.cpu-cores": 1,
                "synth.polyphony": 512,
                "synth.dynamic-sample-loading": int(lazy_samples),
            },
        )

    def render(
        self,
        notes: Sequence[NoteEvent],
        *,
        soundfont: str | Path,
        program: int,
        is_drum: bool,
        num_samples: int,
    ) -> RenderedStem:
        """Render ``notes`` with one GM preset into ``num_samples`` stereo samples (notes past the end are cut)."""
        font = Path(soundfont)
        if font not in self._holders:
            raise CantorError(f"{font}: soundfont was not loaded by this renderer")
        kit = self._kit_presets.get(font)
        if kit is not None and not is_drum:
            raise CantorError(f"{font}: a drum-kit soundfont cannot play a pitched stem")
        synth = self._new_synth()
        try:
            font_id = synth.sfload(str(font))
            channel = DRUM_CHANNEL if is_drum else 0
            if kit is not None:
                bank, program = kit
                if synth.program_select(DRUM_CHANNEL, font_id, bank, program) != 0:  # any preset plays on channel 10
                    raise CantorError(f"{font}: FluidSynth cannot select its kit (bank {bank}, program {program})")
                notes = [replace(note, pitch=KIT_FONT_KEY_MAP.get(note.pitch, note.pitch)) for note in notes]
            else:
                bank, program = self._select_preset(synth, font_id, channel, program, is_drum)
            audio = self._play(synth, notes, channel, num_samples)
        finally:
            synth.delete()
        return RenderedStem(audio=audio, bank=bank, program=program)

    @staticmethod
    def _select_preset(synth, font_id: int, channel: int, program: int, is_drum: bool) -> tuple[int, int]:
        """Select the preset; fall back to the standard kit or the family's first program when a font lacks it."""
        bank = DRUM_BANK if is_drum else 0
        fallback = 0 if is_drum else program - program % 8
        for candidate in (program, fallback, 0):
            if synth.program_select(channel, font_id, bank, candidate) == 0:
                return bank, candidate
        raise CantorError(f"soundfont has neither bank {bank} program {program} nor a fallback")

    def _play(self, synth, notes: Sequence[NoteEvent], channel: int, num_samples: int) -> np.ndarray:
        events = []
        for note in notes:
            start = int(round(note.start * self.sample_rate))
            end = int(round(note.end * self.sample_rate))
            if start >= num_samples or end <= start:
                continue
            events.append((start, 1, note.pitch, note.velocity))
            if end < num_samples:
                events.append((end, 0, note.pitch, 0))  # off sorts before on at the same time: re-strikes work
        events.sort()
        audio = np.zeros((2, num_samples), dtype=np.float32)  # FluidSynth writes both rows in place
        position = 0
        for time, is_on, pitch, velocity in events:
            position = self._write(synth, audio, position, time)
            if is_on:
                synth.noteon(channel, pitch, velocity)
            else:
                synth.noteoff(channel, pitch)
        self._write(synth, audio, position, num_samples)
        return audio

    def _write(self, synth, audio: np.ndarray, position: int, until: int) -> int:
        count = until - position
        if count > 0:
            left = audio.ctypes.data + position * audio.itemsize
            right = left + audio.strides[0]
            status = self._write_float(synth.synth, count, left, 0, 1, right, 0, 1)
            if status != 0:
                raise CantorError("FluidSynth failed while rendering")
        return max(position, until)

    def close(self) -> None:
        for holder in self._holders.values():
            holder.delete()
        self._holders.clear()


def default_soundfonts() -> list[Path]:
    """General-MIDI soundfonts found on this machine, in a stable order (Debian paths first)."""
    candidates = [
        Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
        Path("/usr/share/sounds/sf3/MuseScore_General.sf3"),
        Path("/usr/share/sounds/sf2/OPL-3_FM_128M.sf2"),
        Path("/usr/share/sounds/sf2/sf_GMbank.sf2"),  # Csound's small GM bank: short, plain samples
    ]
    return _installed(candidates)


def drum_kit_soundfonts() -> list[Path]:
    """Recorded drum kits found on this machine (Debian's ``avldrums.lv2-soundfont``: two multi-sampled acoustic
    kits), for drum stems only (``--drum-soundfont``)."""
    candidates = [
        Path("/usr/share/sounds/sf2/Black_Pearl_4_LV2.sf2"),
        Path("/usr/share/sounds/sf2/Red_Zeppelin_4_LV2.sf2"),
    ]
    return _installed(candidates)


def _installed(candidates: list[Path]) -> list[Path]:
    """The candidate fonts present and readable on this machine, in the order given."""
    return [path for path in candidates if path.is_file() and os.access(path, os.R_OK)]


def timgm6mb_soundfont() -> Path:
    """TimGM6mb, shipped inside the pretty_midi wheel: Cantor's held-out font for generalisation tests."""
    import pretty_midi

    return Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"


def resolve_soundfont(font: str) -> Path:
    """A soundfont path, or the bare name of a known font (``TimGM6mb``, ``FluidR3_GM.sf2``, …) → its path.

    Paths that do not exist are returned unchanged, for the build's own "not found" message.
    """
    path = Path(font).expanduser()
    if path.exists() or path.parent != Path("."):
        return path
    for known in [*default_soundfonts(), *drum_kit_soundfonts(), timgm6mb_soundfont()]:
        if font in (known.name, known.stem):
            return known
    return path
