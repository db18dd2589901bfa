"""Reading and writing audio files.

Every reader error becomes an :class:`~cantor.errors.AudioError` naming the file and the reason, and every write is
atomic (a temporary file in the target folder, renamed when complete), so a crash never leaves a half-written file.
Formats libsndfile does not read (M4A, MP4, Opus, …) go through :mod:`cantor.audio.decode`.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import soundfile
import soxr
import torch

from cantor.audio.decode import FFMPEG_EXTENSIONS, DecodedInfo, decode_array, needs_ffmpeg, probe
from cantor.audio.resample import resample
from cantor.errors import AudioError
from cantor.files import atomic_path

READABLE_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif", *FFMPEG_EXTENSIONS)
WRITABLE_FORMATS = {".wav": "WAV", ".flac": "FLAC"}
DEFAULT_SUBTYPE = {"WAV": "FLOAT", "FLAC": "PCM_24"}


def load(path: str | Path, *, sample_rate: int | None = None, mono: bool = False) -> tuple[torch.Tensor, int]:
    """Read an audio file as float32.

    Args:
        path: a WAV, FLAC, OGG, MP3 or AIFF file, or one FFmpeg decodes (M4A, MP4, Opus, WebM, WMA, …).
        sample_rate: resample to this rate; ``None`` keeps the file's rate.
        mono: average the channels into one.

    Returns:
        ``(audio, sample_rate)`` with ``audio`` of shape ``[channels, time]``.

    Raises:
        AudioError: the file is missing, is not audio, is truncated or corrupt, has no samples, or holds NaN/Inf.
    """
    path = Path(path)
    data, file_rate = read_array(path)
    audio = torch.from_numpy(np.ascontiguousarray(data.T))
    if mono and audio.shape[0] > 1:
        audio = audio.mean(dim=0, keepdim=True)
    if sample_rate is not None and sample_rate != file_rate:
        audio = resample(audio, orig_sample_rate=file_rate, target_sample_rate=sample_rate)
        file_rate = sample_rate
    return audio, file_rate


def read_array(path: Path, *, start: int = 0, frames: int = -1) -> tuple[np.ndarray, int]:
    """Read ``frames`` frames from ``start`` as a float32 array ``[time, channels]``, with every check of ``load``.
    A format that needs FFmpeg is decoded whole each time: stream long ones through :func:`~cantor.audio.decode.
    readable` instead."""
    if needs_ffmpeg(path):
        data, rate = decode_array(path, audio_info(path))  # (audio_info: its checks and messages first)
        return data[start : None if frames < 0 else start + frames], rate
    info = audio_info(path)
    wanted = info.frames - start if frames < 0 else min(frames, info.frames - start)
    try:
        if info.format in ("WAV", "WAVEX") or wanted <= _BLOCK_FRAMES:  # (a WAV's size is checked against its header)
            data, rate = soundfile.read(str(path), start=start, frames=frames, dtype="float32", always_2d=True)
        else:
            data, rate = _read_in_blocks(path, start, wanted, info.channels)
    except (soundfile.LibsndfileError, RuntimeError, ValueError, MemoryError) as error:
        raise AudioError(f"{path}: corrupt audio data ({_reason(error)})") from error
    if data.shape[0] < wanted:
        raise AudioError(
            f"{path}: truncated — the header promises {info.frames} frames, only {start + data.shape[0]} read"
        )
    if not np.isfinite(data).all():
        raise AudioError(f"{path}: contains NaN or infinite samples")
    return data, rate


_BLOCK_FRAMES = 1 << 20


def _read_in_blocks(path: Path, start: int, wanted: int, channels: int) -> tuple[np.ndarray, int]:
    """A compressed file read a block at a time: its header's frame count is a claim (a corrupt one can promise
    terabytes), so memory follows what actually decodes; a shortfall is then reported as truncation."""
    blocks = []
    with soundfile.SoundFile(str(path)) as file:
        file.seek(start)
        while wanted > 0:
            block = file.read(min(_BLOCK_FRAMES, wanted), dtype="float32", always_2d=True)
            if len(block) == 0:
                break
            blocks.append(block)
            wanted -= len(block)
        rate = file.samplerate
    return (np.concatenate(blocks) if blocks else np.zeros((0, channels), np.float32)), rate


def audio_info(path: str | Path) -> soundfile._SoundFileInfo | DecodedInfo:
    """Header information of a readable, non-empty audio file (raises :class:`AudioError` otherwise); for a format
    that needs FFmpeg, the container's estimate of its length."""
    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: no such file")
    if path.is_dir():
        raise AudioError(f"{path}: is a directory, not an audio file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: empty file (0 bytes)")
    if needs_ffmpeg(path):
        return probe(path)
    try:
        info = soundfile.info(str(path))
    except (soundfile.LibsndfileError, RuntimeError) as error:
        raise AudioError(f"{path}: not a readable audio file ({_reason(error)})") from error
    if info.frames <= 0:
        raise AudioError(f"{path}: contains no audio samples (zero length)")
    if info.format in ("WAV", "WAVEX"):
        _check_wav_complete(path, info)
    return info


