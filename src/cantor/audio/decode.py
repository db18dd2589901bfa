"""Audio that libsndfile cannot read — AAC in M4A or MP4, Opus in WebM, WMA, AC-3, the sound of a video — decoded
through FFmpeg's libraries (PyAV's wheel bundles them; no ``ffmpeg`` program is needed).

Cantor's readers seek by sample, which compressed containers cannot do exactly, so a long file of these formats is
decoded once, block by block, into a float WAV in a folder the caller owns (:func:`readable`), and read from there.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from cantor.errors import AudioError
from cantor.files import atomic_path

FFMPEG_EXTENSIONS = (".m4a", ".mp4", ".aac", ".m4v", ".mov", ".webm", ".mkv", ".mka", ".opus", ".wma", ".ac3")


@dataclass(frozen=True)
class DecodedInfo:
    """The header facts Cantor uses, as ``soundfile.info`` names them. ``frames`` is the container's estimate
    (decoding gives the exact count), good for a progress bar's total."""

    frames: int
    samplerate: int
    channels: int
    format: str  # "FFMPEG:<codec>", e.g. "FFMPEG:aac"


def needs_ffmpeg(path: str | Path) -> bool:
    """A file whose suffix names a format libsndfile does not read."""
    return Path(path).suffix.lower() in FFMPEG_EXTENSIONS


def probe(path: str | Path, *, stream: int = 0) -> DecodedInfo:
    """Rate, channels and the estimated length of an audio stream, by default the first (raises
    :class:`AudioError`)."""
    path = Path(path)
    with _open(path, stream) as (container, audio):
        context = audio.codec_context
        if audio.duration is not None and audio.time_base is not None:
            seconds = float(audio.duration * audio.time_base)
        else:
            seconds = (container.duration or 0) / 1_000_000  # (the container's, in microseconds)
        return DecodedInfo(
            round(seconds * context.sample_rate), context.sample_rate, context.channels, f"FFMPEG:{context.name}"
        )


def count_audio_streams(path: str | Path) -> int:
    """How many audio streams a container holds (a MUSDB18 ``.stem.mp4``: five — the mixture, then the stems)."""
    with _open(Path(path), 0) as (container, _):
        return len(container.streams.audio)


def decode_blocks(path: str | Path, *, stream: int = 0) -> Iterator[np.ndarray]:
    """An audio stream (by default the first) as float32 blocks ``[time, channels]`` at its own rate (:func:`probe`'s),
    in order."""
    import av

    path = Path(path)
    with _open(path, stream) as (container, audio):
        context = audio.codec_context
        # Packed float32 at the stream's own rate and layout: a format change only, no resampling.
        converter = av.AudioResampler(format="flt", layout=context.layout, rate=context.sample_rate)
        try:
            for frame in itertools.chain(container.decode(audio), [None]):  # (None: what the converter holds)
                for converted in converter.resample(frame):
                    yield converted.to_ndarray().reshape(-1, context.channels)
        except av.error.FFmpegError as error:
            raise AudioError(f"{path}: corrupt audio data ({_reason(error)})") from None


def decode_array(path: str | Path) -> tuple[np.ndarray, int]:
    """The whole first audio stream as float32 ``[time, channels]`` and its sample rate."""
    return _checked(Path(path), list(decode_blocks(path))), probe(path).samplerate


def decode_to_file(path: str | Path, target: str | Path, *, stream: int = 0, subtype: str = "FLOAT") -> Path:
    """Decode an audio stream (by default the first) into ``target`` (WAV or FLAC, by its suffix; 32-bit float WAV by
    default) at the stream's rate and channels, block by block (flat memory); the target appears only when
    complete."""
    path = Path(path)
    info = probe(path, stream=stream)
    written = 0
    with atomic_path(target) as partial:
        with soundfile.SoundFile(
            partial, "w", samplerate=info.samplerate, channels=info.channels, subtype=subtype
        ) as out:
            for block in decode_blocks(path, stream=stream):
                _check_finite(path, block)
                out.write(block)
                written += len(block)
        if written == 0:
            raise AudioError(f"{path}: contains no audio samples (zero length)")
    return Path(target)


@contextlib.contextmanager
def readable(path: str | Path, scratch: str | Path) -> Iterator[Path]:
    """``path`` itself when libsndfile reads its format; otherwise the path of its decoded WAV in ``scratch`` (a
    folder the caller owns: an hour of stereo is 1.3 GB, too much for a RAM-backed temp folder), removed after."""
    path = Path(path)
    if not needs_ffmpeg(path):
        yield path
        return
    decoded = Path(scratch) / f".{path.stem}.decoded.wav"
    try:
        yield decode_to_file(path, decoded)
    finally:
        decoded.unlink(missing_ok=True)


@contextlib.contextmanager
def _open(path: Path, index: int = 0):
    """The container and its audio stream ``index``; every failure an :class:`AudioError` naming the file (a missing
    or empty file is :func:`~cantor.audio.io.audio_info`'s to report, first)."""
    import av

    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as error:
        raise AudioError(f"{path}: not a readable audio file ({_reason(error)})") from None
    with container:
        if not container.streams.audio:
            raise AudioError(f"{path}: has no audio stream")
        if index >= len(container.streams.audio):
            raise AudioError(f"{path}: has {len(container.streams.audio)} audio streams, not {index + 1}")
        stream = container.streams.audio[index]
        context = stream.codec_context
        if context is None:
            raise AudioError(f"{path}: an audio stream in a codec FFmpeg does not decode")
        if not context.sample_rate or not context.channels:
            raise AudioError(f"{path}: the audio stream gives no sample rate or channel count")
        yield container, stream


def _checked(path: Path, blocks: list[np.ndarray]) -> np.ndarray:
    if not blocks or sum(len(block) for block in blocks) == 0:
        raise AudioError(f"{path}: contains no audio samples (zero length)")
    data = np.concatenate(blocks)
    _check_finite(path, data)
    return data


def _check_finite(path: Path, data: np.ndarray) -> None:
    if not np.isfinite(data).all():
        raise AudioError(f"{path}: contains NaN or infinite samples")


def _reason(error: Exception) -> str:
    # FFmpeg's messages end with the file name, which ours already starts with.
    text = getattr(error, "strerror", None) or str(error)
    return text.split(": '", 1)[0].strip() or type(error).__name__
