"""The TCN-VAE separator: it learns a toy task, adds up to its input, and round-trips through safetensors."""

from __future__ import annotations

import csv
import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from cantor.errors import CantorError
from cantor.models.presets import separator_preset, vocoder_preset
from cantor.models.separator import SEPARATOR_KIND, SeparatorConfig, TCNVAESeparator
from cantor.models.vocoder import VOCODER_KIND, build_vocoder
from cantor.models.weights import load_weights, save_weights
from cantor.nn.tcn import FrameNorm
from cantor.train.logs import logged_validations, metric_logs
from cantor.train.runner import RunOptions
from cantor.train.separator import initialise_reconstruction_from_vocoder, train_separator

from .toy import RATE, write_toy_folder


def _build(config: dict) -> TCNVAESeparator:
    return TCNVAESeparator(SeparatorConfig.from_dict(config))


@pytest.mark.parametrize("preset", ["tiny", "tiny-vocoder"])
@pytest.mark.parametrize("length", [4000, 4001, 1237])
def test_output_length_and_mixture_consistency(length, preset):
    config, _ = separator_preset(preset)
    torch.manual_seed(0)
    model = TCNVAESeparator(config).eval()
    mixture = torch.randn(2, 2, length) * 0.2
    with torch.no_grad():
        out = model(mixture)
    assert out.sources.shape == (2, 2, 2, length)
    # Softmax masks, or the residual shared out after the vocoder: either way the stems add up to the mixture.
    assert torch.allclose(out.sources.sum(dim=1), mixture, atol=1e-5)
    assert not torch.allclose(out.sources[:, 0], out.sources[:, 1], atol=1e-3)


def test_source_spectra_are_the_spectra_of_the_sources():
    # Inference inverts only the first S − 1 masked spectra, frame-major; the spectra handed to the losses and the
    # Wiener filter are computed separately, on demand, and must describe the same waveforms.
    config, _ = separator_preset("tiny")
    torch.manual_seed(1)
    model = TCNVAESeparator(config).eval()
    mixture = torch.randn(1, 2, 6000) * 0.2
    with torch.no_grad():
        out = model(mixture)
        inverted = model.istft(out.spec, length=6000)
    assert out.spec.shape[:3] == (1, len(config.sources), 2)
    assert torch.allclose(inverted, out.sources, atol=1e-5)


def test_frame_norm_is_a_layer_norm_over_each_frame():
    norm = FrameNorm(24)
    torch.manual_seed(2)
    with torch.no_grad():
        norm.norm.weight.normal_()
        norm.norm.bias.normal_()
    x = torch.randn(3, 24, 50) * 5 + 2
    expected = torch.nn.functional.layer_norm(x.transpose(1, 2), (24,), norm.norm.weight, norm.norm.bias)
    assert torch.allclose(norm(x), expected.transpose(1, 2), atol=1e-5)


def test_reconstruction_starts_from_a_trained_vocoder(tmp_path):
    config, _ = separator_preset("tiny-vocoder")
    vocoder_config, _ = vocoder_preset("tiny-gan")
    torch.manual_seed(1)
    vocoder = build_vocoder(vocoder_config)
    folder = save_weights(tmp_path / "voc", vocoder, kind=VOCODER_KIND, config=vocoder_config.to_dict())
    model = TCNVAESeparator(config)
    initialise_reconstruction_from_vocoder(model, folder)
    mel = torch.randn(1, vocoder_config.mel.n_mels, 12)
    with torch.no_grad():
        assert torch.equal(model.vocoder(mel), vocoder(mel))
    other = dataclasses.replace(vocoder_config, gan=dataclasses.replace(vocoder_config.gan, layers=3))
    save_weights(tmp_path / "other", build_vocoder(other), kind=VOCODER_KIND, config=other.to_dict())
    with pytest.raises(CantorError, match="not the one"):
        initialise_reconstruction_from_vocoder(model, tmp_path / "other")
    with pytest.raises(CantorError, match="reconstruction='vocoder'"):
        initialise_reconstruction_from_vocoder(TCNVAESeparator(separator_preset("tiny")[0]), folder)