def save(path: str | Path, audio: torch.Tensor | np.ndarray, sample_rate: int, *, subtype: str | None = None) -> Path:
    """Write ``audio`` ``[channels, time]`` to a WAV or FLAC file, atomically.

    ``subtype`` is a libsndfile subtype (``"FLOAT"``, ``"PCM_24"``, ``"PCM_16"``); the default keeps float WAV and
    24-bit FLAC. NaN/Inf samples are refused: they would poison every later step.
    """
    path = Path(path)
    file_format = WRITABLE_FORMATS.get(path.suffix.lower())
    if file_format is None:
        raise AudioError(f"{path}: cannot write '{path.suffix}' files; use one of {', '.join(WRITABLE_FORMATS)}")
    array = audio.detach().cpu().numpy() if isinstance(audio, torch.Tensor) else np.asarray(audio)
    if array.ndim != 2:
        raise AudioError(f"{path}: audio must have shape [channels, time], got {tuple(array.shape)}")
    if array.shape[1] == 0:
        raise AudioError(f"{path}: refusing to write zero-length audio")
    if not np.isfinite(array).all():
        raise AudioError(f"{path}: refusing to write NaN or infinite samples")
    subtype = subtype or DEFAULT_SUBTYPE[file_format]
    with atomic_path(path) as tmp:
        soundfile.write(str(tmp), array.T.astype(np.float32), sample_rate, format=file_format, subtype=subtype)
    return path


PCM24_FULL_SCALE = 2**23


def save_wav_pcm24(path: str | Path, audio: np.ndarray, sample_rate: int) -> Path:
    """Write ``audio`` ``[channels, time]`` as a 24-bit PCM WAV, atomically; twice as fast as libsndfile's converter.

    Samples are rounded to the 24-bit grid and clipped to [-1, 1 - 2⁻²³]; values already on the grid are stored
    exactly, which the data builder relies on (the mixture file is then exactly the sum of the stem files).
    """
    path = Path(path)
    _check_writable_shape(path, audio)
    if not np.isfinite(audio).all():
        raise AudioError(f"{path}: refusing to write NaN or infinite samples")
    # float32 holds every integer below 2^24 exactly, so rounding here loses nothing on the grid
    scaled = np.rint(audio.astype(np.float32) * np.float32(PCM24_FULL_SCALE))
    steps = np.clip(scaled, -PCM24_FULL_SCALE, PCM24_FULL_SCALE - 1).astype(np.int32)
    return save_wav_pcm24_steps(path, steps, sample_rate)


