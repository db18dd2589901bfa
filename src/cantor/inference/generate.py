"""``Generator``: new music from a trained LSTM-VAE — sample, interpolate, continue — used by the CLI and the studio.

>>> from cantor import Generator
>>> generator = Generator("chorale")                          # doctest: +SKIP
>>> pieces = generator.sample(4, bars=16, temperature=0.9, seed=1)  # doctest: +SKIP

The model writes windows of a few bars (4 for the shipped ones). Longer music is written window by window, each new
window overlapping the last ``bars // 2`` bars already written: candidate latent codes are drawn from the encoder's
posterior of those known bars, one is chosen by how likely it makes them (importance resampling, i.e. a draw from
p(z | known bars)), and only its remaining bars are decoded. Continuing a user's primer is the same step.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from cantor.data.corpus import Piece
from cantor.data.symbolic import NotRepresentable, restate_held_notes, voices_sounding
from cantor.data.theory import tonic_of
from cantor.errors import UsageError
from cantor.models.generator import GENERATOR_KIND, LSTMVAE, GeneratorConfig
from cantor.models.registry import available_models, model_name, resolve_model
from cantor.models.weights import load_weights

SHIPPED_SUFFIX = "-generator"  # shipped generators are named <style>-generator
CANDIDATES = 8  # latent codes weighed per continuation window (each costs a decode of the known bars)
STYLE_KEYS, WRITTEN_KEYS = "style", "written"  # the two keys of ``Generator.sample`` that are not a tonic


def resolve_generator(model: str | Path) -> Path:
    """A style ("chorale"), a shipped generator's name or a model folder → the weights folder."""
    if isinstance(model, str) and f"{model}{SHIPPED_SUFFIX}" in available_models(GENERATOR_KIND):
        model = f"{model}{SHIPPED_SUFFIX}"
    return resolve_model(model, kind=GENERATOR_KIND)


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation between latent codes ``[..., latent]``: intermediate codes keep the norm that codes
    of the prior have (a straight line between two such codes passes through improbably short ones)."""
    cosine = F.cosine_similarity(a, b, dim=-1).clamp(-1 + 1e-7, 1 - 1e-7)[..., None]
    angle = torch.acos(cosine)
    if float(angle.abs().max()) < 1e-4:
        return (1 - t) * a + t * b
    return (torch.sin((1 - t) * angle) * a + torch.sin(t * angle) * b) / torch.sin(angle)


class Generator:
    """Writes pieces with a trained LSTM-VAE.

    Args:
        model: a style ("chorale", "folk"), a shipped generator's name or a folder with ``config.json`` +
            ``model.safetensors``.
    """

    def __init__(self, model: str | Path = "chorale") -> None:
        self.folder = resolve_generator(model)
        self.name = model_name(model, self.folder)
        network, payload = load_weights(
            self.folder, kind=GENERATOR_KIND, build=lambda c: LSTMVAE(GeneratorConfig.from_dict(c))
        )
        self.model: LSTMVAE = network
        self.config = GeneratorConfig.from_dict(payload["config"])
        self.metadata: dict = payload.get("metadata", {})

    @property
    def converter(self):
        return self.config.converter

    @property
    def voices(self) -> tuple[str, ...]:
        return self.converter.voices

    @property
    def window_bars(self) -> int:
        return self.converter.bars

    # --- the three ways to make music ------------------------------------------------------------------------

    def sample(
        self,
        n: int = 1,
        *,
        bars: int = 16,
        temperature: float | None = None,
        seed: int | None = None,
        key: str = STYLE_KEYS,
    ) -> list[Piece]:
        """``n`` new pieces of ``bars`` bars, each from its own latent code drawn from the prior, sampled at
        ``temperature`` (default: the model's own, ``config.temperature``).

        ``key``: ``"style"`` moves each piece into a key drawn from the style's own (the keys of its training pieces,
        ``config.key_prior``; the model itself learnt from every transposition), ``"written"`` leaves it where the
        model wrote it, a tonic ("D", "Bb") moves it there (its mode stays as written). A piece whose notes would
        leave the model's range stays put."""
        temperature = self.temperature(temperature)
        self._check(n=n, bars=bars, temperature=temperature)
        target_tonic = self._target_tonic(key)
        generator = seeded_generator(seed)
        z = torch.randn(n, self.config.latent, generator=generator)
        tokens = self.model.sample(z, temperature=temperature, generator=generator)
        tokens = self._extend(tokens, bars * self.converter.steps_per_bar, temperature, generator).numpy()
        if key != WRITTEN_KEYS:
            tokens = [
                move_to_key(item, self.converter, self.config.key_prior, generator, tonic=target_tonic)
                for item in tokens
            ]
        return [self._piece(item, f"{self.name}-sample-{index + 1}") for index, item in enumerate(tokens)]

    @torch.no_grad()
    def interpolate(self, first: Piece | str | Path, last: Piece | str | Path, *, steps: int = 5) -> list[Piece]:
        """``steps`` pieces morphing from ``first`` to ``last`` (both included, as the model reconstructs them).

        Window ``i`` of every piece decodes a point on the arc between the codes of window ``i`` of the two inputs;
        the inputs are cut to the whole windows they share."""
        if steps < 2:
            raise UsageError(f"steps must be at least 2 (the two ends), got {steps}")
        pieces = [self._as_piece(item) for item in (first, last)]
        tokens = [self._encode(piece) for piece in pieces]
        window = self.converter.window_steps
        windows = min(len(t) for t in tokens) // window
        if windows == 0:
            raise UsageError(f"interpolation needs inputs of at least {self.window_bars} bars")
        means = []
        for item in tokens:
            cut = np.stack(
                [restate_held_notes(item[i * window : (i + 1) * window], item[: i * window]) for i in range(windows)]
            )
            mean, _ = self.model.encode(torch.from_numpy(cut))
            means.append(mean)
        results = []
        for index, t in enumerate(np.linspace(0.0, 1.0, steps)):
            z = slerp(means[0], means[1], float(t))
            decoded = self.model.sample(z, temperature=0).reshape(-1, len(self.voices))
            results.append(self._piece(decoded, f"{self.name}-interpolation-{index + 1}"))
        return results

    def continue_(
        self, primer: Piece | str | Path, *, bars: int = 8, temperature: float | None = None, seed: int | None = None
    ) -> Piece:
        """The primer followed by ``bars`` new bars that grow out of its last ``window_bars // 2`` bars (sampled at
        ``temperature``, by default the model's own)."""
        temperature = self.temperature(temperature)
        self._check(n=1, bars=bars, temperature=temperature)
        known = torch.from_numpy(self._encode(self._as_piece(primer)))
        overlap = self.window_bars // 2 * self.converter.steps_per_bar
        if len(known) < overlap:
            raise UsageError(f"the primer must hold at least {self.window_bars // 2} bars, got {len(known)} steps")
        target = len(known) + bars * self.converter.steps_per_bar
        tokens = self._extend(known[None], target, temperature, seeded_generator(seed))
        return self._piece(tokens[0], f"{self.name}-continuation")

    # --- helpers ---------------------------------------------------------------------------------------------

    @torch.no_grad()
    def _extend(
        self, tokens: torch.Tensor, target_steps: int, temperature: float, generator: torch.Generator
    ) -> torch.Tensor:
        """Grow ``tokens [B, T, V]`` window by window until ``target_steps`` steps, then cut to that length.

        Candidates for each new window's code come from the encoder's posterior for the known bars repeated to a
        window's length (a proposal that already carries their key and texture); each is weighted by
        p(known bars | z) p(z) / q(z) and one is drawn by those weights (importance resampling)."""
        steps_per_bar, bars = self.converter.steps_per_bar, self.window_bars
        known_bars = bars // 2
        overlap = known_bars * steps_per_bar
        while tokens.shape[1] < target_steps:
            context = torch.from_numpy(
                np.stack([restate_held_notes(item[-overlap:], item[:-overlap]) for item in tokens.numpy()])
            )  # [B, overlap, V]: each voice starts on an onset or a rest, as the model's windows do
            batch = context.shape[0]
            repeated = context.repeat(1, -(-bars // known_bars), 1)[:, : bars * steps_per_bar]
            mean, log_variance = self.model.encode(repeated)
            log_std = (0.5 * log_variance).repeat_interleave(CANDIDATES, dim=0)
            std = log_std.exp()
            mean = mean.repeat_interleave(CANDIDATES, dim=0)
            noise = torch.randn(mean.shape, generator=generator)
            z = mean + std * noise
            targets = context.repeat_interleave(CANDIDATES, dim=0)
            logits = self.model.decode_logits(z, targets)
            log_likelihood = -F.cross_entropy(logits.flatten(0, 2), targets.flatten(), reduction="none")
            log_prior = -0.5 * z.pow(2).sum(-1)
            log_proposal = -0.5 * noise.pow(2).sum(-1) - log_std.sum(-1)
            log_weight = log_likelihood.view(len(z), -1).sum(-1) + log_prior - log_proposal
            chosen = torch.multinomial(F.softmax(log_weight.view(batch, CANDIDATES), dim=-1), 1, generator=generator)
            z = z.view(batch, CANDIDATES, -1)[torch.arange(batch), chosen[:, 0]]
            sounding = torch.from_numpy(voices_sounding(context.numpy()))
            new = self.model.sample(
                z, temperature=temperature, generator=generator, first_bar=known_bars, sounding=sounding
            )
            tokens = torch.cat([tokens, new], dim=1)
        return tokens[:, :target_steps]

    def _target_tonic(self, key: str) -> int | None:
        """The tonic pitch class that ``key`` names, or None for the style's keys or the written ones."""
        if key in (STYLE_KEYS, WRITTEN_KEYS):
            return None
        try:
            return tonic_of(key)
        except ValueError as error:
            raise UsageError(f"key: {error}, or {STYLE_KEYS!r} or {WRITTEN_KEYS!r}") from error

    def _encode(self, piece: Piece) -> np.ndarray:
        try:
            return self.converter.encode(piece)
        except NotRepresentable as error:
            raise UsageError(f"the {self.name} model cannot read this piece: {error}") from error

    def _as_piece(self, item: Piece | str | Path) -> Piece:
        if isinstance(item, Piece):
            return item
        path = Path(item)
        if not path.is_file():
            raise UsageError(f"{path}: no such file")
        return self.converter.read_midi(path)

    def _piece(self, tokens: torch.Tensor | np.ndarray, title: str) -> Piece:
        return self.converter.from_tensors(np.asarray(tokens), title=title)

    def temperature(self, asked: float | None = None) -> float:
        """The temperature a request samples at: ``asked``, or the model's own (``config.temperature``) if None."""
        return self.config.temperature if asked is None else asked

    def _check(self, *, n: int, bars: int, temperature: float) -> None:
        if n < 1:
            raise UsageError(f"n must be at least 1, got {n}")
        if bars < 1:
            raise UsageError(f"bars must be at least 1, got {bars}")
        if temperature < 0:
            raise UsageError(f"temperature must be at least 0, got {temperature}")


def move_to_key(
    tokens: np.ndarray,
    converter,
    key_prior: Sequence[tuple[str, float]],
    generator: torch.Generator,
    *,
    tonic: int | None = None,
) -> np.ndarray:
    """``tokens [steps, voices]`` transposed (by the smaller of the two ways round) so that the key they are written
    in (as ``estimate_key`` reads it) gets ``tonic``, or one drawn from ``key_prior`` among its keys of the same
    mode when ``tonic`` is None. Unchanged when the notes would leave the converter's range, or when ``key_prior``
    is empty (a model trained before priors were counted)."""
    written = converter.from_tensors(tokens)  # (decoding reads the key the tokens are written in)
    written_tonic, mode = written.tonic_pc, written.mode
    if tonic is None:
        keys = [entry for entry in key_prior if entry[0].endswith(mode)] or list(key_prior)
        if not keys:
            return tokens
        shares = torch.tensor([share for _, share in keys])
        tonic = tonic_of(keys[int(torch.multinomial(shares, 1, generator=generator))][0])
    shift = (tonic - written_tonic) % 12
    for semitones in sorted((shift, shift - 12), key=abs):
        moved = converter.transpose(tokens, semitones)
        if moved is not None:
            return moved
    return tokens


def seeded_generator(seed: int | None) -> torch.Generator:
    """A torch random generator seeded with ``seed``, or from the system's entropy when it is None."""
    generator = torch.Generator()
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(seed)
    return generator
