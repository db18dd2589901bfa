"""The Separator facade and `cantor separate`, on a tiny model: any rate, any channels, streaming, clear errors."""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile
import torch

from cantor.errors import AudioError, UsageError
from cantor.inference.precision import native_bf16, resolve_precision
from cantor.inference.separate import Separator
from cantor.models.presets import separator_preset
from cantor.models.separator import SEPARATOR_KIND, TCNVAESeparator
from cantor.models.weights import save_weights


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    config, _ = separator_preset("tiny")
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("models") / "tiny"
    save_weights(folder, TCNVAESeparator(config), kind=SEPARATOR_KIND, config=config.to_dict())
    return folder


def _noise(channels, frames, seed=0):
    return np.random.default_rng(seed).uniform(-0.3, 0.3, (channels, frames)).astype(np.float32)


def test_separate_keeps_rate_channels_length_and_adds_up(tiny_model):
    separator = Separator(tiny_model, segment_seconds=1.0)
    assert separator.sources == ("a", "b") and separator.sample_rate == 8000
    stereo = torch.from_numpy(_noise(2, 8000 * 3 + 7))
    stems = separator.separate(stereo, 8000)
    assert set(stems) == {"a", "b"} and stems["a"].shape == stereo.shape
    assert torch.allclose(stems["a"] + stems["b"], stereo, atol=1e-4)  # mixture consistency survives chunking
    mono = torch.from_numpy(_noise(1, 16000 * 2)[0])
    assert Separator(tiny_model).separate(mono, 16000)["b"].shape == mono.shape
    surround = torch.from_numpy(_noise(5, 11025))
    assert Separator(tiny_model).separate(surround, 11025)["a"].shape == (5, 11025)


def test_wiener_post_filter_keeps_shape_and_mixture(tiny_model):
    stereo = torch.from_numpy(_noise(2, 8000 * 2 + 3, seed=2))
    plain = Separator(tiny_model, segment_seconds=1.0).separate(stereo, 8000)
    filtered = Separator(tiny_model, segment_seconds=1.0, wiener_iterations=1).separate(stereo, 8000)
    assert filtered["a"].shape == stereo.shape and torch.isfinite(filtered["a"]).all()
    assert torch.allclose(filtered["a"] + filtered["b"], stereo, atol=2e-2)  # up to the filter's diagonal loading
    assert not torch.allclose(filtered["a"], plain["a"], atol=1e-3)  # it did change the estimates
    with pytest.raises(UsageError):
        Separator(tiny_model, wiener_iterations=-1)


def test_streaming_file_equals_in_memory(tiny_model, tmp_path):
    audio = _noise(2, 8000 * 4 + 3, seed=1)
    soundfile.write(tmp_path / "song.wav", audio.T, 8000, subtype="FLOAT")
    separator = Separator(tiny_model, segment_seconds=1.0)
    paths = separator.separate_file(tmp_path / "song.wav", tmp_path / "out")
    in_memory = separator.separate(torch.from_numpy(audio), 8000)
    for name, path in paths.items():
        written, rate = soundfile.read(path, dtype="float32", always_2d=True)
        assert rate == 8000 and written.shape == (audio.shape[1], 2)
        assert np.max(np.abs(written.T - in_memory[name].numpy())) < 1e-5
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["song"]  # no leftover partial folder


def test_other_rate_file_keeps_its_rate(tiny_model, tmp_path):
    audio = _noise(1, 22050 * 3 + 5)
    soundfile.write(tmp_path / "x.wav", audio.T, 22050, subtype="FLOAT")
    separator = Separator(tiny_model, segment_seconds=1.0)
    paths = separator.separate_file(tmp_path / "x.wav", tmp_path / "out", stems=["b"], audio_format="flac")
    assert list(paths) == ["b"]
    info = soundfile.info(paths["b"])
    assert (info.samplerate, info.channels, info.frames) == (22050, 1, audio.shape[1])
    # Streamed through the model's rate and back, file to file, it equals separating the whole signal in memory.
    written, _ = soundfile.read(paths["b"], dtype="float32", always_2d=True)
    in_memory = separator.separate(torch.from_numpy(audio), 22050)["b"]
    assert np.abs(written.T - in_memory.numpy()).max() < 1e-4
    assert sorted(p.name for p in (tmp_path / "out" / "x").iterdir()) == ["b.flac"]


def test_clear_errors(tiny_model, tmp_path):
    separator = Separator(tiny_model)
    with pytest.raises(AudioError, match="NaN"):
        separator.separate(torch.full((2, 100), float("nan")), 8000)
    with pytest.raises(UsageError, match="no stem"):
        separator.separate_file(tmp_path / "none.wav", tmp_path, stems=["vocals"])
    with pytest.raises(UsageError, match="unknown model"):
        Separator("no-such-model")


def _cantor(*args):
    return subprocess.run([sys.executable, "-m", "cantor.cli.main", *args], capture_output=True, text=True)