def save_wav_pcm24_steps(path: str | Path, steps: np.ndarray, sample_rate: int) -> Path:
    """Write integer samples ``[channels, time]`` in [−2²³, 2²³) as a 24-bit PCM WAV, atomically, byte for byte."""
    path = Path(path)
    _check_writable_shape(path, steps)
    if steps.dtype != np.int32:
        raise AudioError(f"{path}: 24-bit samples must be int32, got {steps.dtype}")
    channels, length = steps.shape
    # The low three bytes of each little-endian int32, interleaved by frame, in one strided copy.
    frames = np.empty((length, channels, 3), dtype=np.uint8)
    as_bytes = np.ascontiguousarray(steps, dtype="<i4").view(np.uint8).reshape(channels, length, 4)
    frames[:] = as_bytes[:, :, :3].transpose(1, 0, 2)
    size = frames.size
    pad = b"\0" * (size % 2)  # RIFF chunks have even length
    fmt = struct.pack("<HHIIHH", 1, channels, sample_rate, sample_rate * channels * 3, channels * 3, 24)
    header = b"RIFF" + struct.pack("<I", 36 + size + len(pad)) + b"WAVEfmt " + struct.pack("<I", 16) + fmt
    header += b"data" + struct.pack("<I", size)
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        handle.write(header)
        handle.write(frames.data)
        handle.write(pad)
    return path


def _check_writable_shape(path: Path, audio: np.ndarray) -> None:
    if audio.ndim != 2 or audio.shape[1] == 0:
        raise AudioError(f"{path}: audio must have shape [channels, time > 0], got {tuple(audio.shape)}")


def _reason(error: Exception) -> str:
    text = str(error)
    # libsndfile prefixes "Error opening '<path>': "; the path is already in our message.
    return text.split("': ", 1)[-1].strip() or type(error).__name__


def _check_wav_complete(path: Path, info) -> None:
    """libsndfile silently shortens a truncated WAV; compare the data chunk's declared size with the file."""
    with open(path, "rb") as handle:
        header = handle.read(12)
        if len(header) < 12 or header[:4] not in (b"RIFF", b"RF64") or header[8:12] != b"WAVE":
            return
        while True:
            chunk = handle.read(8)
            if len(chunk) < 8:
                return
            chunk_id, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if chunk_id == b"data":
                if size == 0xFFFFFFFF:  # RF64 or streaming writer: size unknown
                    return
                available = path.stat().st_size - handle.tell()
                if available < size:
                    raise AudioError(
                        f"{path}: truncated — the header promises {size} bytes of samples, the file has {available}"
                    )
                return
            handle.seek(size + (size & 1), 1)


def resample_file(
    source: str | Path,
    target: str | Path,
    *,
    target_sample_rate: int,
    frames: int | None = None,
    subtype: str = "FLOAT",
    block_frames: int = 1 << 18,
) -> Path:
    """Resample an audio file into ``target`` (WAV or FLAC, by its suffix) block by block: flat memory on hour-long
    files, and the same samples as resampling the whole signal at once.

    ``frames`` fixes the output length (trimmed or zero-padded), e.g. to land exactly on an original's length after
    a round trip; by default it is the source's length times the rate ratio, rounded.
    """
    source, target = Path(source), Path(target)
    info = soundfile.info(str(source))
    if frames is None:
        frames = round(info.frames * target_sample_rate / info.samplerate)
    stream = soxr.ResampleStream(info.samplerate, target_sample_rate, info.channels, dtype="float32", quality="HQ")
    written = 0
    with soundfile.SoundFile(
        target, "w", samplerate=target_sample_rate, channels=info.channels, subtype=subtype
    ) as out:
        for start in range(0, max(info.frames, 1), block_frames):
            data, _ = read_array(source, start=start, frames=min(block_frames, info.frames - start))
            last = start + block_frames >= info.frames
            block = stream.resample_chunk(np.ascontiguousarray(data, dtype=np.float32), last=last)
            block = block[: max(0, frames - written)]
            out.write(block)
            written += block.shape[0]
        if written < frames:
            out.write(np.zeros((frames - written, info.channels), dtype=np.float32))
    return target
