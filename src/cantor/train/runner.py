"""What every Cantor training run shares: resumable checkpoints every few minutes, export of the best weights,
logs that survive a resume, curves, and ``run.json`` — around any Lightning system.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import CSVLogger
from torch.utils.data import DataLoader, Sampler

from cantor.files import write_json_atomic
from cantor.models.weights import CONFIG_FILE, count_parameters, save_weights
from cantor.train.logs import metric_logs, set_aside_previous_metrics
from cantor.train.plots import plot_training_curves

Export = Callable[[L.LightningModule, Path, dict], Path]  # (system, folder, metadata) → folder


@dataclass(frozen=True)
class RunOptions:
    """How a run is carried out, as opposed to the recipe of what is trained; the same for every Cantor model.

    ``max_minutes`` limits this session only (a resumed run gets the time again); ``command`` is the command line
    that started the run, recorded in ``run.json`` and in the exported weights.
    """

    max_minutes: float | None = None
    accelerator: str = "cpu"
    devices: int | str = 1
    strategy: str = "auto"
    num_nodes: int = 1
    precision: str = "32-true"
    accumulate: int = 1  # batches per optimiser step (systems that step by hand, the GAN's, refuse more than 1)
    command: str = ""
    progress: bool = True


class Schedule(Protocol):
    """The fields of every training recipe that the learning-rate schedule reads."""

    warmup_steps: int
    max_steps: int
    learning_rate: float
    final_learning_rate: float


def describe_run(options: RunOptions, data, model_config, train_config, train_data: str) -> dict:
    """``run.json``'s content: what was trained on what, with which command."""
    folders = data if isinstance(data, list | tuple) else [data]
    return {
        "command": options.command,
        "data": ", ".join(str(path) for path in folders),
        "model": model_config.to_dict(),
        "train": dataclasses.asdict(train_config),
        "train_data": train_data,
    }


def model_exporter(kind: str) -> Export:
    """The export of every Cantor system: ``system.model`` and ``system.model_config`` as a weights folder."""

    def export(system: L.LightningModule, folder: Path, metadata: dict) -> Path:
        return save_weights(
            folder,
            system.model,
            kind=kind,
            config=system.model_config.to_dict(),
            metadata={**metadata, "parameters": count_parameters(system.model)},
        )

    return export


def warmup_cosine(optimiser: torch.optim.Optimizer, recipe: Schedule) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up to the recipe's ``learning_rate``, then a cosine down to ``final_learning_rate`` at
    ``max_steps``."""
    floor = recipe.final_learning_rate / recipe.learning_rate
    warmup_steps, max_steps = recipe.warmup_steps, recipe.max_steps

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = min(1.0, (step - warmup_steps) / max(1, max_steps - warmup_steps))
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimiser, factor)


def _agreed(trainer: L.Trainer, decision: bool) -> bool:
    """The first process's ``decision``, for all of them: clocks differ between processes, and a checkpoint or a
    stop that only some take would hang the others at the next collective step."""
    return trainer.strategy.broadcast(decision, src=0) if trainer.world_size > 1 else decision


class PeriodicCheckpoint(Callback):
    """Writes ``last.ckpt`` (model, optimisers, schedulers, step counters) every few minutes and at the end.

    Lightning's ``ModelCheckpoint(train_time_interval=…)`` never fires under manual optimisation (which the GAN
    steps need), hence this. The file is written beside the old one and renamed, so a kill never corrupts it.
    """

    def __init__(self, folder: Path, *, minutes: float) -> None:
        self.path = folder / "last.ckpt"
        self.interval = minutes * 60
        self.last_save = time.monotonic()

    def _save(self, trainer: L.Trainer) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(".last.ckpt.tmp")
        self._note_position(trainer)
        trainer.save_checkpoint(tmp)  # every process takes part; the first writes
        if trainer.is_global_zero:
            tmp.replace(self.path)
        self.last_save = time.monotonic()

    def on_train_batch_end(self, trainer: L.Trainer, *args) -> None:
        if _agreed(trainer, time.monotonic() - self.last_save >= self.interval):
            self._save(trainer)

    @staticmethod
    def _note_position(trainer: L.Trainer) -> None:
        """Tell a resumable loader how many batches of this epoch are done (its state in the checkpoint)."""
        loader = trainer.train_dataloader
        if isinstance(loader, _ResumableLoader):
            loader.position = trainer.fit_loop.epoch_loop.batch_progress.current.processed

    def on_train_end(self, trainer: L.Trainer, *args) -> None:
        self._save(trainer)


class SessionTimeLimit(Callback):
    """Stops training after ``minutes`` of this session. Not Lightning's ``max_time``: its timer is restored from
    the checkpoint, so a resumed run that had already trained that long would stop before its first step."""

    def __init__(self, minutes: float) -> None:
        self.seconds = minutes * 60
        self.started = time.monotonic()

    def on_train_batch_end(self, trainer: L.Trainer, *args) -> None:
        if _agreed(trainer, time.monotonic() - self.started >= self.seconds):
            trainer.should_stop = True


class WallClock(Callback):
    """Logs ``time/minutes`` of this session with the training metrics: speeds per step and curves against time
    for model cards, read off the same CSV."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def on_train_batch_end(self, trainer: L.Trainer, system: L.LightningModule, *args) -> None:
        system.log("time/minutes", (time.monotonic() - self.started) / 60)


