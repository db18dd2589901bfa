"""Training a vocoder with Lightning: the GAN steps written out in order, or WaveFlow's maximum likelihood.

GAN: for ``adversarial_start_step`` steps the generator learns from reconstruction terms alone (mel L1 and
multi-resolution STFT), which is cheap and gets most of the way; then each step first updates the discriminators
on detached fakes, then the generator with every named term. WaveFlow: one term, the negative log-likelihood.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import lightning as L
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from cantor.data.clips import clip_splits
from cantor.features.mel import LogMel
from cantor.features.stft import STFT
from cantor.models.presets import VocoderTrainConfig
from cantor.models.vocoder import VOCODER_KIND, VocoderConfig, build_vocoder
from cantor.models.weights import load_base_weights
from cantor.nn.vocoder_discriminators import VocoderDiscriminator
from cantor.train import losses
from cantor.train.runner import RunOptions, describe_run, model_exporter, run_training, warmup_cosine


class VocoderSystem(L.LightningModule):
    """A vocoder (and, for the GAN, its discriminators) and how it learns. Batches are mono clips ``[batch, T]``."""

    def __init__(self, model: dict, train: dict) -> None:
        super().__init__()
        self.save_hyperparameters()  # plain dicts only: the checkpoint holds no pickled classes
        self.model_config = VocoderConfig.from_dict(model)
        self.train_config = VocoderTrainConfig(**train)
        gan = self.model_config.family == "gan"
        losses.check_loss_names(self.train_config.losses, losses.GAN_VOCODER_TERMS if gan else losses.WAVEFLOW_TERMS)
        self.model = build_vocoder(self.model_config)
        if self.train_config.init:
            load_base_weights(self.model, self.train_config.init, kind=VOCODER_KIND, config=self.model_config)
        self.mel = LogMel(self.model_config.mel)
        self.stft = STFT(self.model_config.mel.stft)
        self.discriminator = (
            VocoderDiscriminator(
                width=self.train_config.discriminator_width,
                highpass=self.train_config.discriminator_highpass_hz / self.model_config.mel.sample_rate,
            )
            if gan and self.train_config.adversarial
            else None
        )
        self.automatic_optimization = False
        self._val_mel: list[torch.Tensor] = []
        self._val_mrstft: list[torch.Tensor] = []
        self._val_nll: list[torch.Tensor] = []

    @property
    def steps_per_update(self) -> int:
        return 2 if self.discriminator is not None else 1

    def configure_optimizers(self):
        config = self.train_config
        optimiser = torch.optim.AdamW(self.model.parameters(), lr=config.learning_rate, betas=(0.8, 0.99))

        scheduler = warmup_cosine(optimiser, config)
        if self.discriminator is None:
            return [optimiser], [scheduler]
        disc_optimiser = torch.optim.AdamW(
            self.discriminator.parameters(), lr=config.discriminator_learning_rate, betas=(0.8, 0.99)
        )
        return [optimiser, disc_optimiser], [scheduler]

    def training_step(self, batch: torch.Tensor, batch_index: int):
        audio = batch  # (B, T), T a multiple of hop_length
        config = self.train_config
        optimisers = self.optimizers()
        optimiser = optimisers[0] if isinstance(optimisers, list) else optimisers
        step = self.global_step // self.steps_per_update
        weights = config.losses
        mel = self.mel(audio)  # (B, n_mels, T / hop + 1)
        terms: dict[str, torch.Tensor] = {}
        if self.model_config.family == "waveflow":
            terms["nll"] = self.model.negative_log_likelihood(audio, mel)
        else:
            fake, _, log_magnitude = self.model.synthesize(mel)  # (B, T), (B, F, bins)
            adversarial_on = self.discriminator is not None and step >= config.adversarial_start_step
            # 1. discriminators on detached fakes
            if adversarial_on:
                disc_optimiser = optimisers[1]
                real_logits, _ = self.discriminator(audio)
                fake_logits, _ = self.discriminator(fake.detach())
                disc_loss = losses.least_squares_discriminator_multi(real_logits, fake_logits)
                disc_optimiser.zero_grad()
                self.manual_backward(disc_loss)
                self.clip_gradients(disc_optimiser, gradient_clip_val=config.grad_clip, gradient_clip_algorithm="norm")
                disc_optimiser.step()
                self.log("train/discriminator", disc_loss)
            elif self.discriminator is not None:
                # No gradients, so nothing changes; but Lightning counts optimiser steps, and this keeps its count
                # at two per step during the warm-up, as max_steps and the step of the adversarial start assume.
                optimisers[1].step()
            # 2. the generator, term by term
            if weights.get("mel_l1"):
                terms["mel_l1"] = F.l1_loss(self.mel(fake), mel)
            if weights.get("stft_magnitude"):
                # the head's magnitudes against the clip's own STFT: what a held partial's frequency is read from
                floor = math.log(1e-5)
                target = torch.log(self.stft(audio).abs().clamp_min(1e-5)).transpose(1, 2)
                terms["stft_magnitude"] = F.l1_loss(log_magnitude.clamp_min(floor), target)
            if weights.get("mrstft"):
                terms["mrstft"] = losses.multi_resolution_stft(fake, audio, resolutions=config.stft_resolutions)
            if adversarial_on:
                fake_logits, fake_features = self.discriminator(fake)
                if weights.get("adversarial"):
                    terms["adversarial"] = losses.least_squares_generator_multi(fake_logits)
                if weights.get("feature_matching"):
                    with torch.no_grad():
                        _, real_features = self.discriminator(audio)
                    terms["feature_matching"] = losses.feature_matching_multi(real_features, fake_features)
        total = sum(weights[name] * value for name, value in terms.items())
        optimiser.zero_grad()
        self.manual_backward(total)
        self.clip_gradients(optimiser, gradient_clip_val=config.grad_clip, gradient_clip_algorithm="norm")
        optimiser.step()
        self.lr_schedulers().step()
        self.log("train/loss", total, prog_bar=True)
        for name, value in terms.items():
            self.log(f"train/{name}", value, prog_bar=name in ("mel_l1", "nll"))
        self.log("train/lr", optimiser.param_groups[0]["lr"])
        return total

    def on_train_epoch_start(self) -> None:
        self.trainer.train_dataloader.dataset.set_epoch(self.current_epoch)

    # --- validation: the mel distance of the resynthesis (and WaveFlow's likelihood) -----------------------------

    def validation_step(self, batch: torch.Tensor, batch_index: int):
        audio = batch
        mel = self.mel(audio)
        if self.model_config.family == "waveflow":
            self._val_nll.append(self.model.negative_log_likelihood(audio, mel).detach().cpu())
            generator = torch.Generator(device=audio.device).manual_seed(batch_index)
            noise = torch.randn(audio.shape, generator=generator, device=audio.device)
            fake = self.model.infer(mel, noise=noise, temperature=self.train_config.temperature)
        else:
            fake = self.model(mel)
        self._val_mel.append(F.l1_loss(self.mel(fake), mel).cpu())
        self._val_mrstft.append(losses.multi_resolution_stft(fake, audio).cpu())

    def on_validation_epoch_end(self) -> None:
        if not self._val_mel:
            return
        self.log("valid/mel_l1", torch.stack(self._val_mel).mean(), prog_bar=True)
        self.log("valid/mrstft", torch.stack(self._val_mrstft).mean())
        if self._val_nll:
            self.log("valid/nll", torch.stack(self._val_nll).mean())
        for values in (self._val_mel, self._val_mrstft, self._val_nll):
            values.clear()


def vocoder_dataloaders(
    data: list[Path], model_config: VocoderConfig, train_config: VocoderTrainConfig
) -> tuple[DataLoader, DataLoader]:
    hop = model_config.mel.stft.hop_length
    for name in ("segment_samples", "val_segment_samples"):
        if getattr(train_config, name) % hop:
            raise ValueError(f"{name} ({getattr(train_config, name)}) must be a multiple of hop_length {hop}")
    rate = model_config.mel.sample_rate
    train_set, valid_set = clip_splits(
        data,
        segment=train_config.segment_samples,
        valid_segment=train_config.val_segment_samples,
        sample_rate=rate,
        items=train_config.val_every_steps * train_config.batch_size,
        valid_items=train_config.val_items,
        seed=train_config.seed,
    )
    workers = train_config.num_workers
    train_loader = DataLoader(train_set, batch_size=train_config.batch_size, num_workers=workers, drop_last=True)
    valid_loader = DataLoader(valid_set, batch_size=1, num_workers=0)
    return train_loader, valid_loader


def train_vocoder(
    *,
    data: list[Path],
    out: Path,
    model_config: VocoderConfig,
    train_config: VocoderTrainConfig,
    options: RunOptions = RunOptions(),
) -> Path:
    """Train (or resume from ``out/checkpoints/last.ckpt``) and export ``out/best`` (lowest validation mel L1)."""
    train_loader, valid_loader = vocoder_dataloaders(data, model_config, train_config)
    run_info = describe_run(options, data, model_config, train_config, train_loader.dataset.describe())
    L.seed_everything(train_config.seed, workers=True, verbose=False)
    system = VocoderSystem(model_config.to_dict(), dataclasses.asdict(train_config))
    return run_training(
        system,
        train_loader=train_loader,
        valid_loader=valid_loader,
        out=out,
        run_info=run_info,
        export=model_exporter(VOCODER_KIND),
        monitor="valid/mel_l1",
        mode="min",
        max_steps=train_config.max_steps,
        steps_per_update=system.steps_per_update,
        val_items=train_config.val_items,
        checkpoint_minutes=train_config.checkpoint_minutes,
        options=options,
    )
