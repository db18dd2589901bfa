"""Separation benchmark: SI-SDR improvement per source on held-out songs, in-domain and with an unseen soundfont,
beside the oracle masks (the ceiling) and speed. Not a test.

    .venv/bin/python benchmarks/separation.py --model band --test data/band --unseen data/band-timgm \
        [--model runs/band-small-lstm/best …] [--wiener 1] [--peer "Open-Unmix=runs/peer-umx-band" …] \
        --out benchmarks/results/separation-band.md

Songs are scored whole (30 s, stereo folded into one signal): SI-SDR of the estimate and SI-SDRi over using the
mixture itself as the estimate; medians over songs. ``--model`` may repeat (the shipped model and its ablations);
``--peer`` adds models trained by ``benchmarks/peers.py`` (Open-Unmix, Conv-TasNet) on the same data and CPU budget.
HPSS's percussive part is the classical baseline for drums; the oracle masks are the ceiling. ``--museval N``
adds BSSEval v4 SDR (museval: 1-s windows, median over windows, then over songs) on the first N songs of each set
for the shipped model, the peers and the IRM (about 25 s per song and system, so not for every row).
``--unseen`` may repeat: each set's title says what it was rendered with (its ``build.json``), e.g. an unseen
soundfont, or the training fonts with drums from a recorded kit (``cantor data build --drum-soundfont``).
``--skip-shared-with sf_GMbank`` adds, for each set in an unseen font, the scores of only those sources whose
program the unseen font renders unlike that training font (``benchmarks/font_overlap.py``): the sources whose sound
no training stem had. The rest of the mixture is unchanged, so it measures separating a new sound out of a
half-familiar mix.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path

import librosa
import numpy as np
import torch

from cantor.data.dataset import MultitrackDataset
from cantor.data.render import default_soundfonts
from cantor.data.stems import read_song_labels
from cantor.features.stft import ISTFT, STFT, STFTConfig
from cantor.inference.precision import PRECISIONS
from cantor.inference.separate import Separator
from cantor.metrics.sdr import si_sdr_improvement, si_sdr_tracks

sys.path.insert(0, str(Path(__file__).parent))
from _report import header
from font_overlap import SharedPrograms
from peers import load_peer, separate_with_peer

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


Separate = Callable[[torch.Tensor], torch.Tensor]  # mixture [channels, time] → [sources, channels, time]


def bss_eval_sdr(estimate: torch.Tensor, references: torch.Tensor) -> list[float]:
    """BSSEval v4 SDR per source (museval, 1-s windows, median over windows) of ``[S, C, T]`` at 44.1 kHz."""
    sys.modules.setdefault("musdb", types.ModuleType("musdb"))  # museval imports it for I/O the benchmark never uses
    from museval.metrics import bss_eval

    sdr = bss_eval(
        references.transpose(1, 2).numpy().astype(np.float64),
        estimate.transpose(1, 2).numpy().astype(np.float64),
        window=44100,
        hop=44100,
        compute_permutation=False,
        filters_len=512,
        framewise_filters=False,
        bsseval_sources_version=False,
    )[0]
    return [float(np.nanmedian(row)) for row in sdr]


def evaluate(
    root: Path,
    systems: dict[str, Separate],
    sources: tuple[str, ...],
    limit: int | None,
    *,
    museval_songs: int = 0,
    museval_systems: tuple[str, ...] = (),
    shared: SharedPrograms | None = None,
    split: str = "test",
) -> dict:
    """Score every system (and the oracles, and HPSS for drums) on ``split`` of ``root``, songs whole; with
    ``shared``, also each source's median over only the songs where its sound is new (``si_sdri_unshared``)."""
    dataset = MultitrackDataset(root, split=split, sources=sources, segment_seconds=None, sample_rate=44100)
    count = min(len(dataset), limit or len(dataset))
    labels = [*systems, "oracle IRM (ceiling)", "oracle IBM"]
    scores = {name: [] for name in labels}
    improvements = {name: [] for name in labels}
    seconds = dict.fromkeys(systems, 0.0)
    drums = sources.index("drums") if "drums" in sources else None
    hpss_drums = []
    bss_sdr: dict[str, list[list[float]]] = {name: [] for name in (*museval_systems, "oracle IRM (ceiling)")}
    audio_seconds = 0.0
    new_sound = []  # per song, per source: True where no training font renders its program alike
    for index in range(count):
        mixture, references = dataset[index]
        if shared is not None:
            labels_by_name = {
                label.name: label for label in read_song_labels(dataset.songs[index].files["mixture"].parent)
            }
            new_sound.append(
                [not shared.skips(labels_by_name[s].soundfont, labels_by_name[s].program_label) for s in sources]
            )
        audio_seconds += mixture.shape[-1] / 44100
        estimates = {}
        for label, separate in systems.items():
            start = time.perf_counter()
            estimates[label] = separate(mixture)
            seconds[label] += time.perf_counter() - start
        estimates["oracle IRM (ceiling)"] = oracle(mixture, references, binary=False)
        estimates["oracle IBM"] = oracle(mixture, references, binary=True)
        for label, estimate in estimates.items():
            scores[label].append(si_sdr_tracks(estimate, references))
            improvements[label].append(si_sdr_improvement(estimate, references, mixture))
            if index < museval_songs and label in bss_sdr:
                bss_sdr[label].append(bss_eval_sdr(estimate, references))
        if drums is not None:
            estimate = hpss_percussive(mixture)[None]
            hpss_drums.append(si_sdr_improvement(estimate, references[drums : drums + 1], mixture)[0].item())
        print(f"{root.name}: song {index + 1}/{count}", file=sys.stderr)
    unshared = {}
    if new_sound:
        keep = torch.tensor(new_sound)  # (songs, sources)
        for label, values in improvements.items():
            gains = torch.stack(values).masked_fill(~keep, float("nan"))
            unshared[label] = [float(g) if torch.isfinite(g) else None for g in gains.nanmedian(dim=0).values]
    return {
        "songs": count,
        "unshared_counts": [int(c) for c in torch.tensor(new_sound).sum(dim=0)] if new_sound else None,
        "si_sdri_unshared": unshared,
        "hpss_drums_si_sdri": float(np.median(hpss_drums)) if hpss_drums else None,
        "si_sdr": {k: torch.stack(v).median(dim=0).values.tolist() for k, v in scores.items()},
        "si_sdri": {k: torch.stack(v).median(dim=0).values.tolist() for k, v in improvements.items()},
        "real_time_factor": {k: audio_seconds / v for k, v in seconds.items()},
        "museval_songs": min(museval_songs, count),
        "museval_sdr": {k: np.median(v, axis=0).tolist() for k, v in bss_sdr.items() if v},
    }