class ExportBest(Callback):
    """Exports the model as safetensors (``run/best``) whenever the monitored validation metric improves.

    The best score so far is read back from ``run/best`` on a resume, so a worse model never replaces it.
    """

    def __init__(
        self, run_dir: Path, metadata: dict, *, export: Export, monitor: str, mode: str, steps_per_update: int
    ) -> None:
        self.folder = run_dir / "best"
        self.steps_per_update = steps_per_update
        self.metadata = metadata
        self.export = export
        self.monitor = monitor
        self.sign = 1.0 if mode == "max" else -1.0
        self.best = -math.inf
        saved = self.folder / CONFIG_FILE
        if saved.is_file():
            score = json.loads(saved.read_text()).get("metadata", {}).get("metrics", {}).get(monitor)
            if score is not None:
                self.best = self.sign * float(score)

    def on_validation_end(self, trainer: L.Trainer, system: L.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        score = trainer.callback_metrics.get(self.monitor)
        if score is None or self.sign * float(score) <= self.best:
            return
        self.best = self.sign * float(score)
        metrics = {k: round(float(v), 4) for k, v in trainer.callback_metrics.items() if k.startswith("valid/")}
        step = system.global_step // self.steps_per_update
        self.export(system, self.folder, {**self.metadata, "step": step, "metrics": metrics})


class _RankSlice(Sampler):
    """Indices ``rank, rank + world, …`` of ``0 … n − 1``, read when iteration starts (when the processes of a
    distributed run have joined). Each process takes its share of every global batch in order, so a global batch is
    exactly the batch one process would take: runs on 1 or N processes see the same data. Cantor's datasets draw
    each item from a generator seeded by its index and epoch, so no sampler needs to shuffle (Lightning's own
    distributed sampler would, and the runs would differ)."""

    def __init__(self, length: int) -> None:
        self.length = length
        self.skip = 0  # this process's items to leave out of the next pass only (a resumed epoch's done batches)

    def _share(self) -> tuple[int, int]:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            return torch.distributed.get_rank(), torch.distributed.get_world_size()
        return 0, 1

    def __iter__(self):
        rank, world = self._share()
        skip, self.skip = self.skip, 0
        return iter(range(rank, self.length - self.length % world, world)[skip:])

    def __len__(self) -> int:
        _, world = self._share()
        return self.length // world


class _ResumableLoader(DataLoader):
    """A training loader that resumes mid-epoch: Lightning stores its ``state_dict`` in every checkpoint (the
    batches of the current epoch already trained on, which :class:`PeriodicCheckpoint` sets just before saving, and
    the dataset's epoch) and hands it back on resume, before it draws the first batch; the next pass then leaves the
    done batches out, so the data continue exactly as if the run had never stopped."""

    position = 0

    def state_dict(self) -> dict:
        return {"position": self.position, "epoch": getattr(self.dataset, "epoch", None)}

    def load_state_dict(self, state: dict) -> None:
        self.position = state["position"]
        epoch = state.get("epoch")
        if self.position < len(self):
            self.sampler.skip = self.position * self.batch_size
        elif epoch is not None:  # saved after an epoch's last batch: the next epoch starts whole
            epoch += 1
        if epoch is not None and hasattr(self.dataset, "set_epoch"):
            # the first batch is drawn before Lightning's epoch-start hooks run: its crops need their epoch now
            self.dataset.set_epoch(epoch)


def _rank_sliced(loader: DataLoader) -> DataLoader:
    """``loader`` again, drawing its items through :class:`_RankSlice`, resumable mid-epoch."""
    return _ResumableLoader(
        loader.dataset,
        batch_size=loader.batch_size,
        sampler=_RankSlice(len(loader.dataset)),
        num_workers=loader.num_workers,
        collate_fn=loader.collate_fn,
        drop_last=loader.drop_last,
        persistent_workers=loader.persistent_workers,
    )


def _strategy(name: str):
    """Lightning's strategy for ``name``. Plain DDP must be told that some parameters go unused in a step: a GAN's
    discriminators sit idle during its reconstruction warm-up, and each of its two optimiser steps uses half the
    parameters."""
    if name == "ddp":
        from lightning.pytorch.strategies import DDPStrategy

        return DDPStrategy(find_unused_parameters=True)
    return name


def run_training(
    system: L.LightningModule,
    *,
    train_loader: DataLoader,
    valid_loader: DataLoader,
    out: Path,
    run_info: dict,
    export: Export,
    monitor: str,
    mode: str,
    max_steps: int,
    steps_per_update: int = 1,
    val_items: int,
    checkpoint_minutes: float,
    options: RunOptions = RunOptions(),
) -> Path:
    """Fit ``system`` (resuming from ``out/checkpoints/last.ckpt``), then export ``out/final`` and draw the curves.

    ``max_steps`` counts training steps; a GAN step is ``steps_per_update`` (2) optimiser steps to Lightning.
    ``run_info`` (command, data, configs) is written to ``out/run.json``; its ``command``, ``data`` and
    ``train_data`` travel with the exported weights.
    """
    out.mkdir(parents=True, exist_ok=True)
    earlier = json.loads((out / "run.json").read_text()) if (out / "run.json").is_file() else {}
    earlier_hours = earlier.get("wall_hours_total", earlier.get("wall_hours_last_session", 0.0))
    write_json_atomic(out / "run.json", run_info)
    metadata = {key: run_info[key] for key in ("command", "data", "train_data") if key in run_info}
    set_aside_previous_metrics(out / "logs")
    trainer = L.Trainer(
        accelerator=options.accelerator,
        devices=options.devices,
        strategy=_strategy(options.strategy),
        num_nodes=options.num_nodes,
        precision=options.precision,
        accumulate_grad_batches=options.accumulate,
        max_steps=max_steps * steps_per_update,
        logger=CSVLogger(out, name="logs", version=""),
        callbacks=[
            *([SessionTimeLimit(options.max_minutes)] if options.max_minutes else []),
            PeriodicCheckpoint(out / "checkpoints", minutes=checkpoint_minutes),
            WallClock(),
            ExportBest(out, metadata, export=export, monitor=monitor, mode=mode, steps_per_update=steps_per_update),
        ],
        enable_checkpointing=False,
        enable_progress_bar=options.progress,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        log_every_n_steps=10,
        limit_val_batches=val_items,
        use_distributed_sampler=False,  # see _RankSlice; validation runs whole on every process
    )
    last = out / "checkpoints" / "last.ckpt"
    started = time.time()
    trainer.fit(system, _rank_sliced(train_loader), valid_loader, ckpt_path=str(last) if last.is_file() else None)
    wall_hours = (time.time() - started) / 3600
    if not trainer.is_global_zero:  # the other processes of a distributed run leave the writing to the first
        return out
    export(system, out / "final", {**metadata, "step": system.global_step // steps_per_update})
    if logs := metric_logs(out / "logs"):
        plot_training_curves(logs, out / "curves.png")
    write_json_atomic(
        out / "run.json",
        {**run_info, "wall_hours_last_session": wall_hours, "wall_hours_total": earlier_hours + wall_hours},
    )
    return out
