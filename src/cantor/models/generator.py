"""The symbolic generator: an LSTM-VAE over voice grids with a hierarchical decoder, after MusicVAE.

A bidirectional LSTM reads a window of ``bars`` bars (every voice's token at every sixteenth) and gives the mean and
log-variance of a latent code ``z``. The decoder is two-level: a *conductor* LSTM unrolls ``z`` into one embedding
per bar, and a bar decoder LSTM, restarted from each bar's embedding, writes that bar step by step (each step sees
the tokens of the step before, and the bar embedding). Restarting per bar is what keeps a long decoder from
ignoring ``z`` (posterior collapse): the bar decoder's memory cannot outlast a bar, so structure across bars must
come through the latent.

Voices are predicted jointly per step (one state, one softmax per voice), so the four chorale voices move together.
With ``voices_in_turn`` each voice's softmax also sees the tokens already chosen for the voices before it at that
step (soprano, then alto knowing the soprano, …): independent draws rest one voice alone and double notes where a
choir would not, since a step's voices are correlated beyond what one shared state can say.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from cantor.data.symbolic import HOLD, ONSET, REST, VoiceGridConverter

GENERATOR_KIND = "generator"


@dataclass(frozen=True)
class GeneratorConfig:
    converter: VoiceGridConverter = field(default_factory=VoiceGridConverter)
    embedding: int = 32  # per voice token
    encoder_hidden: int = 256  # per direction
    latent: int = 128
    conductor_hidden: int = 256
    bar_embedding: int = 128
    decoder_hidden: int = 256
    decoder_layers: int = 2
    dropout: float = 0.0  # between the decoder's LSTM layers
    # How often each key occurs among the training pieces, (("D major", 0.31), …): the model learns from pieces
    # transposed into every key, so a sampled piece is moved into a key drawn from here, the style's own keys
    # (fiddle tunes sit in D and G). Counted from the data, not learned; empty: pieces stay in the key written.
    key_prior: tuple[tuple[str, float], ...] = ()
    # The sampling temperature used when none is asked for: chosen for a trained model on its style's valid tunes
    # (benchmarks/generation.py --held-out valid), since too cold a sampler holds notes too long and too hot a one
    # leaps; 0.9 for a model nobody measured.
    temperature: float = 0.9
    # Which note starts (the pitch, chord or drum hits of an onset token) is drawn at temperature × this factor, once
    # rest / hold / onset is drawn at the temperature: the chorales' note lengths want T ≈ 1 and their intervals a
    # colder draw (benchmarks/results/generation-sampling-valid.md). 1: one temperature for every token.
    onset_temperature_factor: float = 1.0
    # Draw a step's voices one after another, each knowing the ones before it (see the module's docstring); the
    # term starts at zero, so a model trained without it can be extended (`cantor train generator --start-from`).
    voices_in_turn: bool = False

    def __post_init__(self) -> None:
        if not self.onset_temperature_factor > 0:
            raise ValueError(f"onset_temperature_factor must be above 0, got {self.onset_temperature_factor}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @staticmethod
    def from_dict(payload: dict) -> GeneratorConfig:
        payload = dict(payload)
        payload["converter"] = VoiceGridConverter.from_dict(payload["converter"])
        payload["key_prior"] = tuple((str(name), float(share)) for name, share in payload.get("key_prior", ()))
        return GeneratorConfig(**payload)


class LSTMVAE(nn.Module):
    """Tokens ``[batch, steps, voices]`` (steps = bars · steps_per_bar) ↔ latent ``[batch, latent]``."""

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        self.config = config
        grid = config.converter
        self.voices, self.vocabulary = len(grid.voices), grid.vocabulary
        self.bars, self.steps_per_bar = grid.bars, grid.steps_per_bar
        step_width = self.voices * config.embedding
        self.embed = nn.Embedding(self.vocabulary, config.embedding)
        self.encoder = nn.LSTM(step_width, config.encoder_hidden, batch_first=True, bidirectional=True)
        self.to_posterior = nn.Linear(2 * config.encoder_hidden, 2 * config.latent)
        self.conductor_start = nn.Linear(config.latent, 2 * config.conductor_hidden)
        self.conductor = nn.LSTMCell(1, config.conductor_hidden)
        self.to_bar = nn.Linear(config.conductor_hidden, config.bar_embedding)
        self.bar_start = nn.Linear(config.bar_embedding, 2 * config.decoder_layers * config.decoder_hidden)
        self.decoder = nn.LSTM(
            step_width + config.bar_embedding,
            config.decoder_hidden,
            config.decoder_layers,
            batch_first=True,
            dropout=config.dropout if config.decoder_layers > 1 else 0.0,
        )
        self.to_tokens = nn.Linear(config.decoder_hidden, self.voices * self.vocabulary)
        if config.voices_in_turn:
            # voice v's logits from the embeddings of the voices u < v at the same step: a block-lower-triangular
            # map (the mask), zero at first so that it adds nothing until trained
            self.from_earlier_voices = nn.Linear(step_width, self.voices * self.vocabulary, bias=False)
            nn.init.zeros_(self.from_earlier_voices.weight)
            earlier = torch.ones(self.voices, self.voices).tril(-1)  # [v, u]: 1 where u < v
            mask = earlier.repeat_interleave(self.vocabulary, 0).repeat_interleave(config.embedding, 1)
            self.register_buffer("earlier_voices_mask", mask, persistent=False)

    # --- encoder --------------------------------------------------------------------------------------------

    def _embed(self, tokens: torch.Tensor) -> torch.Tensor:
        """``[B, T, V]`` → ``[B, T, V · embedding]``."""
        return self.embed(tokens).flatten(2)

    def encode(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``[B, T, V]`` → posterior mean and log-variance, each ``[B, latent]``."""
        _, (hidden, _) = self.encoder(self._embed(tokens))
        summary = torch.cat([hidden[0], hidden[1]], dim=-1)  # last forward and last backward states
        mean, log_variance = self.to_posterior(summary).chunk(2, dim=-1)
        return mean, log_variance

    # --- decoder --------------------------------------------------------------------------------------------

    def bar_embeddings(self, z: torch.Tensor) -> torch.Tensor:
        """``[B, latent]`` → one embedding per bar ``[B, bars, bar_embedding]`` (the conductor)."""
        hidden, cell = torch.tanh(self.conductor_start(z)).chunk(2, dim=-1)
        silence = z.new_zeros(z.shape[0], 1)
        bars = []
        for _ in range(self.bars):
            hidden, cell = self.conductor(silence, (hidden, cell))
            bars.append(self.to_bar(hidden))
        return torch.stack(bars, dim=1)

    def _bar_state(self, bar: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``[B, bar_embedding]`` → the bar decoder's initial (h, c), each ``[layers, B, hidden]``."""
        layers, hidden = self.config.decoder_layers, self.config.decoder_hidden
        h, c = torch.tanh(self.bar_start(bar)).view(-1, 2, layers, hidden).permute(1, 2, 0, 3).contiguous()
        return h, c

    def decode_logits(self, z: torch.Tensor, tokens: torch.Tensor, *, previous_dropout: float = 0.0) -> torch.Tensor:
        """Teacher-forced decoding: ``z [B, latent]``, targets ``[B, T, V]`` → logits ``[B, T, V, vocabulary]``.
        ``T`` may cover only the first bars of a window (bars are decoded apart, so those need none of the others).

        ``previous_dropout`` blanks that share of the previous-step inputs (training only): a decoder that cannot
        always lean on the last step has to read the latent (word dropout, Bowman et al. 2016)."""
        batch, steps = tokens.shape[:2]
        n_bars = steps // self.steps_per_bar
        if steps % self.steps_per_bar or not 0 < n_bars <= self.bars:
            raise ValueError(
                f"tokens must cover 1 to {self.bars} whole bars of {self.steps_per_bar} steps, got {steps}"
            )
        # each step sees the step before; the first step of every bar sees a rest (bars are decoded apart)
        previous = F.pad(tokens, (0, 0, 1, 0), value=REST)[:, :-1]
        previous = previous.view(batch, n_bars, self.steps_per_bar, self.voices)
        previous[:, :, 0] = REST
        embedded = self._embed(previous.reshape(batch * n_bars, self.steps_per_bar, self.voices))
        if previous_dropout > 0:
            keep = torch.rand(embedded.shape[:2], device=embedded.device) >= previous_dropout
            embedded = embedded * keep[..., None]
        bars = self.bar_embeddings(z)[:, :n_bars].reshape(batch * n_bars, -1)
        inputs = torch.cat([embedded, bars[:, None].expand(-1, self.steps_per_bar, -1)], dim=-1)
        outputs, _ = self.decoder(inputs, self._bar_state(bars))
        logits = self.to_tokens(outputs).view(batch, steps, self.voices * self.vocabulary)
        if self.config.voices_in_turn:  # each voice sees the true tokens of the voices before it at its step
            logits = logits + F.linear(self._embed(tokens), self._earlier_voices_weight())
        return logits.view(batch, steps, self.voices, self.vocabulary)

    def _earlier_voices_weight(self) -> torch.Tensor:
        """``[V · vocabulary, V · embedding]``, zero wherever a voice would see itself or a later voice."""
        return self.from_earlier_voices.weight * self.earlier_voices_mask

    def forward(self, tokens: torch.Tensor, *, previous_dropout: float = 0.0) -> dict[str, torch.Tensor]:
        """Training pass: ``{"logits", "mean", "log_variance"}`` with ``z`` drawn from the posterior."""
        mean, log_variance = self.encode(tokens)
        z = mean + torch.randn_like(mean) * (0.5 * log_variance).exp()
        logits = self.decode_logits(z, tokens, previous_dropout=previous_dropout)
        return {"logits": logits, "mean": mean, "log_variance": log_variance}

    def _fused_decoder_weights(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per decoder layer, ``[W_ih | W_hh]`` and ``b_ih + b_hh``: one matrix product per layer and step."""
        fused = []
        for layer in range(self.config.decoder_layers):
            weight = torch.cat(
                [getattr(self.decoder, f"weight_ih_l{layer}"), getattr(self.decoder, f"weight_hh_l{layer}")], dim=1
            )
            bias = getattr(self.decoder, f"bias_ih_l{layer}") + getattr(self.decoder, f"bias_hh_l{layer}")
            fused.append((weight, bias))
        return fused

    @staticmethod
    def _decoder_step(
        inputs: torch.Tensor, state: tuple[list[torch.Tensor], list[torch.Tensor]], fused: list
    ) -> tuple[torch.Tensor, tuple[list[torch.Tensor], list[torch.Tensor]]]:
        """One step of the bar decoder: ``inputs [B, width]``, (h, c) as lists of ``[B, hidden]`` per layer →
        output ``[B, hidden]`` and the new state. The same arithmetic as ``self.decoder`` on a sequence of one step
        (gates in PyTorch's order i, f, g, o), written out because a one-step call of ``nn.LSTM`` costs ~20× more
        on a CPU (its per-call set-up dominates); ``fused`` from :meth:`_fused_decoder_weights`."""
        hidden, cell = state
        new_hidden, new_cell = [], []
        layer_input = inputs
        for layer, (weight, bias) in enumerate(fused):
            gates = F.linear(torch.cat([layer_input, hidden[layer]], dim=-1), weight, bias)
            in_gate, forget_gate, cell_gate, out_gate = gates.chunk(4, dim=-1)
            c = torch.sigmoid(forget_gate) * cell[layer] + torch.sigmoid(in_gate) * torch.tanh(cell_gate)
            h = torch.sigmoid(out_gate) * torch.tanh(c)
            new_hidden.append(h)
            new_cell.append(c)
            layer_input = h
        return layer_input, (new_hidden, new_cell)

    @torch.no_grad()
    def sample(
        self,
        z: torch.Tensor,
        *,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
        first_bar: int = 0,
        sounding: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``z [B, latent]`` → tokens ``[B, T, V]`` of bars ``first_bar`` … ``bars − 1`` (bars are decoded apart,
        so later bars need not decode the earlier ones); temperature 0 takes the most likely token at every step.
        Which onset is drawn (given one) uses ``temperature · config.onset_temperature_factor``.

        A voice that is silent cannot draw ``HOLD`` (the corpus never has one; read back it would be a rest the
        model did not choose): ``sounding [B, V]`` says which voices hold a note into ``first_bar`` (default:
        none, as at the start of a window)."""
        batch = z.shape[0]
        draw = functools.partial(
            _draw,
            temperature=temperature,
            onset_temperature=temperature * self.config.onset_temperature_factor,
            generator=generator,
        )
        bars = self.bar_embeddings(z)
        steps = (self.bars - first_bar) * self.steps_per_bar
        out = torch.empty(batch, steps, self.voices, dtype=torch.long, device=z.device)
        fused = self._fused_decoder_weights()
        if sounding is None:
            sounding = torch.zeros(batch, self.voices, dtype=torch.bool, device=z.device)
        for bar in range(first_bar, self.bars):
            hidden, cell = self._bar_state(bars[:, bar])
            state = (list(hidden), list(cell))
            previous = torch.full((batch, self.voices), REST, dtype=torch.long, device=z.device)
            for step in range(self.steps_per_bar):
                inputs = torch.cat([self.embed(previous).flatten(1), bars[:, bar]], -1)
                output, state = self._decoder_step(inputs, state, fused)
                logits = self.to_tokens(output).view(batch, self.voices, self.vocabulary)
                logits[..., HOLD] = logits[..., HOLD].masked_fill(~sounding, float("-inf"))
                chosen = self._draw_in_turn(logits, draw) if self.config.voices_in_turn else draw(logits)
                out[:, (bar - first_bar) * self.steps_per_bar + step] = chosen
                sounding = (chosen >= ONSET) | (sounding & (chosen == HOLD))
                previous = chosen
        return out

    def _draw_in_turn(self, logits: torch.Tensor, draw: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        """One step's tokens ``[B, V]`` from the shared state's logits ``[B, V, vocabulary]``, voice by voice, each
        voice's logits raised by the tokens drawn for the voices before it (the mask hides the rest)."""
        batch, embedding = logits.shape[0], self.config.embedding
        weight = self._earlier_voices_weight().view(self.voices, self.vocabulary, -1)
        drawn = logits.new_zeros(batch, self.voices * embedding)  # embeddings of the voices drawn so far
        chosen = torch.empty(batch, self.voices, dtype=torch.long, device=logits.device)
        for voice in range(self.voices):
            voice_logits = logits[:, voice] + F.linear(drawn, weight[voice])
            chosen[:, voice] = draw(voice_logits[:, None])[:, 0]
            drawn[:, voice * embedding : (voice + 1) * embedding] = self.embed(chosen[:, voice])
        return chosen


def _draw(
    logits: torch.Tensor, *, temperature: float, onset_temperature: float, generator: torch.Generator | None
) -> torch.Tensor:
    """Tokens ``[B, V]`` from logits ``[B, V, vocabulary]`` (see :func:`token_probabilities`); the most likely
    token at temperature 0."""
    if temperature <= 0:
        return logits.argmax(-1)
    probabilities = token_probabilities(logits, temperature=temperature, onset_temperature=onset_temperature)
    return torch.multinomial(probabilities.flatten(0, 1), 1, generator=generator).view(logits.shape[:2])


def token_probabilities(logits: torch.Tensor, *, temperature: float, onset_temperature: float) -> torch.Tensor:
    """Softmax of ``logits [..., vocabulary]`` at ``temperature`` for rest, hold or onset; the onsets' share is then
    spread among them by a softmax at ``onset_temperature`` (which pitch, chord or drum hits starts)."""
    probabilities = F.softmax(logits / temperature, dim=-1)
    if onset_temperature == temperature:
        return probabilities
    share = probabilities[..., ONSET:].sum(-1, keepdim=True)
    onsets = F.softmax(logits[..., ONSET:] / onset_temperature, dim=-1)
    return torch.cat([probabilities[..., :ONSET], share * onsets], dim=-1)


def kl_divergence(mean: torch.Tensor, log_variance: torch.Tensor) -> torch.Tensor:
    """KL(q(z|x) ‖ N(0, I)) per item ``[B]``."""
    return 0.5 * (mean.pow(2) + log_variance.exp() - 1 - log_variance).sum(-1)


def reconstruction_loss(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """Cross-entropy summed over steps and voices, per item ``[B]``."""
    return F.cross_entropy(logits.flatten(0, 2), tokens.flatten(), reduction="none").view(tokens.shape[0], -1).sum(-1)


def token_accuracy(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """Share of tokens whose most likely prediction is right (MusicVAE's reconstruction accuracy)."""
    return (logits.argmax(-1) == tokens).float().mean()
