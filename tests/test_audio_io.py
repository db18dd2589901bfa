"""Audio I/O: round trips per format, atomic writes, and a clear error for every kind of bad file."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import soundfile
import torch

from cantor.audio import audio_info, load, save, save_wav_pcm24, save_wav_pcm24_steps
from cantor.errors import AudioError


def _noise(channels=2, frames=4410, seed=0) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).uniform(-0.5, 0.5, (channels, frames)).astype(np.float32))


@pytest.mark.parametrize(
    ("suffix", "subtype", "tolerance"),
    [(".wav", "FLOAT", 0.0), (".wav", "PCM_24", 2**-23), (".wav", "PCM_16", 2**-15), (".flac", "PCM_24", 2**-23)],
)
def test_save_load_round_trip(tmp_path, suffix, subtype, tolerance):
    audio = _noise()
    path = save(tmp_path / f"x{suffix}", audio, 44100, subtype=subtype)
    loaded, rate = load(path)
    assert rate == 44100
    assert loaded.dtype == torch.float32 and loaded.shape == audio.shape
    assert torch.max(torch.abs(loaded - audio)).item() <= tolerance


@pytest.mark.parametrize(
    ("suffix", "file_format", "subtype"), [(".ogg", "OGG", "VORBIS"), (".mp3", "MP3", "MPEG_LAYER_III")]
)
def test_lossy_formats_are_readable(tmp_path, suffix, file_format, subtype):
    t = np.arange(44100) / 44100
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    path = tmp_path / f"tone{suffix}"
    soundfile.write(path, np.stack([tone, tone], axis=1), 44100, format=file_format, subtype=subtype)
    audio, rate = load(path)
    assert rate == 44100 and audio.shape[0] == 2
    spectrum = np.abs(np.fft.rfft(audio[0].numpy()))
    assert abs(np.argmax(spectrum) * rate / audio.shape[1] - 440) < 5


def test_load_mono_and_resample(tmp_path):
    path = save(tmp_path / "x.wav", _noise(frames=44100), 44100)
    audio, rate = load(path, sample_rate=16000, mono=True)
    assert rate == 16000 and audio.shape == (1, 16000)


def test_save_is_atomic_when_the_writer_fails(tmp_path, monkeypatch):
    target = tmp_path / "out.wav"
    save(target, _noise(seed=1), 44100)
    before = target.read_bytes()

    def broken_write(path, *args, **kwargs):
        with open(path, "wb") as handle:
            handle.write(b"RIFF half-written")
        raise OSError("disk full")

    monkeypatch.setattr(soundfile, "write", broken_write)
    with pytest.raises(OSError, match="disk full"):
        save(target, _noise(seed=2), 44100)
    assert target.read_bytes() == before  # the old file is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.wav"]  # and no temporary file is left


def test_save_refuses_bad_audio(tmp_path):
    with pytest.raises(AudioError, match="NaN"):
        save(tmp_path / "x.wav", torch.full((2, 10), float("nan")), 44100)
    with pytest.raises(AudioError, match="cannot write"):
        save(tmp_path / "x.mp4", _noise(), 44100)
    with pytest.raises(AudioError, match="shape"):
        save(tmp_path / "x.wav", torch.zeros(10), 44100)
    assert not list(tmp_path.iterdir())


def _float_wav_bytes(samples: np.ndarray) -> bytes:
    data = samples.astype("<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, 8000, 8000 * 4, 4, 32)
    return (
        b"RIFF"
        + struct.pack("<I", 36 + len(data))
        + b"WAVEfmt "
        + struct.pack("<I", 16)
        + fmt
        + b"data"
        + struct.pack("<I", len(data))
        + data
    )


def _make_bad(kind: str, tmp_path):
    good = tmp_path / "good.wav"
    save(good, _noise(frames=8000), 8000, subtype="PCM_16")
    blob = good.read_bytes()
    path = tmp_path / "bad.wav"
    if kind == "missing":
        return tmp_path / "nowhere.wav"
    if kind == "directory":
        (tmp_path / "dir.wav").mkdir()
        return tmp_path / "dir.wav"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path = tmp_path / "notes.wav"
        path.write_text("this is not audio\n" * 20)
    elif kind == "random":
        path.write_bytes(np.random.default_rng(0).bytes(5000))
    elif kind == "truncated":
        path.write_bytes(blob[: len(blob) // 2])
    elif kind == "header_only":
        path.write_bytes(blob[:44])
    elif kind == "zero_frames":
        path.write_bytes(_float_wav_bytes(np.zeros(0)))
    elif kind == "nan":
        path.write_bytes(_float_wav_bytes(np.array([0.0, np.nan, 0.1] * 100)))
    elif kind == "inf":
        path.write_bytes(_float_wav_bytes(np.array([0.0, np.inf, 0.1] * 100)))
    elif kind == "truncated_flac":
        flac = tmp_path / "good.flac"
        save(flac, _noise(frames=8000), 8000)
        path = tmp_path / "bad.flac"
        data = flac.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    return path


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("missing", "no such file"),
        ("directory", "is a directory"),
        ("empty", "empty file"),
        ("text", "not a readable audio file"),
        ("random", "not a readable audio file"),
        ("truncated", "truncated"),
        ("header_only", "truncated|no audio samples"),
        ("zero_frames", "no audio samples"),
        ("nan", "NaN or infinite"),
        ("inf", "NaN or infinite"),
        ("truncated_flac", "corrupt|truncated"),
    ],
)
def test_bad_input_gives_a_clear_error(tmp_path, kind, reason):
    path = _make_bad(kind, tmp_path)
    with pytest.raises(AudioError, match=reason) as caught:
        load(path)
    assert str(path) in str(caught.value)  # the message names the file


def test_audio_info_reports_header(tmp_path):
    path = save(tmp_path / "x.flac", _noise(channels=1, frames=1234), 22050)
    info = audio_info(path)
    assert (info.frames, info.channels, info.samplerate) == (1234, 1, 22050)


@pytest.mark.parametrize("channels", [1, 2, 3])
def test_fast_pcm24_writer_matches_libsndfile(tmp_path, channels):
    frames = 1001  # odd: mono data needs a RIFF pad byte
    audio = np.random.default_rng(channels).uniform(-1.2, 1.2, (channels, frames)).astype(np.float32)
    save_wav_pcm24(tmp_path / "fast.wav", audio, 48000)
    soundfile.write(tmp_path / "reference.wav", np.clip(audio, -1, 1).T, 48000, subtype="PCM_24")
    ours, rate = soundfile.read(tmp_path / "fast.wav", dtype="float32", always_2d=True)
    reference, _ = soundfile.read(tmp_path / "reference.wav", dtype="float32", always_2d=True)
    assert rate == 48000 and ours.shape == (frames, channels)
    assert np.max(np.abs(ours - reference)) <= 2**-23  # libsndfile clips +1.0 one step lower than we round
    grid = np.round(np.clip(audio, -1, 1 - 2**-23) * 2**23) / 2**23
    assert np.array_equal(ours, grid.T.astype(np.float32))  # values on the 24-bit grid are stored exactly
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fast.wav", "reference.wav"]


def test_integer_pcm24_writer_stores_every_step_exactly(tmp_path):
    steps = np.random.default_rng(0).integers(-(2**23), 2**23, (2, 999), dtype=np.int32)
    steps[:, :2] = [[-(2**23), 2**23 - 1], [0, -1]]  # both ends of the range and the sign boundary
    save_wav_pcm24_steps(tmp_path / "steps.wav", steps, 44100)
    stored, rate = soundfile.read(tmp_path / "steps.wav", dtype="int32", always_2d=True)
    assert rate == 44100 and np.array_equal(stored.T >> 8, steps)
    with pytest.raises(AudioError, match="int32"):
        save_wav_pcm24_steps(tmp_path / "floats.wav", steps.astype(np.float32), 44100)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["steps.wav"]


def test_a_compressed_header_that_promises_terabytes_is_a_clear_error(tmp_path):
    """Found by benchmarks/fuzz_audio.py: a FLAC whose STREAMINFO claims 2^36 frames made the reader allocate
    hundreds of GiB. Compressed files are read a block at a time, so memory follows what decodes."""
    path = tmp_path / "liar.flac"
    soundfile.write(path, np.zeros((4000, 2), np.float32) + 0.1, 8000, format="FLAC")
    data = bytearray(path.read_bytes())
    assert data[:4] == b"fLaC"
    data[21] |= 0x0F  # the low 36 bits of STREAMINFO's 64-bit rate/channels/depth/total-samples field
    data[22:26] = b"\xff\xff\xff\xff"
    path.write_bytes(bytes(data))
    assert soundfile.info(path).frames == 2**36 - 1
    with pytest.raises(AudioError, match=r"truncated|corrupt"):
        load(path)