def test_ablation_variants_run():
    base, _ = separator_preset("tiny")
    for variant in (
        dataclasses.replace(base, encoder="lstm"),
        dataclasses.replace(base, bottleneck=dataclasses.replace(base.bottleneck, kind="deterministic")),
        dataclasses.replace(base, bottleneck=dataclasses.replace(base.bottleneck, prior="gmm")),
    ):
        model = TCNVAESeparator(variant).train()
        out = model(torch.randn(1, 2, 2000))
        kl = model.bottleneck.kl(out.latent, free_bits=0.0)
        assert out.sources.shape == (1, 2, 2, 2000) and torch.isfinite(kl)


def test_save_load_gives_identical_output_and_strict_loading(tmp_path):
    config, _ = separator_preset("tiny")
    model = TCNVAESeparator(config).eval()
    save_weights(tmp_path / "m", model, kind=SEPARATOR_KIND, config=config.to_dict())
    loaded, _ = load_weights(tmp_path / "m", kind=SEPARATOR_KIND, build=_build)
    mixture = torch.randn(1, 2, 3000)
    with torch.no_grad():
        assert torch.equal(model(mixture).sources, loaded(mixture).sources)
    # a config that does not match the weights is refused, naming the tensor
    payload = json.loads((tmp_path / "m" / "config.json").read_text())
    payload["config"]["hidden"] = 48
    (tmp_path / "m" / "config.json").write_text(json.dumps(payload))
    with pytest.raises(CantorError, match="wrong shape"):
        load_weights(tmp_path / "m", kind=SEPARATOR_KIND, build=_build)
    # so is a corrupt weights file, and a model of another kind
    (tmp_path / "m" / "model.safetensors").write_bytes(b"\x00" * 100)
    with pytest.raises(CantorError, match="corrupt"):
        load_weights(tmp_path / "m", kind=SEPARATOR_KIND, build=_build)
    with pytest.raises(CantorError, match="not a 'vocoder'"):
        load_weights(tmp_path / "m", kind="vocoder", build=_build)


def test_tiny_separator_learns_the_toy_task(tmp_path):
    data = write_toy_folder(tmp_path / "toy", songs={"train": 12, "valid": 3})
    config, train = separator_preset("tiny")
    assert config.sample_rate == RATE
    train = dataclasses.replace(train, max_steps=240, val_every_steps=120, checkpoint_minutes=60)
    run = train_separator(
        data=data, out=tmp_path / "run", model_config=config, train_config=train, options=RunOptions(progress=False)
    )
    _, payload = load_weights(run / "best", kind=SEPARATOR_KIND, build=_build)
    assert payload["metadata"]["metrics"]["valid/si_sdri"] > 10.0
    assert (run / "curves.png").read_bytes().startswith(b"\x89PNG")
    assert (run / "checkpoints" / "last.ckpt").is_file()


def test_training_resumes_from_its_last_checkpoint(tmp_path):
    data = write_toy_folder(tmp_path / "toy", songs={"train": 3, "valid": 1}, seconds=2.0)
    config, train = separator_preset("tiny")
    first = dataclasses.replace(train, max_steps=6, val_every_steps=6, checkpoint_minutes=0.0)
    run = tmp_path / "run"
    train_separator(
        data=data, out=run, model_config=config, train_config=first, options=RunOptions(progress=False, max_minutes=10)
    )
    checkpoint = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert checkpoint["global_step"] == 6
    longer = dataclasses.replace(first, max_steps=10)
    train_separator(
        data=data, out=run, model_config=config, train_config=longer, options=RunOptions(progress=False, max_minutes=10)
    )
    _, payload = load_weights(run / "final", kind=SEPARATOR_KIND, build=_build)
    assert payload["metadata"]["step"] == 10  # continued from 6, not restarted from 0
    resumed = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert resumed["global_step"] == 10 and resumed["optimizer_states"]
    # Both sessions' training losses are kept (Lightning alone would delete the first session's log).
    logged_steps = {
        int(row["step"]) for path in metric_logs(run / "logs") for row in csv.DictReader(path.open()) if row["step"]
    }
    assert min(logged_steps) < 6 <= max(logged_steps)
    # The first session's one validation (at step 6, logged 0-based) is still read back after the second session.
    validated = logged_validations(run / "logs")
    assert [step for step, _ in validated] == [5] and "valid/si_sdri" in validated[0][1]
    # A time limit is per session: a resumed run trains on even though earlier sessions already took longer (here a
    # checkpoint whose Lightning timer says an hour has passed, as one from a long run does).
    checkpoint = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    stages = ("train", "sanity_check", "validate", "test", "predict")
    checkpoint.setdefault("callbacks", {})["Timer"] = {"time_elapsed": {stage: 3600.0 for stage in stages}}
    torch.save(checkpoint, run / "checkpoints" / "last.ckpt")
    timed = dataclasses.replace(first, max_steps=100_000)
    train_separator(
        data=data,
        out=run,
        model_config=config,
        train_config=timed,
        options=RunOptions(progress=False, max_minutes=0.25),
    )
    _, payload = load_weights(run / "final", kind=SEPARATOR_KIND, build=_build)
    assert 13 <= payload["metadata"]["step"] < 100_000  # Lightning's restored timer stops it after one step


