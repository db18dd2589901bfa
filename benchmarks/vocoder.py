"""Vocoder benchmark: copy-synthesis (audio → log-mel → audio) of held-out stems and mixtures, in-domain and with an
unseen soundfont, against Griffin-Lim from the same mel, with speed. Not a test.

    .venv/bin/python benchmarks/vocoder.py --models gan waveflow \
        --set in-domain-band=/work/data/band --set in-domain-chorale=/work/data/chorale \
        --set unseen-soundfont=/work/data/band-timgm --out benchmarks/results/vocoder.md

Clips: from each test song one file — the mixture or a stem, cycling through them so every family (drums too)
appears — cut to ``--seconds`` from its middle, first channel. Metrics: log-mel L1 (on the vocoders' own mel,
which favours Griffin-Lim: it inverts exactly that magnitude), multi-resolution STFT distance, ViSQOL v3 in audio
mode (the ``visqol-python`` port, at 48 kHz), and on monophonic pitched stems the median f0 error in cents (pYIN on
both, frames voiced in both). Speed: seconds of audio per second of decoding, mel in, waveform out, on the threads
given (2 by default), measured apart from the quality clips: a 30 s mel decoded whole after one warm-up decode
(a cold first call pays one-time set-up that a per-clip timing would charge to whichever set came first), the best
of three (of one for a method that takes over 10 s).

Steady tones: harmonic tones (six partials) held for 2 s at every fifth semitone from E1 (41 Hz) to E6, decoded from
their mel; the error is where the fundamental comes out (the spectral peak within −30 %…+40 % of it), in cents. A
vocoder whose frames cannot carry phase forward puts a held note on a multiple of sample_rate / hop.

``--set NAME=FOLDER:STEM`` takes only that stem of each song (e.g. ``:drums``, for the drums of a recorded kit).
``--models`` takes shipped names or ``LABEL=FOLDER`` (a run's exported weights), with ``@T`` for a WaveFlow sampled at
temperature T (default: the model's own; ``wf0=waveflow@0`` decodes the mean); ``--split valid`` scores the valid
songs, for choosing between candidates before the test split is looked at.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import librosa
import numpy as np
import soxr
import torch
import torch.nn.functional as F

from cantor.audio.io import audio_info, read_array
from cantor.audio.resample import fit_length
from cantor.errors import UsageError
from cantor.features.mel import LogMel
from cantor.features.stft import ISTFT, STFT
from cantor.inference.precision import PRECISIONS
from cantor.inference.vocode import Vocoder
from cantor.metrics.pitch import peak_frequency
from cantor.train.losses import multi_resolution_stft

sys.path.insert(0, str(Path(__file__).parent))
from _report import header

PITCHED = {"bass", "melody", "soprano", "alto", "tenor"}  # monophonic stems: one f0 is meaningful


SPEED_SECONDS = 30.0
TONE_MIDI = range(28, 89, 5)  # E1 … E6


def steady_tone_errors(decode, frontend: LogMel, sample_rate: int) -> list[float]:
    """|cents| between each steady tone's fundamental and where ``decode`` puts it (see the module docstring)."""
    t = np.arange(2 * sample_rate) / sample_rate
    errors = []
    for midi in TONE_MIDI:
        f0 = 440.0 * 2 ** ((midi - 69) / 12)
        tone = sum(0.3 / k * np.sin(2 * np.pi * k * f0 * t) for k in range(1, 7) if k * f0 < sample_rate / 2)
        with torch.inference_mode():
            audio = decode(frontend(torch.tensor(tone, dtype=torch.float32)))
        middle = audio.numpy()[sample_rate // 2 : sample_rate // 2 + sample_rate]
        peak = peak_frequency(middle, sample_rate, low=0.7 * f0, high=1.4 * f0)
        errors.append(abs(1200 * float(np.log2(peak / f0))))
    return errors


def pick_clips(
    root: Path, *, count: int, seconds: float, sample_rate: int, split: str = "test", stem: str | None = None
) -> list[dict]:
    """One clip per song of ``split``, cycling through mixture and stems (or only ``stem``); near-silent choices
    fall through to the next."""
    songs = sorted(p for p in (root / split).iterdir() if p.is_dir())
    clips = []
    for index, song in enumerate(songs):
        files = sorted(song.glob("*.wav")) + sorted(song.glob("*.flac"))
        files = [path for path in files if stem is None or path.stem == stem]
        for shift in range(len(files)):
            path = files[(index + shift) % len(files)]
            info = audio_info(path)
            length = int(seconds * sample_rate)
            start = max(0, (info.frames - length) // 2)
            data, _ = read_array(path, start=start, frames=length)
            audio = data[:, 0]
            if np.sqrt(np.mean(audio**2)) > 3e-3 and audio.shape[0] == length:
                clips.append({"song": song.name, "stem": path.stem, "audio": torch.from_numpy(audio.copy())})
                break
        if len(clips) == count:
            break
    return clips


class GriffinLim:
    """Griffin-Lim from a log-mel: the mel pseudo-inverse (clamped ≥ 0) as magnitude, then ``iterations`` of
    fast Griffin-Lim (momentum 0.99, as librosa's default) from random phase."""

    def __init__(self, frontend: LogMel, *, iterations: int = 32) -> None:
        config = frontend.config
        filters = config.filterbank()
        self.inverse = torch.linalg.pinv(filters)
        self.stft, self.istft = STFT(config.stft), ISTFT(config.stft)
        self.hop = config.stft.hop_length
        self.iterations = iterations

    def __call__(self, mel: torch.Tensor) -> torch.Tensor:
        magnitude = (self.inverse @ torch.exp(mel)).clamp_min(0)
        length = (mel.shape[-1] - 1) * self.hop
        generator = torch.Generator().manual_seed(0)
        phase = torch.exp(2j * torch.pi * torch.rand(magnitude.shape, generator=generator))
        previous = torch.zeros_like(phase)
        for _ in range(self.iterations):
            rebuilt = self.stft(self.istft(magnitude * phase, length=length))
            accelerated = rebuilt - 0.99 / 1.99 * previous
            previous = rebuilt
            phase = accelerated / accelerated.abs().clamp_min(1e-8)
        return self.istft(magnitude * phase, length=length)


def f0_cents_error(reference: np.ndarray, estimate: np.ndarray, sample_rate: int) -> float | None:
    rate = 22050
    kwargs = {"fmin": 40.0, "fmax": 1200.0, "sr": rate, "frame_length": 2048}
    f_ref, voiced_ref, _ = librosa.pyin(soxr.resample(reference, sample_rate, rate), **kwargs)
    f_est, voiced_est, _ = librosa.pyin(soxr.resample(estimate, sample_rate, rate), **kwargs)
    both = voiced_ref & voiced_est
    if both.sum() < 10:
        return None
    return float(np.median(np.abs(1200 * np.log2(f_est[both] / f_ref[both]))))


def steady_speed(decode, mel: torch.Tensor, *, audio_seconds: float, repeats: int = 3) -> float:
    """Seconds of audio per second of decoding ``mel`` whole, after one warm-up decode; the best of ``repeats``
    (one, for a method whose warm-up took over 10 s: a slow method's time varies less than its size)."""
    with torch.inference_mode():
        start = time.perf_counter()
        decode(mel)
        if time.perf_counter() - start > 10:
            repeats = 1
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            decode(mel)
            times.append(time.perf_counter() - start)
    return audio_seconds / min(times)


def load_vocoders(specs: list[str], precisions: list[str]) -> dict[str, Vocoder]:
    """``gan``, ``LABEL=FOLDER`` or ``LABEL=MODEL@TEMPERATURE`` (WaveFlow's sampling temperature) → {label: Vocoder},
    each at ``precisions[0]``, and the first again at each further precision (labelled with it)."""
    vocoders = {}
    for spec in specs:
        label, _, model = spec.partition("=")
        model, options = model or label, {}
        name, at, suffix = model.rpartition("@")
        try:
            temperature = float(suffix) if at else None
        except ValueError:  # the '@' is part of a folder's name
            temperature = None
        if temperature is not None:
            options["temperature"], model = temperature, name
        runs = precisions if not vocoders else precisions[:1]
        for precision in runs:
            shown = f"{label} ({precision})" if len(runs) > 1 else label
            try:
                vocoders[shown] = Vocoder(model, precision=precision, **options)
            except UsageError as error:  # e.g. a temperature for a GAN
                raise SystemExit(f"{spec}: {error}") from None
    return vocoders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--models",
        nargs="+",
        default=["gan", "waveflow"],
        help="shipped names, LABEL=FOLDER, or LABEL=MODEL@TEMPERATURE for WaveFlow",
    )
    parser.add_argument(
        "--set", action="append", required=True, help="NAME=DATA_FOLDER, or NAME=DATA_FOLDER:STEM for one stem only"
    )
    parser.add_argument("--split", default="test", help="the split of each set scored (valid: to choose a model)")
    parser.add_argument("--clips", type=int, default=10, help="clips per set")
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--precision",
        action="append",
        choices=PRECISIONS,
        help="the vocoders' precision (default auto); repeat to add rows for the first model at the others",
    )
    parser.add_argument("--no-visqol", action="store_true")
    parser.add_argument(
        "--speed-repeats", type=int, default=3, help="decodes timed per method (the best counts): more on a noisy host"
    )
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    vocoders = load_vocoders(args.models, args.precision or ["auto"])
    first = next(iter(vocoders.values()))
    frontend = LogMel(first.config.mel)
    rate = first.sample_rate
    for name, vocoder in vocoders.items():
        if vocoder.config.mel != first.config.mel:
            raise SystemExit(f"{name} uses another mel front end; compare vocoders of one front end")
    methods = {"griffin-lim-32": GriffinLim(frontend)}
    methods.update({f"cantor {name}": vocoder.decode for name, vocoder in vocoders.items()})
    visqol = None
    if not args.no_visqol:
        from visqol import VisqolApi

        visqol = VisqolApi()
        visqol.create(mode="audio")
    results: dict[str, dict] = {}
    speed_audio: list[torch.Tensor] = []
    for spec in args.set:
        set_name, folder = spec.split("=", 1)
        folder, _, stem = folder.partition(":")
        clips = pick_clips(
            Path(folder), count=args.clips, seconds=args.seconds, sample_rate=rate, split=args.split, stem=stem or None
        )
        speed_audio.extend(clip["audio"] for clip in clips)
        table = {m: {"mel_l1": [], "mrstft": [], "visqol": [], "f0_cents": []} for m in methods}
        for clip in clips:
            reference = clip["audio"]
            with torch.inference_mode():
                mel = frontend(reference)
            reference48 = soxr.resample(reference.numpy().astype(np.float64), rate, 48000)
            for method, decode in methods.items():
                with torch.inference_mode():
                    estimate = decode(mel)
                estimate = fit_length(estimate, reference.shape[0])
                with torch.inference_mode():
                    table[method]["mel_l1"].append(F.l1_loss(frontend(estimate), mel).item())
                    table[method]["mrstft"].append(multi_resolution_stft(estimate[None], reference[None]).item())
                if visqol is not None:
                    estimate48 = soxr.resample(estimate.numpy().astype(np.float64), rate, 48000)
                    table[method]["visqol"].append(
                        visqol.measure_from_arrays(reference48, estimate48, sample_rate=48000).moslqo
                    )
                if clip["stem"] in PITCHED:
                    error = f0_cents_error(reference.numpy(), estimate.numpy(), rate)
                    if error is not None:
                        table[method]["f0_cents"].append(error)
            print(f"{set_name}: {clip['song']} {clip['stem']} done", file=sys.stderr)
        results[set_name] = {
            "clips": [f"{c['song']}/{c['stem']}" for c in clips],
            "methods": {
                method: {
                    "mel_l1": float(np.mean(v["mel_l1"])),
                    "mrstft": float(np.mean(v["mrstft"])),
                    "visqol": float(np.mean(v["visqol"])) if v["visqol"] else None,
                    "f0_cents": float(np.median(v["f0_cents"])) if v["f0_cents"] else None,
                }
                for method, v in table.items()
            },
        }
    # Speed on 30 s of the clips themselves, laid end to end (each model's cost does not depend on the content).
    speed_clip = fit_length(torch.cat(speed_audio).repeat(2), int(SPEED_SECONDS * rate))
    with torch.inference_mode():
        speed_mel = frontend(speed_clip)
    speeds = {
        method: steady_speed(decode, speed_mel, audio_seconds=SPEED_SECONDS, repeats=args.speed_repeats)
        for method, decode in methods.items()
    }
    tones = {method: steady_tone_errors(decode, frontend, rate) for method, decode in methods.items()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(
        json.dumps({"sets": results, "realtime": speeds, "threads": args.threads, "tone_cents": tones}, indent=2) + "\n"
    )
    lines = [header("Vocoders: copy-synthesis from log-mel"), ""]
    lines += [
        f"{args.clips} clips of {args.seconds:g} s per set (mixtures and stems of the {args.split} songs, first "
        f"channel). Mel: {first.config.mel.n_mels} bands, 0 Hz–Nyquist, n_fft "
        f"{first.config.mel.stft.n_fft}, hop {first.config.mel.stft.hop_length} at {rate} Hz.",
        "",
    ]
    for model_name, vocoder in vocoders.items():
        meta = vocoder.metadata
        sampling = f", sampled at temperature {vocoder.temperature:g}" if vocoder.config.family == "waveflow" else ""
        lines.append(
            f"- `{model_name}`: {meta.get('parameters', 0) / 1e6:.2f} M parameters, {meta.get('step')} steps"
            f"{sampling}, {vocoder.precision}"
        )
    lines += [
        "",
        f"## Speed: {SPEED_SECONDS:g} s decoded whole on {args.threads} threads "
        f"(after a warm-up; best of {args.speed_repeats}, or 1 where a decode took over 10 s)",
        "",
    ]
    lines += ["| method | × real time ↑ |", "|---|---|"]
    lines += [f"| {method} | {speed:.1f} |" for method, speed in speeds.items()]
    lines += ["", f"## Steady tones: where a held note comes out (E1–E6, {len(TONE_MIDI)} tones)", ""]
    lines += ["| method | median error (cents) ↓ | worst (cents) | within 10 cents |", "|---|---|---|---|"]
    for method, errors in tones.items():
        within = sum(e <= 10 for e in errors)
        lines.append(f"| {method} | {np.median(errors):.0f} | {max(errors):.0f} | {within} of {len(errors)} |")
    lines.append("")
    for set_name, result in results.items():
        lines += [
            f"## {set_name}",
            "",
            "| method | log-mel L1 ↓ | MR-STFT ↓ | ViSQOL ↑ | f0 error (cents) ↓ |",
        ]
        lines.append("|---|---|---|---|---|")
        for method, row in result["methods"].items():
            visqol_text = f"{row['visqol']:.2f}" if row["visqol"] is not None else "—"
            f0_text = f"{row['f0_cents']:.0f}" if row["f0_cents"] is not None else "—"
            lines.append(f"| {method} | {row['mel_l1']:.3f} | {row['mrstft']:.3f} | {visqol_text} | {f0_text} |")
        lines += ["", f"clips: {', '.join(result['clips'])}", ""]
    args.out.write_text("\n".join(lines) + "\n")
    print(args.out.read_text())


if __name__ == "__main__":
    main()
