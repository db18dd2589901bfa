"""``Separator``: the one way to separate audio with a trained model, used by the CLI and the web studio alike.

>>> from cantor import Separator
>>> separator = Separator("band")                          # doctest: +SKIP
>>> stems = separator.separate(audio, sample_rate=44100)   # doctest: +SKIP
>>> sorted(stems)                                          # doctest: +SKIP
['bass', 'drums', 'melody', 'other']
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import soundfile
import torch

from cantor.audio.decode import readable
from cantor.audio.io import audio_info, read_array, resample_file
from cantor.audio.resample import fit_length, resample
from cantor.errors import AudioError, CantorError, UsageError
from cantor.files import staged_folder
from cantor.inference.chunked import ChunkPlan, apply_chunked, plan_chunks, run_chunked
from cantor.inference.precision import precision_context, resolve_precision
from cantor.inference.wiener import wiener_filter
from cantor.models.registry import model_name, resolve_model
from cantor.models.separator import SEPARATOR_KIND, SeparatorConfig, TCNVAESeparator
from cantor.models.weights import load_weights

OUTPUT_FORMATS = {"wav": ("WAV", "FLOAT"), "flac": ("FLAC", "PCM_24")}
Progress = Callable[[int], None]  # called with the number of input samples just finished


def check_format(audio_format: str) -> None:
    """A usage error unless ``audio_format`` is one of :data:`OUTPUT_FORMATS`."""
    if audio_format not in OUTPUT_FORMATS:
        raise UsageError(f"format must be one of {', '.join(OUTPUT_FORMATS)}, got {audio_format!r}")


def compute_device(name: str) -> torch.device:
    """``"cpu"``, ``"cuda"``, ``"cuda:1"``… as a device that exists here, or a usage error saying why not."""
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UsageError(f"device must be cpu, cuda or cuda:N, got {name!r}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"device {name!r}: no CUDA GPU is available here (use cpu)")
    if device.type not in ("cpu", "cuda"):
        raise UsageError(f"device must be cpu, cuda or cuda:N, got {name!r}")
    return device


class Separator:
    """Separates audio of any rate and channel count into the model's sources, chunk by chunk.

    Args:
        model: a shipped model name ("band", "chorale") or a folder with ``config.json`` + ``model.safetensors``.
        segment_seconds: chunk length; memory grows with it, not with the input's duration.
        overlap: minimum share of a chunk overlapping the next. The model's receptive field is always used, which
            already makes the output equal a whole-file pass: more overlap only costs time (0.25: 14 % slower).
        wiener_iterations: multichannel Wiener post-filter iterations (0: off); sharper stems at some speed.
        device: where the network runs: ``"cpu"`` (default), ``"cuda"``, ``"cuda:1"``…; audio stays on the CPU.
        precision: ``"fp32"``, ``"bf16"`` (convolutions and matrix products in bfloat16; the spectra and masks
            stay float32) or ``"auto"`` (default: ``bf16`` on CPUs that compute it natively, else ``fp32``); see
            :mod:`cantor.inference.precision`.
    """

    def __init__(
        self,
        model: str | Path = "band",
        *,
        segment_seconds: float = 10.0,
        overlap: float = 0.0,
        wiener_iterations: int = 0,
        device: str = "cpu",
        precision: str = "auto",
    ) -> None:
        self.device = compute_device(device)
        self.precision = resolve_precision(precision, self.device)
        if segment_seconds <= 0:
            raise UsageError(f"segment must be positive, got {segment_seconds}")
        if not 0 <= overlap < 1:
            raise UsageError(f"overlap must be in [0, 1), got {overlap}")
        if wiener_iterations < 0:
            raise UsageError(f"wiener iterations must be at least 0, got {wiener_iterations}")
        self.folder = resolve_model(model, kind=SEPARATOR_KIND)
        self.name = model_name(model, self.folder)
        network, payload = load_weights(
            self.folder, kind=SEPARATOR_KIND, build=lambda c: TCNVAESeparator(SeparatorConfig.from_dict(c))
        )
        self.network: TCNVAESeparator = network.to(self.device)
        self.config: SeparatorConfig = network.config
        self.metadata: dict = payload.get("metadata", {})
        self.segment_seconds = segment_seconds
        self.overlap = overlap
        self.wiener_iterations = wiener_iterations

    @property
    def sources(self) -> tuple[str, ...]:
        return self.config.sources

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    def _plan(self, length: int) -> ChunkPlan:
        return plan_chunks(
            length,
            sample_rate=self.sample_rate,
            segment_seconds=self.segment_seconds,
            receptive_field=max(
                self.config.receptive_field_samples, int(self.overlap * self.segment_seconds * self.sample_rate / 2)
            ),
            align=self.config.stft.hop_length,
        )

    def _separate_model_rate(self, chunk: torch.Tensor, start: int = 0) -> torch.Tensor:
        """``[channels, time]`` at the model's rate → ``[sources, channels, time]``, for any channel count."""
        channels = chunk.shape[0]
        chunk = chunk.to(self.device)
        with torch.inference_mode():
            if channels == self.config.channels:
                return self._network_sources(chunk[None])[0].cpu()
            # Other layouts: each channel as dual mono, the two outputs averaged back into that channel.
            pairs = chunk[:, None, :].expand(-1, self.config.channels, -1)
            outputs = self._network_sources(pairs.contiguous())  # (C, S, 2, T)
            return outputs.mean(dim=2).transpose(0, 1).cpu()

    def _network_sources(self, mixture: torch.Tensor) -> torch.Tensor:
        """``[batch, channels, time]`` → ``[batch, sources, channels, time]``, Wiener-filtered if asked."""
        with precision_context(self.precision, self.device):  # the network only: the Wiener filter stays float32
            output = self.network(mixture)
        if not self.wiener_iterations:
            return output.sources
        length = mixture.shape[-1]
        mixture_spec = self.network.stft(mixture)  # (B, C, F, N)
        refined = torch.stack(
            [
                wiener_filter(mixture_spec[item], output.spec[item], iterations=self.wiener_iterations)
                for item in range(mixture.shape[0])
            ]
        )
        return self.network.istft(refined, length=length)

    def separate(
        self, audio: torch.Tensor | np.ndarray, sample_rate: int, *, progress: Progress | None = None
    ) -> dict[str, torch.Tensor]:
        """``audio`` ``[channels, time]`` (or ``[time]``) → ``{source: [channels, time]}`` at the input's rate."""
        audio = torch.as_tensor(audio, dtype=torch.float32)
        mono_input = audio.ndim == 1
        if mono_input:
            audio = audio[None]
        if audio.ndim != 2 or audio.shape[-1] == 0:
            raise AudioError(f"audio must have shape [channels, time > 0], got {tuple(audio.shape)}")
        if not torch.isfinite(audio).all():
            raise AudioError("audio contains NaN or infinite samples")
        length = audio.shape[-1]
        model_audio = resample(audio, orig_sample_rate=sample_rate, target_sample_rate=self.sample_rate)
        separated = apply_chunked(self._separate_model_rate, model_audio, self._plan(model_audio.shape[-1]))
        if progress:
            progress(length)
        stems = {}
        for index, name in enumerate(self.sources):
            stem = resample(separated[index], orig_sample_rate=self.sample_rate, target_sample_rate=sample_rate)
            stem = fit_length(stem, length)
            stems[name] = stem[0] if mono_input else stem
        return stems

    def separate_file(
        self,
        path: str | Path,
        out_dir: str | Path,
        *,
        stems: Sequence[str] | None = None,
        audio_format: str = "wav",
        overwrite: bool = False,
        progress: Progress | None = None,
    ) -> dict[str, Path]:
        """Separate one file into ``out_dir/<track>/<stem>.<format>``; the folder appears only when complete.

        The file streams chunk by chunk (flat memory on hour-long inputs); at another rate it is first resampled
        file to file, and the stems back. Returns the written paths; an existing complete folder is kept unless
        ``overwrite``.
        """
        path = Path(path)
        wanted = self.check_stems(stems)
        check_format(audio_format)
        info = audio_info(path)
        target = Path(out_dir) / path.stem
        paths = {name: target / f"{name}.{audio_format}" for name in wanted}
        if target.exists() and not overwrite:
            if all(p.is_file() for p in paths.values()):
                if progress:
                    progress(info.frames)
                return paths
            raise CantorError(f"{target} exists and is incomplete or different; pass --overwrite to replace it")
        with staged_folder(target) as partial, readable(path, partial) as source:
            info = audio_info(source)  # (exact, where the first was a compressed container's estimate)
            if info.samplerate == self.sample_rate:
                self._stream(source, info, partial, wanted, audio_format, progress)
            else:
                self._stream_other_rate(source, info, partial, wanted, audio_format, progress)
        return paths

    def _stream_other_rate(
        self, path: Path, info, folder: Path, wanted: Sequence[str], audio_format: str, progress
    ) -> None:
        """Through the model's rate and back, file to file in blocks, so memory stays flat at any rate too."""
        staging = folder / ".model-rate"
        staging.mkdir()
        model_input = resample_file(path, staging / "input.wav", target_sample_rate=self.sample_rate)
        ratio = info.samplerate / self.sample_rate
        scaled = (lambda n: progress(round(n * ratio))) if progress else None
        self._stream(model_input, audio_info(model_input), staging, wanted, "wav", scaled)
        subtype = OUTPUT_FORMATS[audio_format][1]
        for name in wanted:
            resample_file(
                staging / f"{name}.wav",
                folder / f"{name}.{audio_format}",
                target_sample_rate=info.samplerate,
                frames=info.frames,
                subtype=subtype,
            )
        shutil.rmtree(staging)

    def _stream(self, path: Path, info, folder: Path, wanted: Sequence[str], audio_format: str, progress) -> None:
        file_format, subtype = OUTPUT_FORMATS[audio_format]
        writers = {
            name: soundfile.SoundFile(
                folder / f"{name}.{audio_format}",
                "w",
                samplerate=info.samplerate,
                channels=info.channels,
                format=file_format,
                subtype=subtype,
            )
            for name in wanted
        }
        indices = [self.sources.index(name) for name in wanted]

        def read(start: int, stop: int) -> torch.Tensor:
            data, _ = read_array(path, start=start, frames=stop - start)
            return torch.from_numpy(data.T.copy())

        try:
            for _, block in run_chunked(self._separate_model_rate, read, self._plan(info.frames)):
                for name, index in zip(wanted, indices, strict=True):
                    writers[name].write(block[index].numpy().T)
                if progress:
                    progress(block.shape[-1])
        finally:
            for writer in writers.values():
                writer.close()

    def check_stems(self, stems: Sequence[str] | None) -> list[str]:
        """``stems`` (all of the model's if empty), or a usage error naming the model's stems."""
        if not stems:
            return list(self.sources)
        unknown = [s for s in stems if s not in self.sources]
        if unknown:
            raise UsageError(f"model {self.name!r} has no stem {', '.join(unknown)}; it has {', '.join(self.sources)}")
        return list(stems)
