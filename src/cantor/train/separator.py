"""Training a separator with Lightning: the system (losses, GAN step), data, checkpoints, export.

The GAN step is written out in order: the discriminator on detached estimates first, then the separator with its
named loss terms. Without a discriminator only the second half runs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import lightning as L
import torch
from torch.utils.data import DataLoader, Subset

from cantor.data.dataset import MultitrackDataset
from cantor.errors import CantorError
from cantor.metrics.sdr import si_sdr_improvement, si_sdr_tracks
from cantor.models.presets import SeparatorTrainConfig
from cantor.models.registry import resolve_model
from cantor.models.separator import SEPARATOR_KIND, SeparatorConfig, TCNVAESeparator
from cantor.models.vocoder import VOCODER_KIND, VocoderConfig, build_vocoder
from cantor.models.weights import load_base_weights, load_weights
from cantor.nn.discriminator import SpectrogramDiscriminator
from cantor.train import losses
from cantor.train.runner import RunOptions, describe_run, model_exporter, run_training, warmup_cosine


class SeparatorSystem(L.LightningModule):
    """A :class:`TCNVAESeparator` (plus an optional discriminator) and how it learns."""

    def __init__(self, model: dict, train: dict) -> None:
        super().__init__()
        self.save_hyperparameters()  # plain dicts only: the checkpoint holds no pickled classes
        self.model_config = SeparatorConfig.from_dict(model)
        self.train_config = SeparatorTrainConfig(**{**train, "gain_db": tuple(train["gain_db"])})
        losses.check_loss_names(self.train_config.losses, losses.SEPARATOR_TERMS)
        adversarial = {"adversarial", "feature_matching"} & {k for k, v in self.train_config.losses.items() if v}
        if adversarial and not self.train_config.discriminator:
            raise ValueError(f"loss terms {sorted(adversarial)} need discriminator=True")
        self.model = TCNVAESeparator(self.model_config)
        if self.train_config.init:
            load_base_weights(self.model, self.train_config.init, kind=SEPARATOR_KIND, config=self.model_config)
        self.discriminator = (
            SpectrogramDiscriminator(
                sources=len(self.model_config.sources),
                channels=self.model_config.channels,
                width=self.train_config.discriminator_width,
            )
            if self.train_config.discriminator
            else None
        )
        self.automatic_optimization = False
        self._val_scores: list[torch.Tensor] = []
        self._val_improvements: list[torch.Tensor] = []

    # --- optimisation ---------------------------------------------------------------------------------------

    def configure_optimizers(self):
        config = self.train_config
        optimiser = torch.optim.AdamW(self.model.parameters(), lr=config.learning_rate)

        scheduler = warmup_cosine(optimiser, config)
        if self.discriminator is None:
            return [optimiser], [scheduler]
        disc_optimiser = torch.optim.Adam(
            self.discriminator.parameters(), lr=config.discriminator_learning_rate, betas=(0.5, 0.9)
        )
        return [optimiser, disc_optimiser], [scheduler]

    def _log_magnitude(self, spec: torch.Tensor) -> torch.Tensor:
        return torch.log1p(losses.magnitude(spec))

    def training_step(self, batch, batch_index):
        mixture, targets = batch  # (B, C, T), (B, S, C, T)
        config = self.train_config
        optimisers = self.optimizers()
        optimiser = optimisers[0] if isinstance(optimisers, list) else optimisers
        step = self.global_step if self.discriminator is None else self.global_step // 2
        output = self.model(mixture)
        target_spec = self.model.stft(targets)
        weights = config.losses
        adversarial_on = self.discriminator is not None and step >= config.adversarial_start_step

        # 1. discriminator on detached estimates
        if adversarial_on:
            disc_optimiser = optimisers[1]
            real_logits, _ = self.discriminator(self._log_magnitude(target_spec))
            fake_logits, _ = self.discriminator(self._log_magnitude(output.spec.detach()))
            disc_loss = losses.least_squares_discriminator(real_logits, fake_logits)
            disc_optimiser.zero_grad()
            self.manual_backward(disc_loss)
            disc_optimiser.step()
            self.log("train/discriminator", disc_loss, prog_bar=False)
        elif self.discriminator is not None:
            # No gradients, so nothing changes; but Lightning counts optimiser steps, and this keeps its count at two
            # per step during the warm-up, as max_steps and the step of the adversarial start assume.
            optimisers[1].step()

        # 2. the separator, term by term
        terms: dict[str, torch.Tensor] = {}
        if weights.get("spectral_l1"):
            terms["spectral_l1"] = losses.spectral_l1(output.spec, target_spec)
        if weights.get("waveform_l1"):
            terms["waveform_l1"] = losses.waveform_l1(output.sources, targets)
        if weights.get("kl") and self.model_config.bottleneck.kind == "vae":
            terms["kl"] = self.model.bottleneck.kl(output.latent, free_bits=config.free_bits)
        if adversarial_on:
            fake_logits, fake_features = self.discriminator(self._log_magnitude(output.spec))
            if weights.get("adversarial"):
                terms["adversarial"] = losses.least_squares_generator(fake_logits)
            if weights.get("feature_matching"):
                _, real_features = self.discriminator(self._log_magnitude(target_spec))
                terms["feature_matching"] = losses.feature_matching(real_features, fake_features)
        kl_ramp = min(1.0, step / max(1, config.kl_warmup_steps))
        total = sum(weights[name] * (kl_ramp if name == "kl" else 1.0) * value for name, value in terms.items())
        optimiser.zero_grad()
        self.manual_backward(total)
        self.clip_gradients(optimiser, gradient_clip_val=config.grad_clip, gradient_clip_algorithm="norm")
        optimiser.step()
        self.lr_schedulers().step()
        self.log("train/loss", total, prog_bar=True)
        for name, value in terms.items():
            self.log(f"train/{name}", value, prog_bar=name in ("spectral_l1", "kl"))
        self.log("train/lr", optimiser.param_groups[0]["lr"])
        return total

    def on_train_epoch_start(self) -> None:
        dataset = self.trainer.train_dataloader.dataset
        if isinstance(dataset, MultitrackDataset):
            dataset.set_epoch(self.current_epoch)

    # --- validation ---------------------------------------------------------------------------------------

    def validation_step(self, batch, batch_index):
        mixture, targets = batch
        estimates = self.model(mixture).sources
        self._val_scores.append(si_sdr_tracks(estimates, targets).cpu())
        self._val_improvements.append(si_sdr_improvement(estimates, targets, mixture).cpu())

    def on_validation_epoch_end(self) -> None:
        if not self._val_scores:
            return
        scores = torch.cat(self._val_scores)  # (items, S)
        improvements = torch.cat(self._val_improvements)
        for index, name in enumerate(self.model_config.sources):
            self.log(f"valid/si_sdr_{name}", scores[:, index].median())
            self.log(f"valid/si_sdri_{name}", improvements[:, index].median())
        self.log("valid/si_sdri", improvements.median(dim=0).values.mean(), prog_bar=True)
        self._val_scores.clear()
        self._val_improvements.clear()


def separator_dataloaders(
    data: Path | Sequence[Path], model_config: SeparatorConfig, train_config: SeparatorTrainConfig
) -> tuple[DataLoader, DataLoader]:
    samples = train_config.val_every_steps * train_config.batch_size
    train_set = MultitrackDataset(
        data,
        split="train",
        sources=model_config.sources,
        segment_seconds=train_config.segment_seconds,
        sample_rate=model_config.sample_rate,
        remix=train_config.remix,
        gain_db=train_config.gain_db,
        eq_db=train_config.eq_db,
        samples_per_epoch=samples,
        seed=train_config.seed,
        channels=model_config.channels,
    )
    valid_set = MultitrackDataset(
        data,
        split="valid",
        sources=model_config.sources,
        segment_seconds=train_config.val_segment_seconds,
        sample_rate=model_config.sample_rate,
        channels=model_config.channels,
    )
    stride = max(1, len(valid_set) // train_config.val_items)
    valid_subset = Subset(valid_set, list(range(0, len(valid_set), stride))[: train_config.val_items])
    workers = train_config.num_workers
    train_loader = DataLoader(
        train_set, batch_size=train_config.batch_size, shuffle=False, num_workers=workers, drop_last=True
    )
    valid_loader = DataLoader(valid_subset, batch_size=1, num_workers=0)
    return train_loader, valid_loader


def initialise_reconstruction_from_vocoder(model: TCNVAESeparator, vocoder: str | Path) -> None:
    """Load a trained GAN vocoder (shipped name or folder) into a ``reconstruction="vocoder"`` separator, strictly:
    the two configs must describe the same network."""
    if model.config.reconstruction != "vocoder":
        raise CantorError("only a separator with reconstruction='vocoder' can start from a vocoder")
    folder = resolve_model(vocoder, kind=VOCODER_KIND)
    trained, payload = load_weights(
        folder, kind=VOCODER_KIND, build=lambda c: build_vocoder(VocoderConfig.from_dict(c))
    )
    config = VocoderConfig.from_dict(payload["config"])
    if config.family != "gan" or config.gan != model.config.vocoder:
        raise CantorError(f"{folder}: its vocoder is not the one this separator's config describes")
    model.vocoder.load_state_dict(trained.state_dict(), strict=True)


def train_separator(
    *,
    data: Path | Sequence[Path],
    out: Path,
    model_config: SeparatorConfig,
    train_config: SeparatorTrainConfig,
    init_vocoder: str | Path | None = None,
    options: RunOptions = RunOptions(),
) -> Path:
    """Train (or resume from ``out/checkpoints/last.ckpt``) and export ``out/best`` and ``out/final``."""
    train_loader, valid_loader = separator_dataloaders(data, model_config, train_config)
    run_info = describe_run(options, data, model_config, train_config, train_loader.dataset.describe())
    L.seed_everything(train_config.seed, workers=True, verbose=False)
    system = SeparatorSystem(model_config.to_dict(), dataclasses.asdict(train_config))
    if init_vocoder is not None:  # on a resume the checkpoint's weights replace these
        initialise_reconstruction_from_vocoder(system.model, init_vocoder)
        run_info["init_vocoder"] = str(init_vocoder)
    return run_training(
        system,
        train_loader=train_loader,
        valid_loader=valid_loader,
        out=out,
        run_info=run_info,
        export=model_exporter(SEPARATOR_KIND),
        monitor="valid/si_sdri",
        mode="max",
        max_steps=train_config.max_steps,
        steps_per_update=2 if train_config.discriminator else 1,  # Lightning counts every optimiser step
        val_items=train_config.val_items,
        checkpoint_minutes=train_config.checkpoint_minutes,
        options=options,
    )
