"""The analysis models learn toy tasks with known answers; the stem cache holds exactly what was rendered."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cantor.data.augment import random_eq_curve
from cantor.data.stems import StemCropDataset, build_stem_cache, note_rolls
from cantor.features.cqt import CQTConfig
from cantor.models.presets import analysis_preset


def test_note_rolls_mark_onsets_frames_and_offsets():
    config = CQTConfig(sample_rate=8000, hop_length=100, lowest_midi=36, semitones=48)  # 80 frames per second
    notes = np.array([[0.5, 1.0, 60, 100], [0.5, 0.6, 20, 100]], dtype=np.float32)  # the second is out of range
    rolls = note_rolls(notes, 100, config)
    key = 60 - 36
    assert np.flatnonzero(rolls["onset"][key]).tolist() == [40, 41]
    assert np.flatnonzero(rolls["frame"][key]).tolist() == list(range(40, 80))
    assert np.flatnonzero(rolls["offset"][key]).tolist() == [79]
    assert rolls["frame"].sum() == 40


def test_stem_cache_and_leakage(toy_notes, tmp_path):
    config = analysis_preset("transcriber", "tiny-transcriber")[0].cqt
    files = build_stem_cache([toy_notes], tmp_path, split="train", config=config)
    assert len(files) == 6
    mtime = files[0].stat().st_mtime_ns
    assert build_stem_cache([toy_notes], tmp_path, split="train", config=config)[0].stat().st_mtime_ns == mtime
    clean = StemCropDataset(
        files, crop_frames=64, items=4, config=config, pitched_only=True, random=False, leakage_db=None
    )
    assert {stem.name for stem in clean.stems} == {"lead"}
    leaky = StemCropDataset(
        files, crop_frames=64, items=4, config=config, pitched_only=True, random=False, leakage_probability=1.0
    )
    a, b = clean[0], leaky[0]
    assert a["frame"].sum() > 0 and a["family"].item() == b["family"].item()
    assert (b["cqt"] >= a["cqt"] - 1e-3).all() and (b["cqt"] - a["cqt"]).sum() > 0  # the hits leaked in


def test_random_eq_curves_are_bounded_smooth_and_varied():
    rng = np.random.default_rng(0)
    curves = np.stack([20 * np.log10(random_eq_curve(rng, 264, 36, 6.0)) for _ in range(200)])
    assert np.abs(curves).max() <= 6.0 + 1e-4
    assert np.abs(np.diff(curves, axis=1)).max() < 0.5  # under half a dB per third of a semitone: an EQ, not a comb
    assert curves.std(axis=0).min() > 1.0  # every region of the spectrum gets boosted and cut
    assert np.allclose(random_eq_curve(rng, 264, 36, 0.0), 1.0)


def test_eq_augmentation_colours_training_crops_only(toy_notes, tmp_path):
    config = analysis_preset("transcriber", "tiny-transcriber")[0].cqt
    files = build_stem_cache([toy_notes], tmp_path, split="train", config=config)
    common = {"crop_frames": 64, "items": 4, "config": config, "leakage_db": None, "gain_db": (0.0, 0.0)}
    plain, coloured = StemCropDataset(files, **common), StemCropDataset(files, eq_db=6.0, **common)
    a, b = plain[0]["cqt"].numpy(), coloured[0]["cqt"].numpy()
    sounding = a > 1e-3 * a.max()
    ratio_db = 20 * np.log10(b[sounding] / a[sounding])
    assert 0.5 < np.abs(ratio_db).max() <= 6.0 + 1e-3  # the same crop, coloured within the bound
    fixed = StemCropDataset(files, eq_db=6.0, random=False, **common)
    unchanged = StemCropDataset(files, random=False, **common)
    assert np.array_equal(fixed[0]["cqt"].numpy(), unchanged[0]["cqt"].numpy())  # validation crops stay as rendered


def test_shift_augmentation_moves_spectrum_and_notes_together(toy_notes, tmp_path):
    """Each training crop is the plain crop moved by up to 3 CQT bins (a soundfont's resampled note), its note
    rolls by the whole semitones of the move; validation crops are not moved."""
    config = analysis_preset("transcriber", "tiny-transcriber")[0].cqt
    files = build_stem_cache([toy_notes], tmp_path, split="train", config=config)
    common = {"crop_frames": 64, "items": 12, "config": config, "pitched_only": True, "leakage_db": None}
    plain, moved = StemCropDataset(files, **common), StemCropDataset(files, shift_bins=3, **common)
    shifts = []
    for index in range(12):
        a, b = plain[index], moved[index]
        matches = [k for k in range(-3, 4) if np.allclose(np.roll(a["cqt"].numpy(), k, axis=0)[3:-3], b["cqt"][3:-3])]
        assert len(matches) == 1, matches
        shift = matches[0]
        semitones = round(shift / config.bins_per_semitone)
        assert np.array_equal(np.roll(a["frame"].numpy(), semitones, axis=0)[2:-2], b["frame"][2:-2].numpy())
        shifts.append(shift)
    assert len(set(shifts)) >= 3, shifts  # moved up and down by varied amounts
    fixed = StemCropDataset(files, shift_bins=3, random=False, **common)
    unchanged = StemCropDataset(files, random=False, **common)
    assert np.array_equal(fixed[0]["cqt"].numpy(), unchanged[0]["cqt"].numpy())


def test_tiny_transcriber_learns_toy_notes(tiny_transcriber):
    best = json.loads((tiny_transcriber / "best" / "config.json").read_text())["metadata"]["metrics"]
    assert best["valid/note_f1"] > 0.8, best


def test_validating_saved_weights_reproduces_the_runs_metrics(tiny_transcriber, toy_notes, tmp_path):
    """Weights no run validated (an average of runs) are scored on the crops their runs validated on: the exported
    best weights get exactly the F1 logged for them, untrained ones far less."""
    from cantor.models.presets import AnalysisTrainConfig
    from cantor.models.transcriber import TRANSCRIBER_KIND, Transcriber, TranscriberConfig
    from cantor.models.weights import read_config, save_weights
    from cantor.train.analysis import validate_analysis_model

    train_config = AnalysisTrainConfig(**json.loads((tiny_transcriber / "run.json").read_text())["train"])
    payload = read_config(tiny_transcriber / "best", kind=TRANSCRIBER_KIND)

    def note_f1(model: Path) -> float:
        metrics = validate_analysis_model(
            "transcriber", model, data=[toy_notes], cache=tmp_path / "cache", train_config=train_config
        )
        return metrics["valid/note_f1"]

    assert note_f1(tiny_transcriber / "best") == pytest.approx(
        payload["metadata"]["metrics"]["valid/note_f1"], abs=1e-6
    )
    untrained = Transcriber(TranscriberConfig.from_dict(payload["config"]))
    save_weights(tmp_path / "untrained", untrained, kind=TRANSCRIBER_KIND, config=payload["config"])
    assert note_f1(tmp_path / "untrained") < 0.5


def test_tiny_classifier_learns_two_families(tiny_classifier):
    best = json.loads((tiny_classifier / "best" / "config.json").read_text())["metadata"]["metrics"]
    assert best["valid/family_accuracy"] == 1.0, best


def test_finetuning_starts_from_the_trained_classifier(tiny_classifier, toy_notes, tmp_path):
    from safetensors.numpy import load_file

    base = tiny_classifier / "best"
    command = [sys.executable, "-m", "cantor.cli.main", "train", "classifier", "--data", str(toy_notes)]
    command += ["--cache", str(tmp_path / "cache"), "--threads", "1", "--max-steps", "2", "--val-every", "2"]
    run = subprocess.run([*command, "--out", str(tmp_path / "tuned"), "--finetune", str(base)], capture_output=True)
    assert run.returncode == 0, run.stderr.decode()
    tuned = json.loads((tmp_path / "tuned" / "best" / "config.json").read_text())
    assert tuned["config"] == json.loads((base / "config.json").read_text())["config"]
    assert tuned["metadata"]["metrics"]["valid/family_accuracy"] == 1.0  # two warm-up steps keep what it knew
    before, after = load_file(base / "model.safetensors"), load_file(tmp_path / "tuned" / "final" / "model.safetensors")
    weights = [k for k in before if "running_" not in k and "num_batches" not in k]  # not BatchNorm's statistics
    assert max(float(np.abs(after[k] - before[k]).max()) for k in weights) < 1e-3

    # another seed draws other crops and augmentations: the same two steps move the weights elsewhere
    reseeded = subprocess.run(
        [*command, "--out", str(tmp_path / "reseeded"), "--finetune", str(base), "--seed", "3"], capture_output=True
    )
    assert reseeded.returncode == 0, reseeded.stderr.decode()
    assert json.loads((tmp_path / "reseeded" / "run.json").read_text())["train"]["seed"] == 3
    other = load_file(tmp_path / "reseeded" / "final" / "model.safetensors")
    assert max(float(np.abs(other[k] - after[k]).max()) for k in weights) > 1e-6

    negative = subprocess.run([*command, "--out", str(tmp_path / "z"), "--seed", "-1"], capture_output=True, text=True)
    assert negative.returncode == 2 and "--seed must be" in negative.stderr and "Traceback" not in negative.stderr
    mixed = subprocess.run(
        [*command, "--out", str(tmp_path / "x"), "--finetune", "instruments", "--preset", "tiny-classifier"],
        capture_output=True,
        text=True,
    )
    assert mixed.returncode == 2 and "leave out --preset" in mixed.stderr and "Traceback" not in mixed.stderr
    unknown = subprocess.run(
        [*command, "--out", str(tmp_path / "y"), "--finetune", "no-such-model"], capture_output=True, text=True
    )
    assert unknown.returncode == 2 and "unknown model 'no-such-model'" in unknown.stderr
