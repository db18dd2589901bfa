"""The shipped models load strictly, and `band` separates the bundled example into every stem, for real."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import soundfile
import torch

from cantor.metrics import si_sdr_improvement
from cantor.models.presets import BAND_SOURCES, CHORALE_SOURCES
from cantor.models.registry import available_models
from cantor.models.separator import SeparatorConfig, TCNVAESeparator
from cantor.models.weights import load_weights

EXAMPLE = Path(__file__).parent.parent / "examples" / "band-example"


def test_shipped_models_are_there_with_cards_and_load_strictly():
    models = available_models()
    assert {"band", "chorale"} <= set(models)
    for name, sources in (("band", BAND_SOURCES), ("chorale", CHORALE_SOURCES)):
        model, payload = load_weights(
            models[name], kind="separator", build=lambda c: TCNVAESeparator(SeparatorConfig.from_dict(c))
        )
        assert model.config.sources == sources
        assert (models[name] / "model.safetensors").stat().st_size <= 20_000_000
        card = (models[name] / "MODEL_CARD.md").read_text()
        assert "cantor train separator" in card and "cantor data build" in card
        assert payload["metadata"]["metrics"]["valid/si_sdri"] > 0


def test_cli_separates_the_bundled_example_with_band(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "cantor.cli.main", "separate", str(EXAMPLE / "mixture.flac"), "-o", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    folder = tmp_path / "band" / "mixture"
    mixture, rate = soundfile.read(EXAMPLE / "mixture.flac", dtype="float32", always_2d=True)
    estimates, truth = [], []
    for stem in BAND_SOURCES:
        audio, stem_rate = soundfile.read(folder / f"{stem}.wav", dtype="float32", always_2d=True)
        assert stem_rate == rate and audio.shape == mixture.shape
        estimates.append(torch.from_numpy(audio.T.copy()))
        truth.append(
            torch.from_numpy(soundfile.read(EXAMPLE / f"{stem}.flac", dtype="float32", always_2d=True)[0].T.copy())
        )
    gains = si_sdr_improvement(torch.stack(estimates), torch.stack(truth), torch.from_numpy(mixture.T.copy()))
    assert gains.mean() > 3.0, gains  # a real separation of a song the model never saw, not a copy of the mixture
