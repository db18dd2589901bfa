"""The recipes that make shipped weights out of training runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch

from cantor.features.cqt import CQTConfig
from cantor.models.instrument import INSTRUMENT_KIND, InstrumentClassifier, InstrumentClassifierConfig
from cantor.models.weights import load_weights, save_weights

RECIPES = Path(__file__).parent.parent / "recipes"
TINY = InstrumentClassifierConfig(cqt=CQTConfig(semitones=24), channels=(4, 8), hidden=8, layers=1)


def _saved(folder: Path, seed: int, config: InstrumentClassifierConfig = TINY) -> InstrumentClassifier:
    torch.manual_seed(seed)
    model = InstrumentClassifier(config)
    # BatchNorm statistics as training would leave them, and a counter that must not be averaged
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.normal_()
            module.num_batches_tracked.fill_(100 * (seed + 1))
    save_weights(folder, model, kind=INSTRUMENT_KIND, config=config.to_dict(), metadata={"step": 10})
    return model


def _average(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, str(RECIPES / "average_weights.py"), *args]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def test_average_weights_writes_the_mean_model(tmp_path):
    first, second = _saved(tmp_path / "a", 0), _saved(tmp_path / "b", 1)
    result = _average("--model", str(tmp_path / "a"), "--model", str(tmp_path / "b"), "--out", str(tmp_path / "soup"))
    assert result.returncode == 0, result.stderr
    soup, _ = load_weights(
        tmp_path / "soup" / "final",
        kind=INSTRUMENT_KIND,
        build=lambda c: InstrumentClassifier(InstrumentClassifierConfig.from_dict(c)),
    )
    a, b, mean = first.state_dict(), second.state_dict(), soup.state_dict()
    for name, tensor in mean.items():
        if tensor.is_floating_point():
            torch.testing.assert_close(tensor, (a[name] + b[name]) / 2)
        else:
            assert torch.equal(tensor, a[name])
    assert (tmp_path / "soup" / "run.json").is_file()


def test_average_weights_refuses_unlike_models(tmp_path):
    _saved(tmp_path / "a", 0)
    _saved(tmp_path / "b", 1, InstrumentClassifierConfig(cqt=CQTConfig(semitones=24), channels=(4, 8), hidden=16))
    result = _average("--model", str(tmp_path / "a"), "--model", str(tmp_path / "b"), "--out", str(tmp_path / "soup"))
    assert result.returncode != 0 and "only like models average" in result.stderr
    assert not (tmp_path / "soup").exists()
    missing = _average("--model", str(tmp_path / "a"), "--model", "no-such-model", "--out", str(tmp_path / "soup"))
    assert missing.returncode != 0 and "not a model folder" in missing.stderr


def test_ship_generator_sets_a_shipped_models_sampling(tmp_path, monkeypatch):
    import json

    from cantor.inference.generate import Generator
    from cantor.models.generator import GENERATOR_KIND, LSTMVAE
    from cantor.models.presets import generator_preset

    monkeypatch.syspath_prepend(str(RECIPES))
    import ship_generator

    config, _ = generator_preset("tiny-generator")
    folder = save_weights(tmp_path / "gen", LSTMVAE(config), kind=GENERATOR_KIND, config=config.to_dict())
    (folder / "MODEL_CARD.md").write_text('# card\n\n- configuration: `{"latent": 8}`\n- shipped: today\n')
    ship_generator.set_sampling(folder, {"temperature": 1.1})
    ship_generator.set_sampling(folder, {"onset_temperature_factor": 0.8})  # the temperature stays
    assert Generator(folder).config.temperature == 1.1 and Generator(folder).config.onset_temperature_factor == 0.8
    card = (folder / "MODEL_CARD.md").read_text().splitlines()
    written = json.loads(card[2].split("`")[1])
    assert (
        written["temperature"] == 1.1 and written["onset_temperature_factor"] == 0.8 and card[3] == "- shipped: today"
    )
