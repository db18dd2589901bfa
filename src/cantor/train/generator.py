"""Training the symbolic generator (the LSTM-VAE) on the corpus, with KL annealing and free bits — or fine-tuning a
trained one on a handful of the user's own pieces.

The corpus index ships with the package, so a run needs no data folder: the windows of every piece that holds the
model's voices are cut on the fly (a second), split by tune group exactly as the audio data is (a tune and its
reharmonisations never straddle train and valid). The best checkpoint is the one with the lowest ``nll_bound`` on
validation: per token, the reconstruction loss at the posterior mean plus the KL (a deterministic stand-in for the
negative ELBO, which would decode a sampled code): the model that explains unseen tunes best.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import lightning as L
import torch
from torch.utils.data import DataLoader

from cantor.data.arrange import band_scores
from cantor.data.band_grid import BandGridConverter
from cantor.data.corpus import Piece, load_corpus, split_of
from cantor.data.symbolic import ONSET, NotRepresentable, VoiceGridConverter, WindowDataset, pitched_notes
from cantor.data.theory import key_shares
from cantor.models.generator import (
    GENERATOR_KIND,
    LSTMVAE,
    GeneratorConfig,
    kl_divergence,
    reconstruction_loss,
    token_accuracy,
)
from cantor.models.presets import GeneratorTrainConfig
from cantor.train.runner import RunOptions, describe_run, model_exporter, run_training, warmup_cosine


def user_pieces(folder: Path, converter: VoiceGridConverter) -> dict[str, list[Piece]]:
    """The MIDI files of ``folder`` as pieces with the model's voices: the last (by name) held out for validation,
    which picks the checkpoint (early stopping), the others to train on. A file the grid cannot hold is named."""
    from cantor.errors import UsageError

    if not folder.is_dir():
        raise UsageError(f"--data {folder}: no such folder")
    files = sorted(path for path in folder.iterdir() if path.suffix.lower() in (".mid", ".midi"))
    if len(files) < 2:
        raise UsageError(f"{folder}: fine-tuning needs at least 2 MIDI files (one is held out), found {len(files)}")
    pieces = []
    for path in files:
        piece = converter.read_midi(path)
        try:
            tokens = converter.encode(piece)
        except NotRepresentable as error:
            raise UsageError(f"{path}: the model cannot read it: {error}") from error
        if len(tokens) < converter.window_steps:
            raise UsageError(f"{path}: shorter than the model's window of {converter.bars} bars")
        pieces.append(piece)
    return {"train": pieces[:-1], "valid": pieces[-1:]}


def kl_weight_at(step: int, recipe: GeneratorTrainConfig) -> float:
    """β at ``step``: a linear ramp from 0 to ``kl_weight`` (a decoder that learns first to use ``z`` keeps it)."""
    return recipe.kl_weight * min(1.0, step / max(1.0, recipe.kl_warmup_fraction * recipe.max_steps))


class GeneratorSystem(L.LightningModule):
    def __init__(self, model: dict, train: dict) -> None:
        super().__init__()
        self.save_hyperparameters()  # plain dicts only: the checkpoint holds no pickled classes
        self.model_config = GeneratorConfig.from_dict(model)
        self.train_config = GeneratorTrainConfig(**train)
        self.model = LSTMVAE(self.model_config)
        self._valid: dict[str, list[float]] = {}
        if self.train_config.init:
            self._start_from(self.train_config.init)

    def _start_from(self, base: str) -> None:
        """Load the base generator's weights and keep a frozen copy that the anchor term pulls towards (not saved in
        checkpoints: a resumed fine-tuning reads the base again)."""
        from cantor.inference.generate import Generator

        generator = Generator(base)

        # The key prior is counted from the data (the new pieces' here), and a base drawn without voices_in_turn can
        # be extended by it (its term starts at zero): only the rest of the network must match.
        def network(config: GeneratorConfig) -> GeneratorConfig:
            return dataclasses.replace(config, key_prior=(), voices_in_turn=False)

        extending = self.model_config.voices_in_turn and not generator.config.voices_in_turn
        if network(generator.config) != network(self.model_config) or (
            generator.config.voices_in_turn and not self.model_config.voices_in_turn
        ):
            raise ValueError(f"{generator.folder}: its config differs from the model being trained")
        missing, _ = self.model.load_state_dict(generator.model.state_dict(), strict=not extending)
        if set(missing) - {"from_earlier_voices.weight"}:
            raise ValueError(f"{generator.folder}: its weights lack {sorted(missing)}")
        for name, parameter in generator.model.named_parameters():
            self.register_buffer(_anchor_name(name), parameter.detach().clone(), persistent=False)

    def _anchor_penalty(self) -> torch.Tensor:
        """Squared distance of the weights from the base model's (fine-tuning only: the anchors exist with a base;
        a term the base lacks has none)."""
        terms = [
            (parameter - getattr(self, _anchor_name(name))).pow(2).sum()
            for name, parameter in self.model.named_parameters()
            if hasattr(self, _anchor_name(name))
        ]
        return torch.stack(terms).sum()

    def configure_optimizers(self):
        optimiser = torch.optim.Adam(self.model.parameters(), lr=self.train_config.learning_rate)
        scheduler = warmup_cosine(optimiser, self.train_config)
        return [optimiser], [{"scheduler": scheduler, "interval": "step"}]

    def configure_gradient_clipping(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None) -> None:
        self.clip_gradients(optimizer, gradient_clip_val=self.train_config.grad_clip, gradient_clip_algorithm="norm")

    def on_train_epoch_start(self) -> None:
        self.trainer.train_dataloader.dataset.set_epoch(self.current_epoch)

    def training_step(self, tokens: torch.Tensor, batch_index: int):
        recipe = self.train_config
        out = self.model(tokens, previous_dropout=recipe.previous_dropout)
        reconstruction = reconstruction_loss(out["logits"], tokens)
        kl = kl_divergence(out["mean"], out["log_variance"])
        beta = kl_weight_at(self.global_step, recipe)
        loss = (reconstruction + beta * (kl - recipe.free_nats).clamp(min=0)).mean()
        if recipe.anchor_weight:
            anchor = self._anchor_penalty()
            loss = loss + recipe.anchor_weight * anchor
            self.log("train/anchor", anchor)
        self.log("train/loss", loss, prog_bar=True)
        self.log("train/reconstruction", reconstruction.mean())
        self.log("train/kl", kl.mean())
        self.log("train/beta", beta)
        self.log("train/accuracy", token_accuracy(out["logits"].detach(), tokens))
        return loss

    def validation_step(self, tokens: torch.Tensor, batch_index: int):
        mean, log_variance = self.model.encode(tokens)
        logits = self.model.decode_logits(mean, tokens)
        tokens_per_window = tokens.shape[1] * tokens.shape[2]
        reconstruction = reconstruction_loss(logits, tokens)
        kl = kl_divergence(mean, log_variance)
        predicted = logits.argmax(-1)
        onsets = tokens >= ONSET
        scores = {
            "accuracy": (predicted == tokens).float().mean(-1).mean(-1),
            "onset_accuracy": ((predicted == tokens) & onsets).sum((1, 2)) / onsets.sum((1, 2)).clamp(min=1),
            "nll_bound": (reconstruction + kl) / tokens_per_window,
            "reconstruction": reconstruction / tokens_per_window,
            "kl": kl,
        }
        remaining = self.train_config.val_sampled_items - sum(map(len, self._valid.get("sampled_accuracy", [])))
        if remaining > 0:  # free-running decoding: each step sees the model's own last step (slow)
            sampled = self.model.sample(mean[:remaining], temperature=0)
            scores["sampled_accuracy"] = (sampled == tokens[:remaining]).float().mean((1, 2))
        for name, values in scores.items():
            self._valid.setdefault(name, []).append(values.detach().cpu())

    def on_validation_epoch_end(self) -> None:
        for name, values in self._valid.items():
            self.log(f"valid/{name}", torch.cat(values).float().mean())
        self._valid = {}


def _anchor_name(parameter: str) -> str:
    return "anchor_" + parameter.replace(".", "_")


def corpus_split(pieces: list[Piece], split: str, limit: int | None = None) -> list[Piece]:
    """The pieces of one split (by tune group, as the audio data); the first ``limit`` of them if given."""
    chosen = [piece for piece in pieces if split_of(piece.tune_group) == split]
    return chosen[:limit] if limit else chosen


def generator_datasets(
    model_config: GeneratorConfig,
    train_config: GeneratorTrainConfig,
    pieces: dict[str, list[Piece]] | None = None,
) -> tuple[WindowDataset, WindowDataset, str, tuple[tuple[str, float], ...]]:
    """(train, valid) window datasets from the corpus split by tune (or from ``pieces`` by split), a line that
    describes them, and how often each key occurs among the training pieces (the model's ``key_prior``)."""
    converter = model_config.converter
    if pieces is None:
        corpus = load_corpus()
        pieces = {split: corpus_split(corpus, split, train_config.pieces) for split in ("train", "valid")}
        if isinstance(converter, BandGridConverter):
            pieces = {split: band_scores(found, train_config.arrangements) for split, found in pieces.items()}
    sets, counts, used = {}, [], {}
    for split in ("train", "valid"):
        windows, owners = converter.corpus_windows(pieces[split], hop_bars=train_config.hop_bars)
        sets[split], used[split] = windows, set(owners)
        counts.append(f"{split} {len(used[split])} pieces / {len(windows)} windows")
    key_prior = key_shares(pitched_notes(piece) for piece in pieces["train"] if piece.piece_id in used["train"])
    train_set = WindowDataset(
        sets["train"],
        converter,
        items=train_config.val_every_steps * train_config.batch_size,
        transpose=train_config.transpose,
        seed=train_config.seed,
    )
    valid_set = WindowDataset(sets["valid"], converter, random=False)
    voices = "+".join(converter.voices)
    description = f"windows of {converter.bars} bars ({voices}), ±{train_config.transpose} st: " + "; ".join(counts)
    return train_set, valid_set, description, key_prior


def train_generator(
    *,
    out: Path,
    model_config: GeneratorConfig,
    train_config: GeneratorTrainConfig,
    options: RunOptions = RunOptions(),
    pieces: dict[str, list[Piece]] | None = None,
    data: str = "music21 corpus (packaged index)",
) -> Path:
    """Train (or resume) the LSTM-VAE on the corpus (or on ``pieces`` by split, named ``data``); export
    ``out/best`` and ``out/final``."""
    train_set, valid_set, description, key_prior = generator_datasets(model_config, train_config, pieces)
    model_config = dataclasses.replace(model_config, key_prior=key_prior)
    train_loader = DataLoader(
        train_set, batch_size=train_config.batch_size, num_workers=train_config.num_workers, drop_last=True
    )
    valid_loader = DataLoader(valid_set, batch_size=256, num_workers=0)
    run_info = describe_run(options, data, model_config, train_config, description)
    L.seed_everything(train_config.seed, workers=True, verbose=False)
    system = GeneratorSystem(model_config.to_dict(), dataclasses.asdict(train_config))
    return run_training(
        system,
        train_loader=train_loader,
        valid_loader=valid_loader,
        out=out,
        run_info=run_info,
        export=model_exporter(GENERATOR_KIND),
        monitor="valid/nll_bound",
        mode="min",
        max_steps=train_config.max_steps,
        val_items=len(valid_loader),
        checkpoint_minutes=train_config.checkpoint_minutes,
        options=options,
    )
