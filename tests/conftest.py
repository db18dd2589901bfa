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
