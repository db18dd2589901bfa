"""The command line: the data commands work end to end, and bad input gives one clear line and a non-zero exit."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile

from .conftest import test_soundfonts


def cantor(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cantor.cli.main", *args], capture_output=True, text=True)


def test_build_then_stats(tmp_path):
    out = tmp_path / "data"
    fonts = ",".join(test_soundfonts())
    result = cantor(
        "data",
        "build",
        "--preset",
        "chorale",
        "--songs",
        "3",
        "--seconds",
        "4",
        "-o",
        str(out),
        "--soundfont",
        fonts,
        "-j",
        "2",
        "--format",
        "flac",
    )
    assert result.returncode == 0, result.stderr
    assert "built 3 songs" in result.stderr
    mixtures = sorted(out.glob("*/*/mixture.flac"))
    assert len(mixtures) == 3
    for mixture in mixtures:  # 24-bit FLAC holds the integer sum exactly, like the WAV files
        voices = [
            soundfile.read(mixture.parent / f"{v}.flac", dtype="int32")[0] for v in ("soprano", "alto", "tenor", "bass")
        ]
        assert np.array_equal(soundfile.read(mixture, dtype="int32")[0], sum(v >> 8 for v in voices) << 8)
    stats = cantor("data", "stats", str(out))
    assert stats.returncode == 0, stats.stderr
    assert "songs per split" in stats.stdout and "soprano" in stats.stdout
    png = (out / "stats.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("data", "build", "-o", "{tmp}/x", "--preset", "jazz"), 2, "unknown preset"),
        (("data", "build", "-o", "{tmp}/x", "--soundfont", "{tmp}/none.sf2"), 2, "soundfont not found"),
        (("data", "build", "-o", "{tmp}/x", "--songs", "0"), 2, "--songs must be at least 1"),
        (("data", "build", "-o", "{tmp}/x", "--format", "mp3"), 2, "--format must be one of"),
        (("data", "build", "-o", "{tmp}/x", "-j", "0"), 2, "at least 1"),
        (("data", "build", "--songs", "two", "-o", "{tmp}/x"), 2, "Invalid value"),
        (("data", "stats", "{tmp}/missing"), 1, "no such folder"),
        (("data", "stats", "{tmp}"), 1, "no songs found"),
        (("data", "build", "-o", "{tmp}"), 2, "not a Cantor data folder"),
    ],
)
def test_bad_input_gives_one_clear_line(tmp_path, args, code, message):
    (tmp_path / "unrelated.txt").write_text("keep me")
    result = cantor(*(a.replace("{tmp}", str(tmp_path)) for a in args))
    assert result.returncode == code
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert (tmp_path / "unrelated.txt").read_text() == "keep me"
    assert not (tmp_path / "x").exists() or not any((tmp_path / "x").rglob("*.wav"))


def test_version():
    result = cantor("--version")
    assert result.returncode == 0 and result.stdout.startswith("cantor ")


def test_stdout_is_only_cantors_own_output_even_on_ci():
    # pyfluidsynth prints a line of its own on import when $CI is set; it must not reach stdout.
    code = "import cantor.data.build, cantor.data.instruments"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "CI": "1"})
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
