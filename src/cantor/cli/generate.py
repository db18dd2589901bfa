"""``cantor generate``: new music from the LSTM-VAE, thin over :class:`cantor.Generator` and
:mod:`cantor.inference.scores`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import typer

from cantor.errors import UsageError

generate_app = typer.Typer(
    help="Write new music: sample, interpolate, continue (scores); variations (audio).", no_args_is_help=True
)

_STYLE = typer.Option("chorale", "--style", "-s", help="chorale, folk or band (or a trained generator's folder).")
_OUT = typer.Option(Path("generated"), "--out", "-o", help="Folder for the pieces (.mid, .musicxml, .png, .wav).")
_TEMPERATURE = typer.Option(
    None, "--temperature", "-t", help="Sampling temperature (0: always the likeliest; default: the model's own)."
)
_SEED = typer.Option(None, "--seed", help="Random seed: the same seed writes the same music.")
_TEMPO = typer.Option(90.0, "--tempo", help="Tempo of the MIDI and audio, in beats per minute.")
_PROGRAM = typer.Option(
    None,
    "--program",
    help="General-MIDI program for every pitched voice (default: organ / flute / sax, bass, e-piano).",
)
_SOUNDFONT = typer.Option(None, "--soundfont", help="Soundfont for the audio (path or name, e.g. TimGM6mb).")
_NO_AUDIO = typer.Option(False, "--no-audio", help="Write no audio (MIDI, MusicXML and the piano roll only).")
_VOCODER = typer.Option(None, "--vocoder", help="Also pass the audio through a Cantor vocoder (gan, waveflow).")
_OVERWRITE = typer.Option(False, "--overwrite", help="Replace pieces already written.")


@dataclass(frozen=True)
class _Output:
    """Where and how the pieces are written: the options every generate command shares."""

    out: Path
    tempo: float
    program: int | None
    soundfont: str | None
    no_audio: bool
    vocoder: str | None
    overwrite: bool


def _write(pieces, generator, settings: dict, output: _Output) -> None:
    from cantor.inference.scores import ScoreOptions, write_pieces, write_summary

    if output.tempo <= 0:
        raise UsageError(f"--tempo must be positive, got {output.tempo}")
    if output.program is not None and not 0 <= output.program <= 127:
        raise UsageError(f"--program must be a General-MIDI program 0–127, got {output.program}")
    options = ScoreOptions(
        tempo_bpm=output.tempo,
        programs=None if output.program is None else {voice: output.program for voice in generator.voices},
        soundfont=output.soundfont,
        audio=not output.no_audio,
        vocoder=output.vocoder,
    )
    written = write_pieces(pieces, output.out, options, overwrite=output.overwrite)
    summary = {
        "command": _command_line(),
        "model": str(generator.folder),
        "model_step": generator.metadata.get("step"),
        **settings,
        "tempo_bpm": output.tempo,
        "pieces": [path.stem for path in written],
    }
    write_summary(output.out, summary)
    for path in written:
        typer.echo(f"{path.with_suffix('')}.{{mid,musicxml,png{',wav' if options.audio else ''}}}")


def _command_line() -> str:
    import shlex
    import sys

    return "cantor " + " ".join(shlex.quote(a) for a in sys.argv[1:])


@generate_app.command("sample")
def sample(
    style: str = _STYLE,
    n: int = typer.Option(4, "--n", "-n", help="How many pieces."),
    bars: int = typer.Option(16, "--bars", help="Length of each piece in bars."),
    temperature: float | None = _TEMPERATURE,
    seed: int = _SEED,
    key: str = typer.Option(
        "style",
        "--key",
        help="Tonic of every piece (e.g. D, Bb); 'style': one of the style's own keys, drawn per piece; "
        "'written': as the model wrote it.",
    ),
    out: Path = _OUT,
    tempo: float = _TEMPO,
    program: int = _PROGRAM,
    soundfont: str = _SOUNDFONT,
    no_audio: bool = _NO_AUDIO,
    vocoder: str = _VOCODER,
    overwrite: bool = _OVERWRITE,
) -> None:
    """Sample new pieces from the model's prior."""
    from cantor.inference.generate import Generator

    generator = Generator(style)
    temperature = generator.temperature(temperature)  # recorded in generation.json
    pieces = generator.sample(n, bars=bars, temperature=temperature, seed=seed, key=key)
    settings = {"action": "sample", "n": n, "bars": bars, "temperature": temperature, "seed": seed, "key": key}
    _write(pieces, generator, settings, _Output(out, tempo, program, soundfont, no_audio, vocoder, overwrite))