def test_finetuning_starts_from_the_base_separator(tmp_path):
    from safetensors.numpy import load_file

    data = write_toy_folder(tmp_path / "toy", songs={"train": 2, "valid": 1}, seconds=2.0)
    config, train = separator_preset("tiny")
    short = dataclasses.replace(train, max_steps=3, val_every_steps=3, checkpoint_minutes=60)
    options = RunOptions(progress=False)
    base = train_separator(data=data, out=tmp_path / "base", model_config=config, train_config=short, options=options)
    # A vanishing learning rate leaves the weights where they start: the base's, not a fresh initialisation's;
    # the equaliser only changes the crops.
    frozen = dataclasses.replace(short, learning_rate=1e-12, final_learning_rate=1e-12, eq_db=6.0)
    tuned = train_separator(
        data=data,
        out=tmp_path / "tuned",
        model_config=config,
        train_config=dataclasses.replace(frozen, init=str(base / "final")),
        options=options,
    )
    before, after = load_file(base / "final" / "model.safetensors"), load_file(tuned / "final" / "model.safetensors")
    assert max(float(np.abs(after[k] - before[k]).max()) for k in before) < 1e-6
    other = dataclasses.replace(config, hidden=config.hidden * 2)
    with pytest.raises(ValueError, match="config differs"):
        train_separator(
            data=data,
            out=tmp_path / "mismatch",
            model_config=other,
            train_config=dataclasses.replace(frozen, init=str(base / "final")),
            options=options,
        )


def test_cli_finetunes_with_an_equaliser_and_refuses_bad_options(tmp_path):
    from typer.testing import CliRunner

    from cantor.cli.main import app

    data = write_toy_folder(tmp_path / "toy", songs={"train": 2, "valid": 1}, seconds=2.0)
    config, train = separator_preset("tiny")
    short = dataclasses.replace(train, max_steps=2, val_every_steps=2, checkpoint_minutes=60)
    base = train_separator(
        data=data, out=tmp_path / "base", model_config=config, train_config=short, options=RunOptions(progress=False)
    )
    command = ["train", "separator", "--data", str(data), "--preset", "tiny", "--max-steps", "2", "--val-every", "2"]
    command += ["--threads", "1", "--finetune", str(base / "final")]
    result = CliRunner().invoke(app, [*command, "--out", str(tmp_path / "tuned"), "--eq-db", "6"])
    assert result.exit_code == 0, result.output
    recipe = json.loads((tmp_path / "tuned" / "run.json").read_text())["train"]
    assert recipe["init"] == str(base / "final") and recipe["eq_db"] == 6.0 and recipe["learning_rate"] == 1e-4
    for bad, message in ((["--eq-db", "-1"], "--eq-db"), (["--sources", "a,b"], "architecture")):
        refused = subprocess.run(
            [sys.executable, "-m", "cantor.cli.main", *command, "--out", str(tmp_path / "bad"), *bad],
            capture_output=True,
            text=True,
        )
        assert refused.returncode == 2 and message in refused.stderr and "Traceback" not in refused.stderr
        assert not (tmp_path / "bad").exists()
