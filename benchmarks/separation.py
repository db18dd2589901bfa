"""Separation benchmark: SI-SDR improvement per source on held-out songs, in-domain and with an unseen soundfont,
beside the oracle masks (the ceiling) and speed. Not a test.

    .venv/bin/python benchmarks/separation.py --model band --test data/band --unseen data/band-timgm \
        --out benchmarks/results/separation-band.md

Songs are scored whole (30 s, stereo folded into one signal): SI-SDR of the estimate and SI-SDRi over using the
mixture itself as the estimate; medians over songs. Peers (Open-Unmix, Conv-TasNet) trained on the same data with the
same CPU budget join this table in a later session.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import librosa
import numpy as np
import torch

from cantor.data.dataset import MultitrackDataset
from cantor.features.stft import ISTFT, STFT, STFTConfig
from cantor.inference.separate import Separator
from cantor.metrics.sdr import si_sdr_improvement, si_sdr_tracks

sys.path.insert(0, str(Path(__file__).parent))
from _report import header

ORACLE_STFT = STFTConfig(n_fft=2048, hop_length=512)


def oracle(mixture: torch.Tensor, sources: torch.Tensor, *, binary: bool) -> torch.Tensor:
    """Ideal ratio (|Sᵢ| / Σ|Sⱼ|) or binary mask applied to the mixture STFT: what a perfect mask model reaches."""
    stft, istft = STFT(ORACLE_STFT), ISTFT(ORACLE_STFT)
    magnitudes = stft(sources).abs()  # (S, C, F, N)
    if binary:
        masks = (magnitudes == magnitudes.max(dim=0, keepdim=True).values).float()
    else:
        masks = magnitudes / magnitudes.sum(dim=0, keepdim=True).clamp_min(1e-8)
    return istft(masks * stft(mixture)[None], length=mixture.shape[-1])


def hpss_percussive(mixture: torch.Tensor) -> torch.Tensor:
    """The classical drums baseline: the percussive part of harmonic-percussive separation (median filtering)."""
    stft, istft = STFT(ORACLE_STFT), ISTFT(ORACLE_STFT)
    spec = stft(mixture).numpy()
    _, percussive = librosa.decompose.hpss(spec)
    return istft(torch.from_numpy(percussive), length=mixture.shape[-1])


def evaluate(root: Path, separator: Separator, limit: int | None) -> dict:
    dataset = MultitrackDataset(
        root, split="test", sources=separator.sources, segment_seconds=None, sample_rate=separator.sample_rate
    )
    count = min(len(dataset), limit or len(dataset))
    scores = {name: [] for name in ("model", "irm", "ibm")}
    improvements = {name: [] for name in scores}
    drums = separator.sources.index("drums") if "drums" in separator.sources else None
    hpss_drums = []
    seconds = audio_seconds = 0.0
    for index in range(count):
        mixture, sources = dataset[index]
        start = time.perf_counter()
        stems = separator.separate(mixture, separator.sample_rate)
        seconds += time.perf_counter() - start
        audio_seconds += mixture.shape[-1] / separator.sample_rate
        estimates = {
            "model": torch.stack([stems[name] for name in separator.sources]),
            "irm": oracle(mixture, sources, binary=False),
            "ibm": oracle(mixture, sources, binary=True),
        }
        for name, estimate in estimates.items():
            scores[name].append(si_sdr_tracks(estimate, sources))
            improvements[name].append(si_sdr_improvement(estimate, sources, mixture))
        if drums is not None:
            estimate = hpss_percussive(mixture)[None]
            hpss_drums.append(si_sdr_improvement(estimate, sources[drums : drums + 1], mixture)[0].item())
    return {
        "hpss_drums_si_sdri": float(np.median(hpss_drums)) if hpss_drums else None,
        "songs": count,
        "si_sdr": {k: torch.stack(v).median(dim=0).values.tolist() for k, v in scores.items()},
        "si_sdri": {k: torch.stack(v).median(dim=0).values.tolist() for k, v in improvements.items()},
        "real_time_factor": audio_seconds / seconds,
    }


def table(title: str, result: dict, sources: tuple[str, ...]) -> list[str]:
    lines = [f"\n### {title} ({result['songs']} songs)\n"]
    lines.append("| estimate | " + " | ".join(f"{s} SI-SDRi" for s in sources) + " | mean SI-SDRi | mean SI-SDR |")
    lines.append("|---|" + "---|" * (len(sources) + 2))
    labels = {"model": "Cantor model", "irm": "oracle IRM (ceiling)", "ibm": "oracle IBM"}
    for key, label in labels.items():
        gains = result["si_sdri"][key]
        lines.append(
            f"| {label} | "
            + " | ".join(f"{g:.1f}" for g in gains)
            + f" | **{np.mean(gains):.1f}** | {np.mean(result['si_sdr'][key]):.1f} |"
        )
    if result.get("hpss_drums_si_sdri") is not None:
        cells = [f"{result['hpss_drums_si_sdri']:.1f}" if s == "drums" else "—" for s in sources]
        lines.append("| HPSS percussive (classical, drums only) | " + " | ".join(cells) + " | — | — |")
    share = np.mean(result["si_sdri"]["model"]) / np.mean(result["si_sdri"]["irm"])
    lines.append(f"\nModel reaches {share:.0%} of the oracle IRM's mean SI-SDRi; ")
    lines[-1] += f"separation ran at {result['real_time_factor']:.0f}× real time on this machine."
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="band")
    parser.add_argument("--test", type=Path, required=True, help="data folder whose test split is in-domain")
    parser.add_argument("--unseen", type=Path, help="data folder rendered with a soundfont not used in training")
    parser.add_argument("--songs", type=int, default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    separator = Separator(args.model)
    results = {"in-domain test split": evaluate(args.test, separator, args.songs)}
    if args.unseen:
        results["unseen soundfont (TimGM6mb), same test compositions"] = evaluate(args.unseen, separator, args.songs)
    lines = [header(f"Separation: `{separator.name}` ({', '.join(separator.sources)})")]
    lines.append(f"- model folder: `{separator.folder}`; training step {separator.metadata.get('step', '?')}")
    lines.append(f"- torch threads: {args.threads}; songs scored whole (30 s), medians over songs")
    for title, result in results.items():
        lines += table(title, result, separator.sources)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