def table(title: str, result: dict, sources: tuple[str, ...]) -> list[str]:
    lines = [f"\n### {title} ({result['songs']} songs)\n"]
    lines.append(
        "| estimate | " + " | ".join(f"{s} SI-SDRi" for s in sources) + " | mean SI-SDRi | mean SI-SDR | × real time |"
    )
    lines.append("|---|" + "---|" * (len(sources) + 3))
    for label, gains in result["si_sdri"].items():
        speed = result["real_time_factor"].get(label)
        lines.append(
            f"| {label} | "
            + " | ".join(f"{g:.1f}" for g in gains)
            + f" | **{np.mean(gains):.1f}** | {np.mean(result['si_sdr'][label]):.1f} | "
            + (f"{speed:.1f} |" if speed else "— |")
        )
    if result.get("hpss_drums_si_sdri") is not None:
        cells = [f"{result['hpss_drums_si_sdri']:.1f}" if s == "drums" else "—" for s in sources]
        lines.append("| HPSS percussive (classical, drums only) | " + " | ".join(cells) + " | — | — | — |")
    if result.get("museval_sdr"):
        lines.append(f"\nBSSEval v4 SDR (museval; median of 1-s windows, median of {result['museval_songs']} songs):\n")
        lines.append("| estimate | " + " | ".join(f"{s} SDR" for s in sources) + " | mean SDR |")
        lines.append("|---|" + "---|" * (len(sources) + 1))
        for label, values in result["museval_sdr"].items():
            lines.append(f"| {label} | " + " | ".join(f"{v:.1f}" for v in values) + f" | **{np.mean(values):.1f}** |")
    if result.get("si_sdri_unshared"):
        counts = result["unshared_counts"]
        lines.append(
            "\nOnly the sources whose program this font renders unlike the training font named (a sound no training "
            "stem had); medians over those songs, mean over the sources with any:\n"
        )
        lines.append(
            "| estimate | "
            + " | ".join(f"{s} SI-SDRi (n={n})" for s, n in zip(sources, counts, strict=True))
            + " | mean |"
        )
        lines.append("|---|" + "---|" * (len(sources) + 1))
        for label, gains in result["si_sdri_unshared"].items():
            present = [g for g in gains if g is not None]
            cells = " | ".join("—" if g is None else f"{g:.1f}" for g in gains)
            lines.append(
                f"| {label} | {cells} | **{np.mean(present):.1f}** |" if present else f"| {label} | {cells} | — |"
            )
    ceiling = np.mean(result["si_sdri"]["oracle IRM (ceiling)"])
    shares = [f"{label} {np.mean(result['si_sdri'][label]) / ceiling:.0%}" for label in result["real_time_factor"]]
    lines.append(f"\nShare of the oracle IRM's mean SI-SDRi: {'; '.join(shares)}.")
    return lines


