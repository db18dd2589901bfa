"""Training the stem TCN-VAE on every stem and mixture of the data: log-mel L1 plus an annealed, free-bits KL.

The clips are the vocoder's (:class:`~cantor.data.clips.AudioClipDataset`: mono crops at a random gain, silence
redrawn), turned into the vocoder's log-mel on the fly. The best checkpoint has the lowest validation L1 of the
reconstruction from the posterior mean; the KL is reported beside it (β keeps it in check during training).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import lightning as L
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from cantor.data.mel_pack import MelPackDataset
from cantor.features.mel import LogMel
from cantor.models.presets import StemVAETrainConfig
from cantor.models.stem_vae import STEM_VAE_KIND, StemVAE, StemVAEConfig
from cantor.train.runner import RunOptions, describe_run, model_exporter, run_training, warmup_cosine


class StemVAESystem(L.LightningModule):
    """The stem VAE and how it learns. Batches are mono clips ``[batch, T]``."""

    def __init__(self, model: dict, train: dict) -> None:
        super().__init__()
        self.save_hyperparameters()  # plain dicts only: the checkpoint holds no pickled classes
        self.model_config = StemVAEConfig.from_dict(model)
        self.train_config = StemVAETrainConfig(**train)
        self.model = StemVAE(self.model_config)
        self.mel = LogMel(self.model_config.mel)
        self._valid: dict[str, list[torch.Tensor]] = {}

    def configure_optimizers(self):
        optimiser = torch.optim.AdamW(self.model.parameters(), lr=self.train_config.learning_rate)
        scheduler = warmup_cosine(optimiser, self.train_config)
        return [optimiser], [{"scheduler": scheduler, "interval": "step"}]

    def configure_gradient_clipping(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None) -> None:
        self.clip_gradients(optimizer, gradient_clip_val=self.train_config.grad_clip, gradient_clip_algorithm="norm")

    def on_train_epoch_start(self) -> None:
        self.trainer.train_dataloader.dataset.set_epoch(self.current_epoch)

    def kl_weight(self) -> float:
        """β now: a linear ramp from 0 over the first ``kl_warmup_fraction`` of the steps."""
        recipe = self.train_config
        return recipe.kl_weight * min(1.0, self.global_step / max(1.0, recipe.kl_warmup_fraction * recipe.max_steps))

    def _log_mel(self, batch: torch.Tensor) -> torch.Tensor:
        """Audio clips ``[B, T]`` → their log-mel; crops from a mel pack ``[B, M, N]`` are log-mels already."""
        if batch.ndim == 3:
            return batch
        with torch.no_grad():
            return self.mel(batch)

    def training_step(self, batch: torch.Tensor, batch_index: int):
        mel = self._log_mel(batch)
        reconstruction, latent = self.model(mel)
        l1 = F.l1_loss(reconstruction, mel)
        kl = self.model.bottleneck.kl(latent, free_bits=self.train_config.free_bits)
        loss = l1 + self.kl_weight() * kl
        self.log("train/loss", loss, prog_bar=True)
        self.log("train/mel_l1", l1, prog_bar=True)
        self.log("train/kl", kl)
        self.log("train/beta", self.kl_weight())
        return loss

    def validation_step(self, batch: torch.Tensor, batch_index: int):
        mel = self._log_mel(batch)
        latent = self.model.encode(mel)
        scores = {
            "mel_l1": F.l1_loss(self.model.decode(latent.mean, mel.shape[-1]), mel),
            "kl": self.model.bottleneck.kl(latent),
        }
        for name, value in scores.items():
            self._valid.setdefault(name, []).append(value.detach().cpu())

    def on_validation_epoch_end(self) -> None:
        for name, values in self._valid.items():
            self.log(f"valid/{name}", torch.stack(values).mean(), prog_bar=name == "mel_l1")
        self._valid = {}


def _datasets(data: list[Path], model_config: StemVAEConfig, train_config: StemVAETrainConfig):
    """(train, valid) clips: audio of the data folders, or crops of one mel pack (a ``.npz`` file)."""
    items = train_config.val_every_steps * train_config.batch_size
    if len(data) == 1 and Path(data[0]).suffix == ".npz":
        frames = train_config.segment_frames
        train_set = MelPackDataset(data[0], split="train", frames=frames, items=items, seed=train_config.seed)
        valid_set = MelPackDataset(
            data[0], split="valid", frames=frames, items=train_config.val_items, random=False, gain_db=(0.0, 0.0)
        )
        return train_set, valid_set
    from cantor.data.clips import clip_splits  # audio libraries only where audio is read

    segment = train_config.segment_frames * model_config.mel.stft.hop_length
    train_set, valid_set = clip_splits(
        data,
        segment=segment,
        valid_segment=segment,
        sample_rate=model_config.mel.sample_rate,
        items=items,
        valid_items=train_config.val_items,
        seed=train_config.seed,
    )
    return train_set, valid_set


def train_stem_vae(
    *,
    data: list[Path],
    out: Path,
    model_config: StemVAEConfig,
    train_config: StemVAETrainConfig,
    options: RunOptions = RunOptions(),
) -> Path:
    """Train (or resume) the stem VAE; export ``out/best`` (lowest validation mel L1) and ``out/final``."""
    train_set, valid_set = _datasets(data, model_config, train_config)
    train_loader = DataLoader(
        train_set, batch_size=train_config.batch_size, num_workers=train_config.num_workers, drop_last=True
    )
    valid_loader = DataLoader(valid_set, batch_size=8, num_workers=0)
    run_info = describe_run(options, data, model_config, train_config, train_set.describe())
    L.seed_everything(train_config.seed, workers=True, verbose=False)
    system = StemVAESystem(model_config.to_dict(), dataclasses.asdict(train_config))
    return run_training(
        system,
        train_loader=train_loader,
        valid_loader=valid_loader,
        out=out,
        run_info=run_info,
        export=model_exporter(STEM_VAE_KIND),
        monitor="valid/mel_l1",
        mode="min",
        max_steps=train_config.max_steps,
        val_items=len(valid_loader),
        checkpoint_minutes=train_config.checkpoint_minutes,
        options=options,
    )
