"""MUSDB18's ``.stem.mp4`` files unpacked into the folder layout training reads (``cantor data import-stems``)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from cantor.cli.main import main
from cantor.data.dataset import MultitrackDataset
from tests.encoded import write_encoded

RATE = 44100
STEM_HZ = {"drums": 220.0, "bass": 110.0, "other": 330.0, "vocals": 440.0}


def _stems(seconds: float = 1.5) -> dict[str, np.ndarray]:
    t = np.arange(int(seconds * RATE)) / RATE
    return {name: np.stack([0.1 * np.sin(2 * np.pi * hz * t)] * 2, axis=1) for name, hz in STEM_HZ.items()}


def _peak_hz(channel: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(channel * np.hanning(len(channel))))
    return float(np.fft.rfftfreq(len(channel), 1 / RATE)[spectrum.argmax()])


def _run(capsys, *args: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
        raise SystemExit(0)
    return int(exit_info.value.code or 0), capsys.readouterr().err


def test_stem_files_unpack_into_the_layout_training_reads(capsys, tmp_path):
    stems = _stems()
    streams = [sum(stems.values()), *stems.values()]
    for split, track in (("train", "Artist - Song"), ("test", "Other - Tune")):
        (tmp_path / "musdb" / split).mkdir(parents=True, exist_ok=True)
        write_encoded(tmp_path / "musdb" / split / f"{track}.stem.mp4", streams, RATE)
    (tmp_path / "musdb" / "train" / "Broken - Three Streams.stem.mp4").write_bytes(b"")
    write_encoded(tmp_path / "musdb" / "train" / "Short - Three Streams.stem.mp4", streams[:3], RATE)

    code, stderr = _run(capsys, "data", "import-stems", str(tmp_path / "musdb"), "-o", str(tmp_path / "hq"))
    assert code == 1 and "2 of 4 tracks failed" in " ".join(stderr.split())
    assert "3 audio streams, expected 5" in " ".join(stderr.split()) and "Traceback" not in stderr
    assert sorted(p.name for p in (tmp_path / "hq" / "train").iterdir()) == ["Artist - Song"]  # nothing partial
    song = tmp_path / "hq" / "train" / "Artist - Song"
    decoded = {}
    for name in ("mixture", *STEM_HZ):
        decoded[name], rate = soundfile.read(song / f"{name}.flac", always_2d=True)
        assert rate == RATE and decoded[name].shape[1] == 2 and abs(len(decoded[name]) - len(streams[0])) <= 2048
    for name, hz in STEM_HZ.items():
        assert abs(_peak_hz(decoded[name][RATE // 4 : RATE, 0]) - hz) < 3, name
    length = min(len(audio) for audio in decoded.values())
    mixture, total = decoded["mixture"][:length], sum(decoded[name][:length] for name in STEM_HZ)
    assert 10 * np.log10(np.sum(mixture**2) / np.sum((mixture - total) ** 2)) > 15  # AAC keeps the sum a sum

    dataset = MultitrackDataset(tmp_path / "hq", split="test", sources=tuple(STEM_HZ), segment_seconds=None)
    mix, sources = dataset[0]
    assert mix.shape[0] == 2 and sources.shape[:2] == (4, 2) and sources.shape[-1] == mix.shape[-1]

    code, stderr = _run(capsys, "data", "import-stems", str(tmp_path / "musdb"), "-o", str(tmp_path / "hq"))
    assert "skipped 2 already complete" in " ".join(stderr.split())


def test_a_folder_without_stem_files_is_a_usage_error(capsys, tmp_path):
    code, stderr = _run(capsys, "data", "import-stems", str(tmp_path), "-o", str(tmp_path / "out"))
    assert code == 2 and "no <split>/*.stem.mp4 files" in " ".join(stderr.split())
    assert not (tmp_path / "out").exists()