def describe_unseen_set(folder: Path) -> tuple[str, bool]:
    """A held-out set's title from its ``build.json`` (what it was rendered with), and whether its pitched stems
    are in a font other than the training fonts."""
    build = json.loads((folder / "build.json").read_text())
    fonts, drum_fonts = build["soundfonts"], build.get("drum_soundfonts", [])
    training = {font.name for font in default_soundfonts()}
    unseen_font = not training & set(fonts)
    if unseen_font:
        title = f"unseen soundfont ({', '.join(Path(font).stem for font in fonts)})"
    else:
        title = "training soundfonts"
    if drum_fonts:
        title += f", drums from {', '.join(Path(font).stem for font in drum_fonts)}"
    return title, unseen_font


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help="Cantor separator (shipped name or folder); repeatable")
    parser.add_argument(
        "--wiener",
        type=int,
        action="append",
        default=[],
        help="also the first model (and Open-Unmix, whose usual inference has it) with N Wiener iterations",
    )
    parser.add_argument(
        "--precision",
        action="append",
        choices=PRECISIONS,
        help="precision of the Cantor models (default auto); repeat to add rows for the first model at the others",
    )
    parser.add_argument("--peer", action="append", default=[], help="LABEL=FOLDER written by benchmarks/peers.py")
    parser.add_argument("--test", type=Path, required=True, help="in-domain data folder (its --split is scored)")
    parser.add_argument(
        "--unseen",
        type=Path,
        action="append",
        default=[],
        help="data folder of the same compositions in sounds not used in training (an unseen soundfont, or recorded "
        "drum kits: --drum-soundfont); repeatable",
    )
    parser.add_argument("--split", default="test", help="the split scored (valid: to choose between candidates)")
    parser.add_argument("--songs", type=int, default=None)
    parser.add_argument("--museval", type=int, default=0, help="BSSEval v4 SDR on the first N songs of each set")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--skip-shared-with", metavar="FONT", help="unseen set: also score only sources whose sound FONT lacks"
    )
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    models = args.model or ["band"]
    precisions = args.precision or ["auto"]
    separators = [Separator(model, precision=precisions[0]) for model in models]
    separators += [Separator(models[0], precision=p) for p in precisions[1:]]
    separators += [Separator(models[0], wiener_iterations=n, precision=precisions[0]) for n in args.wiener]
    sources = separators[0].sources
    systems: dict[str, Separate] = {}
    details = []
    for separator in separators:
        if separator.sources != sources:
            raise SystemExit(f"{separator.name} separates {separator.sources}, not {sources}")
        label = f"Cantor `{separator.name}`"
        if len(precisions) > 1:
            label += f" ({separator.precision})"
        if separator.wiener_iterations:
            label += f" + Wiener ({separator.wiener_iterations})"
        systems[label] = lambda mix, s=separator: torch.stack(list(s.separate(mix, 44100).values()))
        details.append(
            f"- {label}: `{separator.folder}`, step {separator.metadata.get('step', '?')}, "
            f"{separator.metadata.get('parameters', 0) / 1e6:.1f} M parameters, {separator.precision}"
        )
    for spec in args.peer:
        label, folder = spec.split("=", 1)
        model, info = load_peer(Path(folder))
        if tuple(info["sources"]) != sources:
            raise SystemExit(f"peer {label} separates {info['sources']}, not {sources}")
        systems[label] = lambda mix, m=model: separate_with_peer(m, mix)
        for iterations in args.wiener if info["peer"] == "umx" else ():
            systems[f"{label} + Wiener ({iterations})"] = lambda mix, m=model, n=iterations: separate_with_peer(
                m, mix, wiener_iterations=n
            )
        details.append(
            f"- {label}: {info['peer']}, {info['step']} steps in {info['cpu_seconds'] / 3600:.2f} "
            f"CPU-hours, {info['parameters'] / 1e6:.1f} M parameters (`{info['command']}`)"
        )
    # museval for the first (shipped) model and the peers: the ablations and post-filters are compared by SI-SDR
    peers = tuple(spec.split("=", 1)[0] for spec in args.peer)
    museval = {"museval_songs": args.museval, "museval_systems": (next(iter(systems)), *peers)}
    split = args.split
    results = {f"in-domain {split} split": evaluate(args.test, systems, sources, args.songs, **museval, split=split)}
    for folder in args.unseen:
        title, unseen_font = describe_unseen_set(folder)
        # "Truly unseen" sources only make sense where the pitched stems are in an unseen font.
        shared = SharedPrograms(args.skip_shared_with) if args.skip_shared_with and unseen_font else None
        results[f"{title}, same {split} compositions"] = evaluate(
            folder, systems, sources, args.songs, **museval, shared=shared, split=split
        )
    lines = [header(f"Separation: {', '.join(sources)}"), *details]
    lines.append(f"- torch threads: {args.threads}; songs scored whole (30 s), medians over songs")
    for title, result in results.items():
        lines += table(title, result, sources)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
