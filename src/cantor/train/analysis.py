"""Training the analysis models with Lightning: the note transcriber and the instrument classifier.

Both learn from the same cached stem CQTs (:mod:`cantor.data.stems`), built once per data folder. The transcriber
keeps the checkpoint with the best validation note F1 (onsets within 50 ms), the classifier the best family
accuracy.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from cantor.analysis.notes import decode_notes
from cantor.data.stems import StemCropDataset, build_stem_cache
from cantor.models.instrument import INSTRUMENT_KIND, InstrumentClassifier, InstrumentClassifierConfig
from cantor.models.presets import AnalysisTrainConfig
from cantor.models.transcriber import NOTE_OUTPUTS, TRANSCRIBER_KIND, Transcriber, TranscriberConfig
from cantor.models.weights import load_base_weights, read_config
from cantor.train.losses import check_loss_names
from cantor.train.runner import RunOptions, describe_run, model_exporter, run_training, warmup_cosine

TASKS = ("transcriber", "classifier")


class _AnalysisSystem(L.LightningModule):
    def __init__(self, model: dict, train: dict) -> None:
        super().__init__()
        self.save_hyperparameters()  # plain dicts only: the checkpoint holds no pickled classes
        self.train_config = AnalysisTrainConfig(**train)

    def _start_from_init(self, kind: str) -> None:
        """Fine-tuning: start from the base model's weights (its config must equal the one being trained)."""
        if self.train_config.init:
            load_base_weights(self.model, self.train_config.init, kind=kind, config=self.model_config)

    def configure_optimizers(self):
        config = self.train_config
        optimiser = torch.optim.AdamW(self.model.parameters(), lr=config.learning_rate, weight_decay=1e-4)
        scheduler = warmup_cosine(optimiser, config)
        return [optimiser], [{"scheduler": scheduler, "interval": "step"}]

    def on_train_epoch_start(self) -> None:
        self.trainer.train_dataloader.dataset.set_epoch(self.current_epoch)

    def _log_terms(self, terms: dict[str, torch.Tensor]) -> torch.Tensor:
        weights = self.train_config.losses
        total = sum(weights[name] * value for name, value in terms.items())
        self.log("train/loss", total, prog_bar=True)
        for name, value in terms.items():
            self.log(f"train/{name}", value)
        return total


class TranscriberSystem(_AnalysisSystem):
    """Binary cross-entropy per key and frame on the onset, frame and offset rolls."""

    def __init__(self, model: dict, train: dict) -> None:
        super().__init__(model, train)
        check_loss_names(self.train_config.losses, NOTE_OUTPUTS)
        self.model_config = TranscriberConfig.from_dict(model)
        self.model = Transcriber(self.model_config)
        self._start_from_init(TRANSCRIBER_KIND)
        self._matches = np.zeros(3)  # true positives, estimated notes, reference notes
        self._frame_scores: list[float] = []

    def training_step(self, batch: dict[str, torch.Tensor], batch_index: int):
        logits = self.model(batch["cqt"])
        terms = {
            name: F.binary_cross_entropy_with_logits(logits[name], batch[name])
            for name in NOTE_OUTPUTS
            if self.train_config.losses.get(name)
        }
        return self._log_terms(terms)

    def validation_step(self, batch: dict[str, torch.Tensor], batch_index: int):
        logits = self.model(batch["cqt"])
        probabilities = {name: torch.sigmoid(value).cpu().numpy() for name, value in logits.items()}
        config = self.model_config.cqt
        for item in range(batch["cqt"].shape[0]):
            estimated = decode_notes(probabilities["onset"][item], probabilities["frame"][item], None, config)
            reference = decode_notes(batch["onset"][item].numpy(), batch["frame"][item].numpy(), None, config)
            self._matches += [onset_matches(estimated, reference), len(estimated), len(reference)]
            active = probabilities["frame"][item] >= 0.5
            truth = batch["frame"][item].numpy() > 0.5
            self._frame_scores.append(_f1(np.sum(active & truth), active.sum(), truth.sum()))

    def on_validation_epoch_end(self) -> None:
        if not self._frame_scores:
            return
        matched, estimated, reference = self._matches
        self.log("valid/note_f1", _f1(*self._matches), prog_bar=True)
        self.log("valid/note_precision", matched / max(estimated, 1))
        self.log("valid/note_recall", matched / max(reference, 1))
        self.log("valid/frame_f1", float(np.mean(self._frame_scores)))
        self._matches[:] = 0
        self._frame_scores.clear()


class InstrumentSystem(_AnalysisSystem):
    """Cross-entropy on the GM family and the GM program of each crop."""

    def __init__(self, model: dict, train: dict) -> None:
        super().__init__(model, train)
        check_loss_names(self.train_config.losses, ("family", "program"))
        self.model_config = InstrumentClassifierConfig.from_dict(model)
        self.model = InstrumentClassifier(self.model_config)
        self._start_from_init(INSTRUMENT_KIND)
        self._correct: list[np.ndarray] = []

    def training_step(self, batch: dict[str, torch.Tensor], batch_index: int):
        family_logits, program_logits = self.model(batch["cqt"])
        terms = {
            "family": F.cross_entropy(family_logits, batch["family"]),
            "program": F.cross_entropy(program_logits, batch["program"]),
        }
        return self._log_terms({k: v for k, v in terms.items() if self.train_config.losses.get(k)})

    def validation_step(self, batch: dict[str, torch.Tensor], batch_index: int):
        family_logits, program_logits = self.model(batch["cqt"])
        top3 = program_logits.topk(3, dim=-1).indices
        self._correct.append(
            torch.stack(
                [
                    (family_logits.argmax(-1) == batch["family"]).float(),
                    (top3 == batch["program"][:, None]).any(-1).float(),
                ],
                dim=1,
            ).numpy()
        )

    def on_validation_epoch_end(self) -> None:
        if not self._correct:
            return
        accuracy = np.concatenate(self._correct).mean(axis=0)
        self.log("valid/family_accuracy", float(accuracy[0]), prog_bar=True)
        self.log("valid/program_top3", float(accuracy[1]))
        self._correct.clear()