@generate_app.command("interpolate")
def interpolate(
    first: Path = typer.Argument(..., help="MIDI file to start from."),
    last: Path = typer.Argument(..., help="MIDI file to end at."),
    steps: int = typer.Option(5, "--steps", help="Pieces from first to last, both ends included."),
    style: str = _STYLE,
    out: Path = _OUT,
    tempo: float = _TEMPO,
    program: int = _PROGRAM,
    soundfont: str = _SOUNDFONT,
    no_audio: bool = _NO_AUDIO,
    vocoder: str = _VOCODER,
    overwrite: bool = _OVERWRITE,
) -> None:
    """Morph one piece into another through the model's latent space (window by window)."""
    from cantor.inference.generate import Generator

    generator = Generator(style)
    pieces = generator.interpolate(first, last, steps=steps)
    settings = {"action": "interpolate", "first": str(first), "last": str(last), "steps": steps}
    _write(pieces, generator, settings, _Output(out, tempo, program, soundfont, no_audio, vocoder, overwrite))


@generate_app.command("continue")
def continue_(
    primer: Path = typer.Argument(..., help="MIDI file to continue (its top tracks are the voices)."),
    bars: int = typer.Option(8, "--bars", help="Bars to add."),
    temperature: float | None = _TEMPERATURE,
    seed: int = _SEED,
    style: str = _STYLE,
    out: Path = _OUT,
    tempo: float = _TEMPO,
    program: int = _PROGRAM,
    soundfont: str = _SOUNDFONT,
    no_audio: bool = _NO_AUDIO,
    vocoder: str = _VOCODER,
    overwrite: bool = _OVERWRITE,
) -> None:
    """Continue a primer: the piece written out is the primer followed by the new bars."""
    from cantor.inference.generate import Generator

    generator = Generator(style)
    temperature = generator.temperature(temperature)  # recorded in generation.json
    piece = generator.continue_(primer, bars=bars, temperature=temperature, seed=seed)
    settings = {"action": "continue", "primer": str(primer), "bars": bars, "temperature": temperature, "seed": seed}
    _write([piece], generator, settings, _Output(out, tempo, program, soundfont, no_audio, vocoder, overwrite))


@generate_app.command("variations")
def variations(
    audio: Path = typer.Argument(
        ..., help="Audio file: a song (the stem is separated first) or one stem (--stem none)."
    ),
    stem: str = typer.Option("melody", "--stem", help="Which separated stem to vary, or none: the file is the stem."),
    n: int = typer.Option(4, "--n", "-n", help="How many variations."),
    strength: float = typer.Option(
        4.0, "--strength", help="How far from the stem's encoding, in posterior standard deviations (0: none)."
    ),
    smoothing: float = typer.Option(0.5, "--smoothing", help="Seconds over which a variation's changes unfold."),
    seed: int = _SEED,
    model: str = typer.Option("stem-vae", "--model", help="Stem VAE (shipped name or folder)."),
    separator: str = typer.Option("band", "--separator", help="Separator that extracts the stem."),
    out: Path = typer.Option(Path("variations"), "--out", "-o", help="Folder for the audio and the spectrograms."),
    overwrite: bool = _OVERWRITE,
) -> None:
    """New audio that keeps a stem's character: separate, encode with the stem TCN-VAE, sample latents around the
    encoding, decode, and voice with the vocoder."""
    from cantor.files import write_json_atomic
    from cantor.inference.variations import Variations, write_variations

    if not audio.is_file():
        raise UsageError(f"{audio}: no such file")
    engine = Variations(model, separator=separator)
    result = engine.from_file(audio, stem=stem, n=n, strength=strength, smoothing=smoothing, seed=seed)
    name = audio.stem if stem == "none" else stem
    written = write_variations(result, out, stem=name, overwrite=overwrite)
    write_json_atomic(
        out / f"{name}-variations.json",
        {
            "command": _command_line(),
            "input": str(audio),
            "stem": stem,
            "model": str(engine.folder),
            "model_step": engine.metadata.get("step"),
            "vocoder": engine.vocoder.name,
            "separator": None if stem == "none" else separator,
            "n": n,
            "strength": strength,
            "smoothing_seconds": smoothing,
            "seed": seed,
            "reconstruction_mel_distance": round(result.reconstruction_distance, 4),
            "variation_mel_distances": [round(d, 4) for d in result.mel_distance],
            "files": [path.name for path in written],
        },
    )
    for path in written:
        typer.echo(path)
