"""``Vocoder``: the one way to turn log-mels into audio with a trained vocoder, used by the CLI and the studio alike.

>>> from cantor import Vocoder
>>> vocoder = Vocoder("gan")                                  # doctest: +SKIP
>>> mel = vocoder.mel(audio)                                  # doctest: +SKIP
>>> same_again = vocoder.resynthesize(audio, sample_rate=44100)  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile
import torch

from cantor.audio.decode import readable
from cantor.audio.io import audio_info, read_array, resample_file
from cantor.audio.resample import fit_length, resample
from cantor.errors import AudioError, CantorError, UsageError
from cantor.features.mel import LogMel
from cantor.files import make_folder
from cantor.inference.chunked import FreedMemory, plan_chunks, run_chunked
from cantor.inference.precision import precision_context, resolve_precision
from cantor.models.registry import model_name, resolve_model
from cantor.models.vocoder import VOCODER_KIND, VocoderConfig, build_vocoder
from cantor.models.weights import load_weights

Progress = Callable[[int], None]  # called with the number of input samples (or mel frames) just finished
_NOISE_BLOCK = 1 << 16


def positional_noise(start: int, length: int, *, seed: int) -> torch.Tensor:
    """Standard-normal noise for samples ``start … start + length − 1`` that depends only on the positions and the
    seed, so a chunk of a long decode draws exactly the noise a whole-signal decode would have drawn there."""
    first, last = start // _NOISE_BLOCK, (start + length - 1) // _NOISE_BLOCK
    blocks = [
        torch.randn(_NOISE_BLOCK, generator=torch.Generator().manual_seed(seed * 1_000_003 + block))
        for block in range(first, last + 1)
    ]
    offset = start - first * _NOISE_BLOCK
    return torch.cat(blocks)[offset : offset + length]


class _PhaseCarry:
    """Carries a GAN vocoder's held-phase advance from one chunk to the next of a pass over a signal.

    A chunk's advance is kept where its frames had their whole context (``margin`` frames in from both ends); the next
    chunk, which overlaps it by more than twice that, is pinned to it at its own first complete frame, so the
    chunks continue one phase as a whole-signal decode does (to float rounding).
    """

    def __init__(self, margin: int) -> None:
        self.margin = margin
        self.first_frame = 0
        self.advance: torch.Tensor | None = None  # [batch, frames, n_bins], radians

    def anchor(self, start_frame: int) -> tuple[int, torch.Tensor] | None:
        """(frame index in the chunk, advance there) for a chunk starting at ``start_frame``; ``None`` for a pass's
        first chunk."""
        if self.advance is None:
            return None
        offset = start_frame + self.margin - self.first_frame
        if not 0 <= offset < self.advance.shape[1]:
            raise RuntimeError("vocoder chunks must overlap by twice the model's context to carry its phase")
        return self.margin, torch.remainder(self.advance[:, offset], 2 * torch.pi)

    def keep(self, start_frame: int, advance: torch.Tensor | None) -> None:
        if advance is not None:
            self.first_frame = start_frame + self.margin
            self.advance = advance[:, self.margin : advance.shape[1] - self.margin]  # wrapped only where read


class Vocoder:
    """Decodes log-mel spectrograms (``[..., n_mels, frames]``) to audio, chunk by chunk.

    Args:
        model: a shipped vocoder ("gan", "waveflow") or a folder with ``config.json`` + ``model.safetensors``.
        chunk_seconds: audio decoded per chunk; memory grows with it, not with the input's duration.
        temperature: WaveFlow's sampling temperature (0: the deterministic mean; default: the model's own, 0.5 for
            the shipped ``waveflow``); a GAN has none and refuses one.
        seed: WaveFlow's noise seed; the same seed gives the same audio, however the input is chunked.
        precision: a GAN's network in ``"fp32"`` or ``"bf16"``, or ``"auto"`` (default: ``bf16`` on CPUs that
            compute it natively); the held phase and the inverse STFT stay float32 (see
            :mod:`cantor.inference.precision`). WaveFlow always runs in float32 (``auto`` means ``fp32`` for it).
    """

    def __init__(
        self,
        model: str | Path = "gan",
        *,
        chunk_seconds: float = 10.0,
        temperature: float | None = None,
        seed: int = 0,
        precision: str = "auto",
    ) -> None:
        if chunk_seconds <= 0:
            raise UsageError(f"chunk must be positive, got {chunk_seconds}")
        if temperature is not None and temperature < 0:
            raise UsageError(f"temperature must be at least 0, got {temperature}")
        self.folder = resolve_model(model, kind=VOCODER_KIND)
        self.name = model_name(model, self.folder)
        network, payload = load_weights(
            self.folder, kind=VOCODER_KIND, build=lambda c: build_vocoder(VocoderConfig.from_dict(c))
        )
        self.network = network
        self.config = VocoderConfig.from_dict(payload["config"])
        self.metadata: dict = payload.get("metadata", {})
        self.frontend = LogMel(self.config.mel)
        self.chunk_seconds = chunk_seconds
        if temperature is not None and self.config.family != "waveflow":
            raise UsageError(f"only a WaveFlow vocoder samples at a temperature; {self.name} is a GAN")
        if temperature is None and self.config.family == "waveflow":
            temperature = self.config.waveflow.temperature
        self.temperature = temperature
        self.seed = seed
        self.precision = resolve_precision(precision, torch.device("cpu"))
        if self.config.family != "gan" and self.precision != "fp32":
            if precision != "auto":
                raise UsageError(f"only a GAN vocoder runs in {precision}; {self.name} is a WaveFlow (use fp32)")
            self.precision = "fp32"

    @property
    def sample_rate(self) -> int:
        return self.config.mel.sample_rate

    @property
    def hop_length(self) -> int:
        return self.config.mel.stft.hop_length

    @property
    def n_mels(self) -> int:
        return self.config.mel.n_mels

    def mel(self, audio: torch.Tensor | np.ndarray) -> torch.Tensor:
        """The log-mel this vocoder decodes: ``[..., time]`` at :attr:`sample_rate` → ``[..., n_mels, frames]``."""
        audio = _checked(audio)
        with torch.inference_mode():
            return self.frontend(audio)

    # --- mel → audio ----------------------------------------------------------------------------------------

    def _new_pass(self) -> _PhaseCarry:
        """What one pass over a signal's chunks (in order) carries from chunk to chunk: the GAN's phase. A pass
        owns it, not the Vocoder, so one Vocoder can serve several passes at once (the studio's requests)."""
        return _PhaseCarry(self.config.family_config.context_frames + 1)

    def _decode_frames(self, mel: torch.Tensor, start_sample: int, carry: _PhaseCarry) -> torch.Tensor:
        """``[batch, n_mels, frames]`` → ``[batch, (frames − 1) · hop]``; ``start_sample`` (a whole number of hops
        for the GAN) places WaveFlow's noise and the GAN's phase."""
        with torch.inference_mode(), precision_context(self.precision, torch.device("cpu")):
            if self.config.family == "gan":
                start_frame = start_sample // self.hop_length
                audio, advance, _ = self.network.synthesize(
                    mel, start_frame=start_frame, anchor=carry.anchor(start_frame)
                )
                carry.keep(start_frame, advance)
                return audio
            length = (mel.shape[-1] - 1) * self.hop_length
            noise = torch.stack(
                [positional_noise(start_sample, length, seed=self.seed + 7919 * row) for row in range(mel.shape[0])]
            )
            return self.network.infer(mel, noise=noise, temperature=self.temperature)

    def decode(
        self,
        mel: torch.Tensor | np.ndarray,
        *,
        length: int | None = None,
        start_sample: int = 0,
        progress: Progress | None = None,
    ) -> torch.Tensor:
        """``[..., n_mels, frames]`` → ``[..., length]`` (default ``(frames − 1) · hop_length``) samples.

        ``start_sample`` says where this mel's first frame sits in a longer signal (WaveFlow's noise is drawn by
        absolute position).

        Long mels are decoded in chunks of frames, each with enough context on both sides that its middle is
        exactly what a whole decode gives; the middles are concatenated (no cross-fade is needed). The chunks are
        cut along frames, not samples, which is why this is not :func:`~cantor.inference.chunked.run_chunked`.
        """
        mel = torch.as_tensor(mel, dtype=torch.float32)
        if mel.ndim < 2 or mel.shape[-2] != self.n_mels or mel.shape[-1] < 2:
            raise UsageError(
                f"a mel for this vocoder has shape [..., {self.n_mels}, frames ≥ 2], got {tuple(mel.shape)}"
            )
        if not torch.isfinite(mel).all():
            raise UsageError("the mel contains NaN or infinite values")
        leading, frames = mel.shape[:-2], mel.shape[-1]
        flat = mel.reshape(-1, self.n_mels, frames)
        hop = self.hop_length
        core = max(1, int(self.chunk_seconds * self.sample_rate) // hop)
        margin = self.config.family_config.context_frames + 1
        pieces = []
        carry = self._new_pass()
        memory = FreedMemory()  # the chunks' large buffers stay in the heap, not page-faulted in afresh each time
        for first in range(0, frames - 1, core):
            last = min(first + core, frames - 1)  # this chunk owns samples [first·hop, last·hop)
            lo, hi = max(0, first - margin), min(frames, last + 1 + margin)
            audio = self._decode_frames(flat[:, :, lo:hi], start_sample + lo * hop, carry)
            pieces.append(audio[:, (first - lo) * hop : (last - lo) * hop])
            memory.after_chunk()
            if progress:
                progress(last - first)
        memory.release()
        audio = torch.cat(pieces, dim=-1)
        if length is not None:
            audio = fit_length(audio, length)
        return audio.reshape(*leading, audio.shape[-1])

    # --- audio → mel → audio ----------------------------------------------------------------------------------

    def _resynthesize_model_rate(self, chunk: torch.Tensor, start: int, carry: _PhaseCarry) -> torch.Tensor:
        """``[channels, time]`` starting at sample ``start`` → ``[1, channels, time]`` (each channel on its own)."""
        length = chunk.shape[-1]
        padded = torch.nn.functional.pad(chunk, (0, -length % self.hop_length))  # whole hops: mel frames ↔ samples
        with torch.inference_mode():
            mel = self.frontend(padded)  # (C, n_mels, frames)
        # run_chunked's margins already give this chunk its context: decode it in one piece, not chunked again.
        return fit_length(self._decode_frames(mel, start, carry), length)[None]

    def _plan(self, length: int):
        context = (self.config.family_config.context_frames + 4) * self.hop_length + self.config.mel.stft.n_fft
        return plan_chunks(
            length,
            sample_rate=self.sample_rate,
            segment_seconds=self.chunk_seconds,
            receptive_field=context,
            align=self.hop_length,
        )

    def resynthesize(self, audio: torch.Tensor | np.ndarray, sample_rate: int) -> torch.Tensor:
        """Audio → mel → audio through the vocoder; ``[channels, time]`` or ``[time]``, same shape and rate out."""
        audio = _checked(audio)
        mono = audio.ndim == 1
        if mono:
            audio = audio[None]
        if audio.ndim != 2:
            raise AudioError(f"audio must have shape [channels, time] or [time], got {tuple(audio.shape)}")
        length = audio.shape[-1]
        model_audio = resample(audio, orig_sample_rate=sample_rate, target_sample_rate=self.sample_rate)
        reader = lambda a, b: model_audio[:, a:b]  # noqa: E731
        plan = self._plan(model_audio.shape[-1])
        resynthesize = functools.partial(self._resynthesize_model_rate, carry=self._new_pass())
        out = torch.cat([block for _, block in run_chunked(resynthesize, reader, plan)], dim=-1)[0]
        out = fit_length(resample(out, orig_sample_rate=self.sample_rate, target_sample_rate=sample_rate), length)
        return out[0] if mono else out

    def resynthesize_file(
        self, path: str | Path, out: str | Path, *, overwrite: bool = False, progress: Progress | None = None
    ) -> Path:
        """Resynthesise an audio file into ``out`` (WAV, 32-bit float; written only when complete).

        The file streams chunk by chunk (flat memory on hour-long inputs); at another rate it is first resampled
        file to file, and the result back.
        """
        path, out = Path(path), Path(out)
        audio_info(path)  # (a bad file fails here, before anything is written)
        if out.exists() and not overwrite:
            raise CantorError(f"{out} exists; pass --overwrite to replace it")
        make_folder(out.parent)
        partial = out.with_name(f".{out.stem}.partial.wav")
        staging = out.with_name(f".{out.stem}.staging")
        try:
            staging.mkdir(exist_ok=True)
            with readable(path, staging) as source:
                self._resynthesize_readable(source, staging, partial, progress)
            partial.replace(out)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return out

    def _resynthesize_readable(self, path: Path, staging: Path, partial: Path, progress: Progress | None) -> None:
        """Resynthesise ``path`` (a format libsndfile reads) into ``partial``, through the vocoder's rate (resampled
        files in ``staging``) where the file has another."""
        info = audio_info(path)
        if info.samplerate == self.sample_rate:
            self._stream(path, partial, progress)
        else:
            model_input = resample_file(path, staging / "input.wav", target_sample_rate=self.sample_rate)
            ratio = info.samplerate / self.sample_rate
            scaled = (lambda n: progress(round(n * ratio))) if progress else None
            self._stream(model_input, staging / "output.wav", scaled)
            resample_file(staging / "output.wav", partial, target_sample_rate=info.samplerate, frames=info.frames)

    def _stream(self, path: Path, out: Path, progress: Progress | None) -> None:
        """Resynthesise a file at the vocoder's rate into ``out``, chunk by chunk."""
        info = audio_info(path)

        def read(start: int, stop: int) -> torch.Tensor:
            data, _ = read_array(path, start=start, frames=stop - start)
            return torch.from_numpy(data.T.copy())

        resynthesize = functools.partial(self._resynthesize_model_rate, carry=self._new_pass())
        with soundfile.SoundFile(
            out, "w", samplerate=info.samplerate, channels=info.channels, format="WAV", subtype="FLOAT"
        ) as writer:
            for _, block in run_chunked(resynthesize, read, self._plan(info.frames)):
                writer.write(block[0].numpy().T)
                if progress:
                    progress(block.shape[-1])


def _checked(audio: torch.Tensor | np.ndarray) -> torch.Tensor:
    audio = torch.as_tensor(audio, dtype=torch.float32)
    if audio.ndim == 0 or audio.shape[-1] == 0:
        raise AudioError(f"audio must have shape [..., time > 0], got {tuple(audio.shape)}")
    if not torch.isfinite(audio).all():
        raise AudioError("audio contains NaN or infinite samples")
    return audio