def onset_matches(estimated, reference, tolerance: float = 0.05) -> int:
    """Notes matched one-to-one by pitch and onset within ``tolerance`` seconds (mir_eval's onset-only rule)."""
    used = set()
    matches = 0
    for note in estimated:
        for index, candidate in enumerate(reference):
            if index not in used and candidate.pitch == note.pitch and abs(candidate.start - note.start) <= tolerance:
                used.add(index)
                matches += 1
                break
    return matches


def _f1(true_positives: float, estimated: float, reference: float) -> float:
    if estimated + reference == 0:
        return 1.0
    return float(2 * true_positives / (estimated + reference))


def train_analysis_model(
    task: str,
    *,
    data: list[Path],
    cache: Path,
    out: Path,
    model_config: TranscriberConfig | InstrumentClassifierConfig,
    train_config: AnalysisTrainConfig,
    options: RunOptions = RunOptions(),
) -> Path:
    """Build the stem cache if needed, train (or resume), export ``out/best`` and ``out/final``."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    transcriber = task == "transcriber"
    cqt = model_config.cqt
    files = {
        split: build_stem_cache(data, cache / _cache_name(cqt), split=split, songs=train_config.songs, config=cqt)
        for split in ("train", "valid")
    }
    common = _crop_settings(cqt, transcriber, train_config)
    train_set = StemCropDataset(
        files["train"],
        crop_frames=train_config.crop_frames,
        items=train_config.val_every_steps * train_config.batch_size,
        gain_db=train_config.gain_db,
        eq_db=train_config.eq_db,
        shift_bins=train_config.shift_bins,
        **common,
    )
    train_loader = DataLoader(
        train_set, batch_size=train_config.batch_size, num_workers=train_config.num_workers, drop_last=True
    )
    valid_loader = _valid_loader(files["valid"], common, train_config)
    run_info = describe_run(options, data, model_config, train_config, train_set.describe())
    L.seed_everything(train_config.seed, workers=True, verbose=False)
    system_class = TranscriberSystem if transcriber else InstrumentSystem
    system = system_class(model_config.to_dict(), dataclasses.asdict(train_config))
    return run_training(
        system,
        train_loader=train_loader,
        valid_loader=valid_loader,
        out=out,
        run_info=run_info,
        export=model_exporter(TRANSCRIBER_KIND if transcriber else INSTRUMENT_KIND),
        monitor="valid/note_f1" if transcriber else "valid/family_accuracy",
        mode="max",
        max_steps=train_config.max_steps,
        val_items=len(valid_loader),
        checkpoint_minutes=train_config.checkpoint_minutes,
        options=options,
    )


def validate_analysis_model(
    task: str, model: Path, *, data: list[Path], cache: Path, train_config: AnalysisTrainConfig
) -> dict[str, float]:
    """The validation metrics of trained weights in ``model`` (a model folder: e.g. weights averaged from several
    runs, which no run validated) on the crops that a run with ``train_config`` validates on (its seed fixes them)."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    transcriber = task == "transcriber"
    kind = TRANSCRIBER_KIND if transcriber else INSTRUMENT_KIND
    config = read_config(model, kind=kind)["config"]
    model_config = (TranscriberConfig if transcriber else InstrumentClassifierConfig).from_dict(config)
    cqt = model_config.cqt
    files = build_stem_cache(data, cache / _cache_name(cqt), split="valid", songs=train_config.songs, config=cqt)
    loader = _valid_loader(files, _crop_settings(cqt, transcriber, train_config), train_config)
    system_class = TranscriberSystem if transcriber else InstrumentSystem
    system = system_class(
        model_config.to_dict(), dataclasses.asdict(dataclasses.replace(train_config, init=str(model)))
    )
    trainer = L.Trainer(
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    (metrics,) = trainer.validate(system, loader, verbose=False)
    return {name: float(value) for name, value in metrics.items()}


def _crop_settings(cqt, transcriber: bool, train_config: AnalysisTrainConfig) -> dict:
    """What training and validation crops share. Validation crops get the same kind of leakage as training ones
    (fixed per crop), as separated stems have."""
    return {
        "config": cqt,
        "pitched_only": transcriber,
        "seed": train_config.seed,
        "leakage_db": train_config.leakage_db,
        "leakage_probability": train_config.leakage_probability,
    }


def _valid_loader(files, common: dict, train_config: AnalysisTrainConfig) -> DataLoader:
    valid_set = StemCropDataset(
        files, crop_frames=train_config.val_crop_frames, items=train_config.val_items, random=False, **common
    )
    return DataLoader(valid_set, batch_size=8, num_workers=0)


def _cache_name(config) -> str:
    """Caches are per CQT configuration, so a tiny test model never reads a full-size cache."""
    fields = (config.sample_rate, config.hop_length, config.lowest_midi, config.semitones, config.bins_per_semitone)
    return "cqt-" + "-".join(map(str, fields))
