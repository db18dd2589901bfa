"""The bad-input matrix: messy files, paths, outputs, weights and options, through the CLI (in process, through its
real entry point) and the studio's API. Each case: one clear message, exit 2 for a usage error and 1 for a runtime
error, no traceback, and nothing partial left in the output folder. Inputs that are odd but valid (silence, one
sample, 8 channels, 8–192 kHz, MP3, AAC in M4A, Opus, a non-ASCII path) must simply work, with finite output."""

from __future__ import annotations

import json
import shutil
import wave
from pathlib import Path

import numpy as np
import pytest
import soundfile

from cantor.audio.io import read_array
from cantor.cli.main import main
from tests.encoded import write_encoded, write_video_only

RATE = 44100


def _tone(seconds: float, rate: int = RATE, channels: int = 2) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return np.stack([0.3 * np.sin(2 * np.pi * (220 + 110 * c) * t) for c in range(channels)], axis=1)


def _write_inputs(folder: Path) -> None:
    soundfile.write(folder / "good.wav", _tone(1.0), RATE)
    soundfile.write(folder / "good.flac", _tone(1.0), RATE)  # its results would land where good.wav's do
    (folder / "empty.wav").write_bytes(b"")
    with wave.open(str(folder / "header-only.wav"), "wb") as header:
        header.setnchannels(2)
        header.setsampwidth(2)
        header.setframerate(RATE)
    full = (folder / "good.wav").read_bytes()
    (folder / "truncated.wav").write_bytes(full[: len(full) // 3])
    (folder / "random.wav").write_bytes(np.random.default_rng(0).bytes(20_000))
    (folder / "text.wav").write_text("these are not the samples you are looking for\n" * 50)
    nan = _tone(0.5).astype(np.float32)
    nan[100:200] = np.nan
    soundfile.write(folder / "nan.wav", nan, RATE, subtype="FLOAT")
    inf = _tone(0.5).astype(np.float32)
    inf[300] = np.inf
    soundfile.write(folder / "inf.wav", inf, RATE, subtype="FLOAT")
    soundfile.write(folder / "silence.wav", np.zeros((RATE, 2)), RATE)
    soundfile.write(folder / "one-sample.wav", _tone(1 / RATE), RATE)
    soundfile.write(folder / "ten-ms.wav", _tone(0.01), RATE)
    soundfile.write(folder / "eight-channels.wav", _tone(0.5, channels=8), RATE)
    soundfile.write(folder / "mono.wav", _tone(0.5, channels=1), RATE)
    for rate in (8000, 96000, 192000):
        soundfile.write(folder / f"rate-{rate}.wav", _tone(0.5, rate), rate)
    soundfile.write(folder / "song.mp3", _tone(1.0), RATE, format="MP3")
    write_encoded(folder / "song.m4a", _tone(1.0), RATE, "aac")
    write_encoded(folder / "song-48k.opus", _tone(1.0, 48000), 48000, "libopus")
    (folder / "text.m4a").write_text("these are not the samples you are looking for\n" * 50)
    encoded = (folder / "song.m4a").read_bytes()
    (folder / "truncated.m4a").write_bytes(encoded[: len(encoded) // 3])
    write_video_only(folder / "silent-film.mp4")
    shutil.copy(folder / "good.wav", folder / "a name with spaces ünïcödé.wav")
    (folder / "a-directory.wav").mkdir()
    (folder / "empty.mid").write_bytes(
        bytes.fromhex("4d54686400000006000100010060") + bytes.fromhex("4d54726b0000000400ff2f00")
    )
    (folder / "corrupt.mid").write_bytes(np.random.default_rng(1).bytes(3000))
    (folder / "blocker").write_text("a file where a folder should be")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("inputs")
    _write_inputs(folder)
    return folder


@pytest.fixture(scope="module")
def broken_models(tmp_path_factory) -> Path:
    """Separator folders broken three ways: garbage weights, weights of another shape, a config of another kind."""
    from cantor.models.registry import available_models

    band = available_models("separator")["band"]
    root = tmp_path_factory.mktemp("models")
    for name in ("corrupt", "wrong-shape", "wrong-kind"):
        shutil.copytree(band, root / name, ignore=shutil.ignore_patterns("*.png", "*.md"))
    (root / "corrupt" / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    config = json.loads((root / "wrong-shape" / "config.json").read_text())
    config["config"]["hidden"] = config["config"]["hidden"] // 2
    (root / "wrong-shape" / "config.json").write_text(json.dumps(config))
    config["kind"] = "vocoder"
    (root / "wrong-kind" / "config.json").write_text(json.dumps(config))
    return root


def run(capsys, *args: str) -> tuple[int, str]:
    """``cantor ARGS`` through the real entry point: (exit code, stderr)."""
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
        raise SystemExit(0)
    code = exit_info.value.code
    return (0 if code is None else int(code)), capsys.readouterr().err


# (command with {in}/NAME for inputs and {out} for the output folder, exit code, words the message must hold)
FAILURES = [
    ("separate {in}/empty.wav -o {out}", 1, "empty"),
    ("separate {in}/header-only.wav -o {out}", 1, "no audio samples"),
    ("separate {in}/truncated.wav -o {out}", 1, "truncated.wav"),
    ("separate {in}/random.wav -o {out}", 1, "random.wav"),
    ("separate {in}/text.wav -o {out}", 1, "text.wav"),
    ("separate {in}/nan.wav -o {out}", 1, "NaN"),
    ("separate {in}/inf.wav -o {out}", 1, "NaN"),
    ("separate {in}/missing.wav -o {out}", 1, "missing.wav: no such file"),
    ("separate {in}/text.m4a -o {out}", 1, "text.m4a: not a readable audio file"),
    ("separate {in}/truncated.m4a -o {out}", 1, "truncated.m4a: not a readable audio file"),
    ("separate {in}/silent-film.mp4 -o {out}", 1, "has no audio stream"),
    ("separate {in}/good.wav -o {in}/blocker/out", 1, "cannot create this folder"),
    ("separate {in}/good.wav -o {out} --model no-such-model", 2, "unknown model"),
    ("separate {in}/good.wav -o {out} --model {models}/corrupt", 1, "corrupt"),
    ("separate {in}/good.wav -o {out} --model {models}/wrong-shape", 1, "does not match its config"),
    ("separate {in}/good.wav -o {out} --model {models}/wrong-kind", 1, "not a 'separator'"),
    ("separate {in}/good.wav -o {out} --segment -1", 2, "segment"),
    ("separate {in}/good.wav -o {out} --overlap 1.5", 2, "overlap"),
    ("separate {in}/good.wav -o {out} --format mp4", 2, "format"),
    ("separate {in}/good.wav -o {out} --stems vocals", 2, "vocals"),
    ("separate {in}/good.wav -o {out} --threads 0", 2, "threads"),
    ("separate {in}/good.wav -o {out} -j 0", 2, "jobs"),
    ("separate {in}/good.wav -o {out} --device tpu", 2, "device must be cpu, cuda or cuda:N"),
    ("separate {in}/good.wav -o {out} --shard 2/2", 2, "--shard takes K/N"),
    ("separate {in}/good.wav -o {out} --shard half", 2, "--shard takes K/N"),
    ("separate {in}/good.wav {in}/good.flac -o {out}", 2, "would write to the same output folder"),
    ("analyze {in}/good.wav {in}/good.flac -o {out} --no-separate", 2, "would write to the same output folder"),
    ("data build -o {out} --shard 1/0", 2, "--shard takes K/N"),
    ("vocode {in}/a-directory.wav -o {out}/x.wav", 1, "is a directory"),
    ("vocode {in}/nan.wav -o {out}/x.wav", 1, "NaN"),
    ("vocode {in}/text.wav -o {out}/x.wav", 1, "text.wav"),
    ("vocode {in}/truncated.m4a -o {out}/x.wav", 1, "truncated.m4a: not a readable audio file"),
    ("vocode {in}/good.wav -o {out}/x.wav --model waveflow --temperature -1", 2, "temperature"),
    ("analyze {in}/text.wav -o {out}", 1, "text.wav"),
    ("analyze {in}/empty.wav -o {out}", 1, "empty"),
    ("analyze {in}/silent-film.mp4 -o {out}", 1, "has no audio stream"),
    ("generate continue {in}/empty.mid -o {out} --no-audio", 1, "no notes"),
    ("generate continue {in}/corrupt.mid -o {out} --no-audio", 1, "not a readable MIDI"),
    ("generate continue {in}/good.wav -o {out} --no-audio", 1, "not a readable MIDI"),
    ("generate sample --bars 0 -o {out} --no-audio", 2, "bars"),
    ("generate sample --style jazz -o {out} --no-audio", 2, "jazz"),
    ("generate variations {in}/silence.wav --stem none -o {out}", 2, "silent"),
    ("generate variations {in}/ten-ms.wav --stem none -o {out}", 2, "too short"),
    ("generate variations {in}/random.wav --stem none -o {out}", 1, "random.wav"),
]


@pytest.mark.parametrize(("command", "code", "words"), FAILURES, ids=[c for c, _, _ in FAILURES])
def test_bad_input_gets_one_clear_message_and_leaves_nothing(
    capsys, tmp_path, inputs, broken_models, command, code, words
):
    out = tmp_path / "out"
    args = command.format(**{"in": inputs, "out": out, "models": broken_models}).split()
    exit_code, stderr = run(capsys, *args)
    assert exit_code == code, stderr
    assert words in " ".join(stderr.split()), stderr  # (the console may wrap a long line)
    assert "Traceback" not in stderr
    assert len([line for line in stderr.splitlines() if line.startswith("error")]) <= 1
    leftovers = [p for p in out.rglob("*") if p.is_file()] if out.exists() else []
    assert not leftovers, leftovers


ODD_BUT_VALID = [
    "silence.wav",
    "one-sample.wav",
    "ten-ms.wav",
    "eight-channels.wav",
    "mono.wav",
    "rate-8000.wav",
    "rate-96000.wav",
    "rate-192000.wav",
    "song.mp3",
    "song.m4a",
    "song-48k.opus",
    "a name with spaces ünïcödé.wav",
]


@pytest.mark.parametrize("name", ODD_BUT_VALID)
def test_odd_but_valid_audio_separates_to_finite_stems_of_the_same_shape(capsys, tmp_path, inputs, name):
    exit_code, stderr = run(capsys, "separate", str(inputs / name), "-o", str(tmp_path))
    assert exit_code == 0, stderr
    source, source_rate = read_array(inputs / name)  # (decoded: a compressed file's header only estimates)
    stems = sorted((tmp_path / "band" / Path(name).stem).glob("*.wav"))
    assert [p.stem for p in stems] == ["bass", "drums", "melody", "other"]
    for path in stems:
        audio, rate = soundfile.read(path, always_2d=True)
        assert rate == source_rate and audio.shape == source.shape, path
        assert np.isfinite(audio).all()


def test_an_existing_output_is_refused_unless_overwrite(capsys, tmp_path, inputs):
    assert run(capsys, "vocode", str(inputs / "good.wav"), "-o", str(tmp_path / "x.wav"))[0] == 0
    before = (tmp_path / "x.wav").read_bytes()
    code, stderr = run(capsys, "vocode", str(inputs / "good.wav"), "-o", str(tmp_path / "x.wav"))
    assert code != 0 and "--overwrite" in stderr and "Traceback" not in stderr
    assert (tmp_path / "x.wav").read_bytes() == before
    assert run(capsys, "vocode", str(inputs / "good.wav"), "-o", str(tmp_path / "x.wav"), "--overwrite")[0] == 0


@pytest.mark.parametrize(
    ("name", "status", "words"),
    [
        ("empty.wav", 422, "no file"),
        ("header-only.wav", 415, "no audio samples"),
        ("random.wav", 415, "not a readable audio file"),
        ("text.wav", 415, "not a readable audio file"),
        ("truncated.wav", 415, "not a readable audio file"),
        ("text.m4a", 415, "not a readable audio file"),
        ("silent-film.mp4", 415, "has no audio stream"),
    ],
)
def test_the_studio_refuses_the_same_files(tmp_path, inputs, name, status, words):
    from fastapi.testclient import TestClient

    from cantor.web.app import StudioSettings, create_app

    with TestClient(create_app(StudioSettings(data_dir=tmp_path))) as client:
        params = {"task": "separate", "options": "{}", "filename": name}
        response = client.post("/api/jobs", params=params, content=(inputs / name).read_bytes())
        assert response.status_code == status and words in response.json()["detail"]
    assert not any((tmp_path / "jobs").iterdir())


@pytest.mark.parametrize(
    "name", ["silence.wav", "one-sample.wav", "ten-ms.wav", "eight-channels.wav", "rate-8000.wav", "song-48k.opus"]
)
def test_odd_but_valid_audio_vocodes_to_finite_audio_of_the_same_shape(capsys, tmp_path, inputs, name):
    exit_code, stderr = run(capsys, "vocode", str(inputs / name), "-o", str(tmp_path / "x.wav"))
    assert exit_code == 0, stderr
    audio, rate = soundfile.read(tmp_path / "x.wav", always_2d=True)
    source, source_rate = read_array(inputs / name)
    assert rate == source_rate and audio.shape == source.shape
    assert np.isfinite(audio).all()
