"""The data builder: what is written is exactly what was rendered, splits are disjoint by tune, builds resume."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import soundfile

from cantor.data.build import SPLITS, BuildConfig, build_dataset, plan_songs, read_manifest
from cantor.data.corpus import load_corpus
from cantor.errors import UsageError

from .conftest import test_soundfonts
from .soundfonts import BLACK_PEARL, write_preset_headers


def _song_dirs(root: Path) -> list[Path]:
    return sorted(p for split in SPLITS for p in (root / split).glob("*") if p.is_dir())


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha1(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.suffix in (".wav", ".flac", ".mid", ".json", ".jsonl")
    }


def test_stems_sum_to_the_mixture_and_align(band_build):
    songs = _song_dirs(band_build)
    assert len(songs) == 5
    for song in songs:
        mixture, rate = soundfile.read(song / "mixture.wav", dtype="float32")
        stems = [
            soundfile.read(song / f"{name}.wav", dtype="float32")[0] for name in ("drums", "bass", "melody", "other")
        ]
        assert rate == 44100 and mixture.shape == (6 * 44100, 2)
        assert all(stem.shape == mixture.shape for stem in stems)
        total = stems[0] + stems[1] + stems[2] + stems[3]
        assert np.max(np.abs(total - mixture)) < 1e-6
        assert all(np.abs(stem).max() > 1e-3 for stem in stems)  # every stem sounds


def test_notes_and_manifest_agree_with_what_was_rendered(band_build):
    manifest = [json.loads(line) for line in (band_build / "manifest.jsonl").read_text().splitlines()]
    assert manifest == read_manifest(band_build)
    for record in manifest:
        song = band_build / record["split"] / record["name"]
        midi = pretty_midi.PrettyMIDI(str(song / "notes.mid"))
        tracks = {inst.name: inst for inst in midi.instruments}
        assert sorted(tracks) == sorted(record["stems"])
        for name, info in record["stems"].items():
            assert tracks[name].program == info["program"]
            assert tracks[name].is_drum == info["is_drum"]
            assert len(tracks[name].notes) == info["note_count"]
            if info["pitch_range"]:
                pitches = [n.pitch for n in tracks[name].notes]
                assert [min(pitches), max(pitches)] == info["pitch_range"]
            assert all(n.end <= record["duration_seconds"] for n in tracks[name].notes)
        assert record["source"]["piece_id"] and record["tempo_bpm"] > 0 and record["style"]


def test_a_stem_is_silent_exactly_where_no_note_sounds(band_build):
    record = read_manifest(band_build)[0]
    song = band_build / record["split"] / record["name"]
    midi = pretty_midi.PrettyMIDI(str(song / "notes.mid"))
    melody = next(inst for inst in midi.instruments if inst.name == "melody")
    first_onset = min(n.start for n in melody.notes)
    audio, rate = soundfile.read(song / "melody.wav", dtype="float32")
    if first_onset > 0.05:
        assert np.abs(audio[: int((first_onset - 0.01) * rate)]).max() < 1e-4


def test_no_tune_is_in_two_splits(band_build):
    splits_of_group = defaultdict(set)
    for record in read_manifest(band_build):
        splits_of_group[record["source"]["tune_group"]].add(record["split"])
    assert all(len(s) == 1 for s in splits_of_group.values())
    # and at scale: plan 400 songs (no rendering) and check the same
    config = BuildConfig(preset="band", songs=400, seconds=10, seed=9, soundfonts=test_soundfonts())
    planned = defaultdict(set)
    for spec in plan_songs(config, load_corpus()):
        planned[spec.piece.tune_group].add(spec.split)
    assert all(len(s) == 1 for s in planned.values())
    counts = {split: sum(1 for s in planned.values() if split in s) for split in SPLITS}
    assert all(counts.values())


def test_rerunning_the_builder_changes_nothing(band_build, band_config):
    before = _digest(band_build)
    report = build_dataset(band_config, band_build)
    assert report.built == [] and len(report.skipped) == band_config.songs
    assert _digest(band_build) == before


def test_same_seed_same_songs_and_extending_keeps_them(band_build, band_config, tmp_path):
    smaller = BuildConfig(**{**band_config.__dict__, "songs": 2})
    build_dataset(smaller, tmp_path)
    ours = _digest(tmp_path)
    theirs = _digest(band_build)
    for name, digest in ours.items():
        if name.endswith((".wav", ".mid")):
            assert theirs[name] == digest, name


def test_other_settings_are_refused(band_build, band_config):
    with pytest.raises(UsageError, match="other settings"):
        build_dataset(BuildConfig(**{**band_config.__dict__, "seed": 99}), band_build)


def test_a_failing_song_leaves_nothing_behind(tmp_path, monkeypatch, band_config):
    from cantor.data import build

    calls = {"n": 0}
    real_save = build.save_wav_pcm24_steps

    def save_then_fail(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:  # mid-song: the mixture and a stem are on disk, the rest is not
            raise OSError("disk full")
        return real_save(*args, **kwargs)

    monkeypatch.setattr(build, "save_wav_pcm24_steps", save_then_fail)
    config = BuildConfig(**{**band_config.__dict__, "songs": 1})
    report = build_dataset(config, tmp_path)
    assert len(report.failed) == 1 and "disk full" in report.failed[0][1]
    assert _song_dirs(tmp_path) == []
    assert (tmp_path / "manifest.jsonl").read_text() == ""


def test_a_killed_build_leaves_only_complete_songs(tmp_path):
    fonts = ",".join(test_soundfonts())
    command = [sys.executable, "-m", "cantor.cli.main", "data", "build", "--songs", "6", "--seconds", "5"]
    command += ["--seed", "4", "--out", str(tmp_path), "--soundfont", fonts]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and len(_song_dirs(tmp_path)) < 2:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    killed_with = _song_dirs(tmp_path)
    assert 2 <= len(killed_with) < 6, "the build finished before it could be killed"
    for song in killed_with:
        record = json.loads((song / "song.json").read_text())
        for file_name in record["files"].values():
            assert (song / file_name).is_file()
    # resuming finishes the job, and the result equals an uninterrupted build
    assert subprocess.run(command, capture_output=True).returncode == 0
    clean = tmp_path.parent / (tmp_path.name + "-clean")
    subprocess.run([*command[:-4], "--out", str(clean), "--soundfont", fonts], check=True, capture_output=True)
    resumed, uninterrupted = _digest(tmp_path), _digest(clean)
    assert {k: v for k, v in resumed.items() if k.endswith(".wav")} == {
        k: v for k, v in uninterrupted.items() if k.endswith(".wav")
    }
    assert not (tmp_path / ".partial").exists() or not any((tmp_path / ".partial").iterdir())


def test_chorale_preset_writes_four_voices(chorale_build):
    for record in read_manifest(chorale_build):
        assert sorted(record["stems"]) == ["alto", "bass", "soprano", "tenor"]
        song = chorale_build / record["split"] / record["name"]
        assert {p.stem for p in song.glob("*.wav")} == {"mixture", "soprano", "alto", "tenor", "bass"}


def test_building_one_split_gives_the_same_songs(band_build, band_config, tmp_path):
    report = build_dataset(band_config, tmp_path, splits=("test",))
    assert [name for name in report.built] == [p.name for p in (band_build / "test").iterdir()]
    assert not (tmp_path / "train").exists()
    ours = {k: v for k, v in _digest(tmp_path).items() if k.endswith(".wav")}
    assert ours and all(_digest(band_build)[k] == v for k, v in ours.items())
    with pytest.raises(UsageError, match="--splits"):
        build_dataset(band_config, tmp_path, splits=("holdout",))


def test_shards_built_apart_are_the_full_build_and_train_together(band_build, band_config, tmp_path):
    from cantor.data.dataset import MultitrackDataset

    shards = [tmp_path / "shard-0", tmp_path / "shard-1", tmp_path / "shard-2"]
    for number, folder in enumerate(shards):  # as three machines would, each into its own folder
        build_dataset(band_config, folder, shard=(number, 3))
    built = [_digest(folder) for folder in shards]
    names = [{key.split("/")[1] for key in digest if key.count("/") >= 2} for digest in built]
    assert all(names) and not (names[0] & names[1] or names[0] & names[2] or names[1] & names[2])
    full = _digest(band_build)
    assert all(full[key] == value for digest in built for key, value in digest.items() if key.endswith(".wav"))
    wanted = {p.parent.name for p in band_build.glob("*/*/song.json")}
    assert set().union(*names) == wanted
    together = MultitrackDataset(shards, split="train", sources=band_config.stems, segment_seconds=1.0)
    assert sorted(song.name for song in together.songs) == sorted(p.name for p in (band_build / "train").iterdir())
    with pytest.raises(UsageError, match="shard"):
        build_dataset(band_config, tmp_path / "bad", shard=(3, 3))


@pytest.mark.skipif(not BLACK_PEARL.is_file(), reason="avldrums.lv2-soundfont not installed (make setup installs it)")
def test_drum_fonts_change_the_drums_and_nothing_else(band_build, band_config, tmp_path):
    assert "drum_soundfonts" not in band_config.fingerprint()  # builds from before drum fonts still resume
    config = BuildConfig(**{**band_config.__dict__, "songs": 1, "drum_soundfonts": (str(BLACK_PEARL),)})
    report = build_dataset(config, tmp_path / "kit")
    assert not report.failed, report.failed
    (song,) = _song_dirs(tmp_path / "kit")
    with_kit = json.loads((song / "song.json").read_text())["stems"]
    before = json.loads((band_build / song.relative_to(tmp_path / "kit") / "song.json").read_text())["stems"]
    assert with_kit["drums"]["soundfont"] == BLACK_PEARL.name != before["drums"]["soundfont"]
    for name in ("bass", "melody", "other"):  # the same draws: same fonts, programs, gains and effects
        assert {k: with_kit[name][k] for k in ("soundfont", "program", "gain_db", "effects")} == {
            k: before[name][k] for k in ("soundfont", "program", "gain_db", "effects")
        }
    drums, _ = soundfile.read(song / "drums.wav")
    assert np.sqrt(np.mean(drums**2)) > 1e-3


def test_a_kit_font_for_pitched_stems_or_a_kitless_drum_font_is_refused(band_config, tmp_path):
    kit = write_preset_headers(tmp_path / "kit.sf2", [(0, 0)])
    with pytest.raises(UsageError, match=r"drum-kit soundfont.*--drum-soundfont"):
        BuildConfig(**{**band_config.__dict__, "soundfonts": (str(kit),)})
    melodic = write_preset_headers(tmp_path / "melodic.sf2", [(0, program) for program in range(16)])
    with pytest.raises(UsageError, match="no drum kit"):
        BuildConfig(**{**band_config.__dict__, "drum_soundfonts": (str(melodic),)})