def test_cli_reports_bad_files_and_finishes_the_others(tiny_model, tmp_path):
    soundfile.write(tmp_path / "good.wav", _noise(2, 8000).T, 8000)
    (tmp_path / "bad.wav").write_text("not audio")
    result = _cantor(
        "separate",
        str(tmp_path / "good.wav"),
        str(tmp_path / "bad.wav"),
        "-o",
        str(tmp_path / "out"),
        "--model",
        str(tiny_model),
    )
    assert result.returncode == 1
    assert "bad.wav" in result.stderr and "Traceback" not in result.stderr
    assert sorted(p.name for p in (tmp_path / "out" / "tiny" / "good").iterdir()) == ["a.wav", "b.wav"]
    assert not (tmp_path / "out" / "tiny" / "bad").exists()
    usage = _cantor("separate", str(tmp_path / "good.wav"), "--model", str(tiny_model), "--stems", "vocals")
    assert usage.returncode == 2 and "no stem vocals" in usage.stderr


def test_cli_separates_a_library_with_workers_and_resumes(tiny_model, tmp_path):
    library = tmp_path / "library"
    for album, seed in (("one", 1), ("two", 2)):  # the same track name in two albums must not collide
        (library / "artist" / album).mkdir(parents=True)
        soundfile.write(library / "artist" / album / "01.wav", _noise(2, 8000, seed).T, 8000, subtype="FLOAT")
    soundfile.write(library / "single.wav", _noise(1, 4000, 3)[0], 8000, subtype="FLOAT")
    (library / "artist" / "broken.wav").write_bytes(b"RIFF\x00\x00")
    out = tmp_path / "out"
    args = ["separate", str(library), "-o", str(out), "--model", str(tiny_model), "--segment", "1"]
    first = _cantor(*args, "-j", "2")
    assert first.returncode == 1 and "1 of 4 files failed" in first.stderr and "broken.wav" in first.stderr
    assert "Traceback" not in first.stderr
    root = out / "tiny"
    tracks = sorted(str(p.parent.relative_to(root)) for p in root.rglob("a.wav"))
    assert tracks == ["artist/one/01", "artist/two/01", "single"]
    separator = Separator(tiny_model, segment_seconds=1.0)
    for album, seed in (("one", 1), ("two", 2)):
        written, _ = soundfile.read(root / "artist" / album / "01" / "a.wav", dtype="float32")
        expected = separator.separate(torch.from_numpy(_noise(2, 8000, seed)), 8000)["a"].numpy().T
        np.testing.assert_allclose(written, expected, atol=1e-5)  # a worker's result is the in-process one
    stamps = {p: p.stat().st_mtime_ns for p in root.rglob("*.wav")}
    again = _cantor(*args, "-j", "2")  # a second run skips what is done, and still reports the broken file
    assert again.returncode == 1 and {p: p.stat().st_mtime_ns for p in root.rglob("*.wav")} == stamps


def test_cli_shards_split_a_library_between_machines(tiny_model, tmp_path):
    library = tmp_path / "library"
    library.mkdir()
    for index in range(5):
        soundfile.write(library / f"{index}.wav", _noise(1, 800, index)[0], 8000)
    done = []
    for shard in ("0/2", "1/2"):
        out = tmp_path / shard.replace("/", "-")
        result = _cantor("separate", str(library), "-o", str(out), "--model", str(tiny_model), "--shard", shard)
        assert result.returncode == 0, result.stderr
        done.append({p.name for p in (out / "tiny").iterdir()})
    assert done[0] | done[1] == {str(index) for index in range(5)} and not done[0] & done[1]
    bad = _cantor("separate", str(library), "--model", str(tiny_model), "--shard", "2/2")
    assert bad.returncode == 2 and "--shard takes K/N" in bad.stderr


def test_a_runs_best_or_final_export_is_named_after_its_run(tiny_model, tmp_path):
    export = tmp_path / "band-long" / "best"
    shutil.copytree(tiny_model, export)
    assert Separator(export).name == "band-long-best"
    assert Separator(tiny_model).name == "tiny"
    assert Separator("band").name == "band"


def test_precision_is_checked_and_auto_keeps_gpus_in_float32(tiny_model):
    with pytest.raises(UsageError, match="precision must be one of"):
        Separator(tiny_model, precision="fp16")
    assert resolve_precision("auto", torch.device("cuda")) == "fp32"
    assert resolve_precision("auto", torch.device("cpu")) == ("bf16" if native_bf16(torch.device("cpu")) else "fp32")
    usage = _cantor("separate", "x.wav", "--model", str(tiny_model), "--precision", "half")
    assert usage.returncode == 2 and "precision must be one of" in usage.stderr and "Traceback" not in usage.stderr


def test_bfloat16_separation_stays_close_to_float32_and_adds_up(tiny_model):
    stereo = torch.from_numpy(_noise(2, 8000 * 3 + 7, seed=4))
    exact = Separator(tiny_model, segment_seconds=1.0, precision="fp32").separate(stereo, 8000)
    fast = Separator(tiny_model, segment_seconds=1.0, precision="bf16").separate(stereo, 8000)
    assert torch.allclose(fast["a"] + fast["b"], stereo, atol=1e-4)  # float32 masks: still exactly consistent
    for name in ("a", "b"):
        error = (fast[name] - exact[name]).square().sum() / exact[name].square().sum()
        assert not torch.equal(fast[name], exact[name])  # the network did run in bfloat16
        assert 10 * torch.log10(1 / error) > 30, name
