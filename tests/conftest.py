"""Shared fixtures: tiny data builds rendered once per test session (seconds, not minutes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cantor.data.build import BuildConfig, build_dataset
from cantor.data.render import timgm6mb_soundfont

FLUID_R3 = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")


def test_soundfonts() -> tuple[str, ...]:
    fonts = [timgm6mb_soundfont()]
    if FLUID_R3.is_file():
        fonts.append(FLUID_R3)
    return tuple(str(f) for f in fonts)


test_soundfonts.__test__ = False  # a helper, not a test


@pytest.fixture(scope="session")
def band_config() -> BuildConfig:
    return BuildConfig(preset="band", songs=5, seconds=6.0, seed=3, soundfonts=test_soundfonts())


@pytest.fixture(scope="session")
def band_build(tmp_path_factory, band_config) -> Path:
    out = tmp_path_factory.mktemp("band")
    report = build_dataset(band_config, out)
    assert not report.failed, report.failed
    return out


@pytest.fixture(scope="session")
def chorale_build(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("chorale")
    config = BuildConfig(preset="chorale", songs=3, seconds=5.0, seed=1, soundfonts=test_soundfonts())
    report = build_dataset(config, out)
    assert not report.failed, report.failed
    return out


@pytest.fixture(scope="session")
def toy_notes(tmp_path_factory) -> Path:
    from .toy import write_toy_notes_folder

    return write_toy_notes_folder(tmp_path_factory.mktemp("notes"), songs={"train": 6, "valid": 2})


def _train_tiny(task: str, toy_notes: Path, out: Path, **overrides) -> Path:
    import dataclasses

    from cantor.models.presets import analysis_preset
    from cantor.train.analysis import train_analysis_model
    from cantor.train.runner import RunOptions

    model_config, train_config = analysis_preset(task, f"tiny-{task}")
    return train_analysis_model(
        task,
        data=[toy_notes],
        cache=out.parent / "cache",
        out=out,
        model_config=model_config,
        train_config=dataclasses.replace(train_config, **overrides),
        options=RunOptions(progress=False),
    )


@pytest.fixture(scope="session")
def tiny_transcriber(tmp_path_factory, toy_notes) -> Path:
    """A tiny transcriber trained on the toy notes (about a minute)."""
    return _train_tiny(
        "transcriber",
        toy_notes,
        tmp_path_factory.mktemp("analysis") / "transcriber",
        max_steps=400,
        val_every_steps=200,
    )


@pytest.fixture(scope="session")
def tiny_classifier(tmp_path_factory, toy_notes) -> Path:
    return _train_tiny("classifier", toy_notes, tmp_path_factory.mktemp("analysis") / "classifier")
