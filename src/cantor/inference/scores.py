"""Writing generated pieces: MIDI, MusicXML, a piano-roll picture and audio, all of one piece side by side.

Every file is written beside the others under a temporary name and renamed when complete, so a failure (no
FluidSynth, a full disk) never leaves a half-written piece.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cantor.data.corpus import TICKS_PER_QUARTER, Piece
from cantor.data.render import FluidRenderer, NoteEvent, default_soundfonts, resolve_soundfont, timgm6mb_soundfont
from cantor.data.symbolic import DRUM_VOICE, piece_to_midi
from cantor.errors import UsageError
from cantor.files import make_folder

SAMPLE_RATE = 44100
# General-MIDI programs by voice: an organ for the chorales (their instrument in church), a flute for folk tunes,
# and for a band (a score with a drums voice) an alto sax, a fingered bass and an electric piano.
DEFAULT_PROGRAMS = {"soprano": 19, "alto": 19, "tenor": 19, "bass": 19, "melody": 73}
BAND_PROGRAMS = {"melody": 65, "bass": 33, "chords": 4}
VOICE_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")


@dataclass(frozen=True)
class ScoreOptions:
    """How generated pieces are written: tempo, GM program per voice, soundfont, audio on or off, and an optional
    Cantor vocoder that the rendered audio is also passed through."""

    tempo_bpm: float = 90.0
    programs: dict[str, int] | None = None
    soundfont: str | None = None
    audio: bool = True
    vocoder: str | None = None

    def program(self, voice: str, piece: Piece) -> int:
        defaults = BAND_PROGRAMS if DRUM_VOICE in piece.voices else DEFAULT_PROGRAMS
        return (self.programs or {}).get(voice, defaults.get(voice, 0))


def write_pieces(pieces: list[Piece], out: Path, options: ScoreOptions, *, overwrite: bool = False) -> list[Path]:
    """Write each piece as ``out/<title>.{mid,musicxml,png,wav}`` (and ``.vocoded.wav``); returns the MIDI paths.

    Refuses to replace existing files unless ``overwrite``; checks that before writing anything."""
    suffixes = [".mid", ".musicxml", ".png", *([".wav"] if options.audio else [])]
    if options.vocoder:
        if not options.audio:
            raise UsageError("a vocoder needs the rendered audio: drop --no-audio")
        suffixes.append(".vocoded.wav")
    clashes = [out / f"{piece.title}{suffix}" for piece in pieces for suffix in suffixes]
    existing = [path for path in clashes if path.exists()]
    if existing and not overwrite:
        raise UsageError(f"{existing[0]} exists; pass --overwrite to replace it")
    make_folder(out)
    renderer = _renderer(options) if options.audio else None
    try:
        return _write_each(pieces, out, options, renderer)
    finally:
        if renderer is not None:
            renderer.close()


def _write_each(pieces: list[Piece], out: Path, options: ScoreOptions, renderer: FluidRenderer | None) -> list[Path]:
    vocoder = _vocoder(options.vocoder) if options.vocoder else None
    written = []
    for piece in pieces:
        staging = out / f".{piece.title}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        try:
            midi = staging / f"{piece.title}.mid"
            piece_to_midi(piece, midi, tempo_bpm=options.tempo_bpm, programs=_programs(piece, options))
            _write_musicxml(midi, staging / f"{piece.title}.musicxml")
            plot_piano_roll(piece, staging / f"{piece.title}.png")
            if renderer is not None:
                audio = render_piece(piece, renderer, options)
                _save(staging / f"{piece.title}.wav", audio)
                if vocoder is not None:
                    _save(staging / f"{piece.title}.vocoded.wav", vocoder.resynthesize(audio, SAMPLE_RATE).numpy())
            for file in staging.iterdir():
                file.replace(out / file.name)
            written.append(out / midi.name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return written


def write_summary(out: Path, payload: dict) -> Path:
    """``out/generation.json``: what was asked for and with which model, so a piece can be made again."""
    from cantor.files import write_json_atomic

    path = out / "generation.json"
    write_json_atomic(path, payload)
    return path


def render_piece(piece: Piece, renderer: FluidRenderer, options: ScoreOptions) -> np.ndarray:
    """Every voice rendered with its program and summed: ``[2, samples]`` at 44.1 kHz, peak at −1 dBFS."""
    seconds_per_tick = 60.0 / options.tempo_bpm / TICKS_PER_QUARTER
    samples = int((piece.length_ticks * seconds_per_tick + 1.5) * SAMPLE_RATE)  # 1.5 s for the last notes to ring out
    font = renderer_font(options)
    mix = np.zeros((2, samples), dtype=np.float32)
    for voice, notes in piece.voices.items():
        events = [
            NoteEvent(n.onset * seconds_per_tick, (n.onset + n.duration) * seconds_per_tick, n.pitch, 80) for n in notes
        ]
        if events:
            mix += renderer.render(
                events,
                soundfont=font,
                program=options.program(voice, piece),
                is_drum=voice == DRUM_VOICE,
                num_samples=samples,
            ).audio
    peak = float(np.abs(mix).max())
    return mix * (10 ** (-1 / 20) / peak) if peak > 0 else mix


def renderer_font(options: ScoreOptions) -> Path:
    """The soundfont asked for, else the first General-MIDI font installed, else TimGM6mb (always there)."""
    if options.soundfont:
        font = resolve_soundfont(options.soundfont)
        if not font.is_file():
            raise UsageError(f"--soundfont {options.soundfont}: not found")
        return font
    installed = default_soundfonts()
    return installed[0] if installed else timgm6mb_soundfont()


def plot_piano_roll(piece: Piece, path: Path) -> Path:
    """A piano roll of every voice in its own colour, bars numbered along the bottom."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bar_ticks = piece.bar_ticks
    bars = max(1, -(-piece.length_ticks // bar_ticks))
    figure, axis = plt.subplots(figsize=(min(24, 2 + 0.8 * bars), 4))
    pitches = []
    for index, (voice, notes) in enumerate(piece.voices.items()):
        colour = VOICE_COLOURS[index % len(VOICE_COLOURS)]
        for note in notes:
            start, width = note.onset / bar_ticks, note.duration / bar_ticks
            axis.add_patch(plt.Rectangle((start, note.pitch - 0.4), width, 0.8, color=colour, linewidth=0))
            pitches.append(note.pitch)
        axis.plot([], [], color=colour, linewidth=6, label=voice)
    for bar in range(bars + 1):
        axis.axvline(bar, color="#bbbbbb", linewidth=0.6, zorder=0)
    axis.set_xlim(0, bars)
    axis.set_ylim((min(pitches) - 2, max(pitches) + 2) if pitches else (48, 84))
    axis.set_xticks(np.arange(bars) + 0.5, [str(bar + 1) for bar in range(bars)])
    axis.set_xlabel("bar")
    axis.set_ylabel("MIDI pitch")
    axis.set_title(piece.title)
    axis.legend(loc="upper right", fontsize=8, ncol=len(piece.voices))
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path


def _programs(piece: Piece, options: ScoreOptions) -> dict[str, int]:
    return {voice: options.program(voice, piece) for voice in piece.voices if voice != DRUM_VOICE}


def _renderer(options: ScoreOptions) -> FluidRenderer:
    return FluidRenderer([renderer_font(options)], sample_rate=SAMPLE_RATE)


def _vocoder(name: str):
    from cantor.inference.vocode import Vocoder

    return Vocoder(name)


def _write_musicxml(midi: Path, target: Path) -> None:
    from cantor.analysis.notes import midi_to_musicxml

    midi_to_musicxml(midi, target)


def _save(path: Path, audio: np.ndarray) -> None:
    from cantor.audio.io import save

    save(path, np.asarray(audio, dtype=np.float32), SAMPLE_RATE, subtype="PCM_16")
