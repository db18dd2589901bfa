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
# The demuxers FFmpeg may pick for these files (it chooses by content, so a mislabelled file still opens). Others
# stay out: the concat demuxer, for one, would read the files a text file names.
_DEMUXERS = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,ogg,asf,aac,ac3,eac3,mp3,flac,wav"
# A decode this much shorter than the container promised is a truncated file (the promise is an estimate).
_TRUNCATION_SECONDS, _TRUNCATION_SHARE = 1.0, 0.02


@dataclass(frozen=True)
class DecodedInfo:
    """The header facts Cantor uses, as ``soundfile.info`` names them.

    ``frames`` is the container's estimate (0 where it gives none, as a live recording's WebM), good for a
    progress bar's total; decoding gives the exact count. ``promised_frames`` is that estimate where it is the audio
    stream's own length (not a video's), 0 otherwise: a decode far shorter is a truncated file.
    """

    frames: int
    samplerate: int
    channels: int
    format: str  # "FFMPEG:<codec>", e.g. "FFMPEG:aac"
    promised_frames: int = 0


def needs_ffmpeg(path: str | Path) -> bool:
    """A file whose suffix names a format libsndfile does not read."""
    return Path(path).suffix.lower() in FFMPEG_EXTENSIONS


def probe(path: str | Path, *, stream: int = 0) -> DecodedInfo:
    """Rate, channels and the estimated length of an audio stream, by default the first (raises
    :class:`AudioError`, also where the container gives no length and the stream decodes to nothing)."""
    path = Path(path)
    with _open(path, stream) as (container, audio):
        context = audio.codec_context
        if audio.duration is not None and audio.time_base is not None:
            seconds, own = float(audio.duration * audio.time_base), True
        else:  # the container's length, in microseconds: the audio's own only if nothing else is in it
            seconds, own = (container.duration or 0) / 1_000_000, len(container.streams) == 1
        frames = round(seconds * context.sample_rate)
        info = DecodedInfo(
            frames, context.sample_rate, context.channels, f"FFMPEG:{context.name}", frames if own else 0
        )
    if frames <= 0 and next(decode_blocks(path, stream=stream), None) is None:
        raise AudioError(f"{path}: contains no audio samples (zero length)")
    return info


def count_audio_streams(path: str | Path) -> int:
    """How many audio streams a container holds (a MUSDB18 ``.stem.mp4``: five — the mixture, then the stems)."""
    with _open(Path(path), 0) as (container, _):
        return len(container.streams.audio)


def decode_blocks(path: str | Path, *, stream: int = 0) -> Iterator[np.ndarray]:
    """An audio stream (by default the first) as float32 blocks ``[time, channels]`` at its rate and channel count
    as :func:`probe` gives them, in order. Empty blocks are skipped. A stream whose layout or rate changes midway (a
    broadcast switching between stereo and 5.1) is converted to the first one's."""
    import av

    path = Path(path)
    with _open(path, stream) as (container, audio):
        context = audio.codec_context
        layout, rate, channels = context.layout, context.sample_rate, context.channels
        # A converter is fixed to the first input it sees: a new one for each change, the old one emptied first;
        # the final None empties the last.
        converter, source = None, None
        try:
            for frame in itertools.chain(container.decode(audio), [None]):
                if frame is not None and (frame.layout.name, frame.sample_rate) != source:
                    if converter is not None:
                        yield from _blocks(converter.resample(None), channels)
                    converter = av.AudioResampler(format="flt", layout=layout, rate=rate)
                    source = (frame.layout.name, frame.sample_rate)
                if converter is not None:
                    yield from _blocks(converter.resample(frame), channels)
        except (av.error.FFmpegError, ValueError) as error:
            raise AudioError(f"{path}: corrupt audio data ({_reason(error)})") from None


def _blocks(frames, channels: int) -> Iterator[np.ndarray]:
    for frame in frames:
        block = frame.to_ndarray().reshape(-1, channels)
        if len(block):
            yield block


def decode_array(path: str | Path, info: DecodedInfo | None = None) -> tuple[np.ndarray, int]:
    """The whole first audio stream as float32 ``[time, channels]`` and its sample rate (``info``: its
    :func:`probe`, where the caller has it already)."""
    path = Path(path)
    info = info or probe(path)
    data = np.concatenate(list(decode_blocks(path)) or [np.zeros((0, info.channels), np.float32)])
    _check_decoded(path, info, len(data))
    if not np.isfinite(data).all():
        raise AudioError(f"{path}: contains NaN or infinite samples")
    return data, info.samplerate


def decode_to_file(
    path: str | Path, target: str | Path, *, stream: int = 0, file_format: str | None = None, subtype: str = "FLOAT"
) -> Path:
    """Decode an audio stream (by default the first) into ``target`` at the stream's rate and channels, block by
    block (flat memory): a 32-bit float WAV by default, or as ``file_format`` (``"RF64"``: a WAV past 4 GiB) and
    ``subtype`` say (FLAC for a ``.flac`` target). The target appears only when complete."""
    path = Path(path)
    info = probe(path, stream=stream)
    written = 0
    with atomic_path(target) as partial:
        try:
            with soundfile.SoundFile(
                partial, "w", info.samplerate, info.channels, subtype=subtype, format=file_format
            ) as out:
                for block in decode_blocks(path, stream=stream):
                    if not np.isfinite(block).all():
                        raise AudioError(f"{path}: contains NaN or infinite samples")
                    out.write(block)
                    written += len(block)
        except (soundfile.LibsndfileError, OSError) as error:
            raise AudioError(f"{target}: cannot write the decoded audio ({error})") from None
        _check_decoded(path, info, written)
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
        yield decode_to_file(path, decoded, file_format="RF64")
    finally:
        decoded.unlink(missing_ok=True)


@contextlib.contextmanager
def _open(path: Path, stream: int):
    """The container and its audio stream number ``stream``; every failure an :class:`AudioError` naming the file
    (a missing or empty file is :func:`~cantor.audio.io.audio_info`'s to report, first)."""
    import av

    try:
        container = av.open(str(path), options={"format_whitelist": _DEMUXERS})
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as error:
        raise AudioError(f"{path}: not a readable audio file ({_reason(error)})") from None
    with container:
        audio_streams = container.streams.audio
        if not audio_streams:
            raise AudioError(f"{path}: has no audio stream")
        if stream >= len(audio_streams):
            raise AudioError(f"{path}: has {len(audio_streams)} audio streams, not {stream + 1}")
        context = audio_streams[stream].codec_context
        if context is None:
            raise AudioError(f"{path}: an audio stream in a codec FFmpeg does not decode")
        if not context.sample_rate or not context.channels:
            raise AudioError(f"{path}: the audio stream gives no sample rate or channel count")
        yield container, audio_streams[stream]


def _check_decoded(path: Path, info: DecodedInfo, frames: int) -> None:
    if frames == 0:
        raise AudioError(f"{path}: contains no audio samples (zero length)")
    promised = info.promised_frames
    if promised and frames < promised - max(_TRUNCATION_SECONDS * info.samplerate, _TRUNCATION_SHARE * promised):
        raise AudioError(f"{path}: truncated — the container promises about {promised} frames, only {frames} decode")


def _reason(error: Exception) -> str:
    # FFmpeg's messages end with the file name, which ours already starts with.
    text = getattr(error, "strerror", None) or str(error)
    return text.split(": '", 1)[0].strip() or type(error).__name__
