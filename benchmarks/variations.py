"""Audio-variations benchmark: the stem TCN-VAE's variations against a naive one (noise added to the mel). Not a test.

    .venv/bin/python benchmarks/variations.py --set in-domain=/work/data/band/valid \
        --set unseen-soundfont=/work/data/band-timgm/test --out benchmarks/results/variations.md

For every song of each set (up to ``--songs``) and each of its stems that sounds, a ``--seconds`` excerpt is taken
(the true stem, so separation errors are not counted here). Measured per excerpt:

- how much the stem VAE keeps: the log-mel distance of its reconstruction (strength 0, voiced by the vocoder) from
  the source, beside the vocoder alone resynthesising the source (the floor every variation stands on);
- for variations at each ``--strength``: distance from the source, distance between two variations (diversity),
  and whether the stem's character survives: the instrument family the shipped classifier hears (same as in the
  source?) and the cosine similarity of the chroma (pitch-class energy, from the CQT) with the source's;
- the naive baseline at the *same* mel distance: smoothed Gaussian noise added to the source's log-mel and voiced
  by the same vocoder; and, for scale, the same stem of another song of the set (a different piece on the same
  kind of instrument).

Speed: seconds per second of variation audio (one excerpt, four variations, ``--threads`` threads).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from cantor.audio.io import load
from cantor.features.cqt import cqt_magnitude
from cantor.inference.analyze import Analyzer
from cantor.inference.variations import Variations

sys.path.insert(0, str(Path(__file__).parent))
from _report import header

STEMS = ("melody", "bass", "other", "drums")


def excerpts(folder: Path, songs: int, seconds: float, rate: int) -> list[tuple[str, str, np.ndarray]]:
    """(song, stem, mono excerpt) for every sounding stem of the first ``songs`` songs, from the loudest window."""
    found = []
    for song in sorted(path for path in folder.iterdir() if path.is_dir())[:songs]:
        for stem in STEMS:
            path = song / f"{stem}.wav"
            if not path.is_file():
                continue
            audio, _ = load(path, sample_rate=rate, mono=True)
            audio = audio[0].numpy()
            length = int(seconds * rate)
            if len(audio) < length:
                continue
            starts = range(0, len(audio) - length + 1, rate)
            start = max(starts, key=lambda s: float(np.mean(audio[s : s + length] ** 2)))
            clip = audio[start : start + length]
            if np.sqrt(np.mean(clip**2)) > 1e-3:
                found.append((song.name, stem, clip))
    return found


def character(analyzer: Analyzer, audio: np.ndarray, rate: int) -> tuple[str, np.ndarray]:
    """The instrument family the shipped classifier hears, and the pitch-class energy profile (12, unit length),
    both from one constant-Q spectrogram."""
    cqt = cqt_magnitude(audio, rate, analyzer.cqt_config)
    family = analyzer.classify(cqt)[0]
    per_semitone = cqt.reshape(analyzer.cqt_config.semitones, analyzer.cqt_config.bins_per_semitone, -1).sum((1, 2))
    profile = np.zeros(12)
    for semitone, energy in enumerate(per_semitone):
        profile[(analyzer.cqt_config.lowest_midi + semitone) % 12] += energy
    return family, profile / max(np.linalg.norm(profile), 1e-12)


def mel_distance(engine: Variations, a: np.ndarray, b: np.ndarray) -> float:
    return float((engine.vocoder.mel(torch.from_numpy(a)) - engine.vocoder.mel(torch.from_numpy(b))).abs().mean())


def noisy_mel_variation(engine: Variations, source: np.ndarray, distance: float, seed: int) -> np.ndarray:
    """The naive variation: the source's log-mel plus noise (smoothed over the stem VAE's latent frame, so both
    unfold on the same time scale), voiced by the vocoder; the noise is scaled (three secant steps) until the voiced
    audio is ``distance`` from the source, as measured for the VAE's variation."""
    mel = engine.vocoder.mel(torch.from_numpy(source))
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(mel.shape, generator=generator)
    width = engine.config.stride
    noise = torch.nn.functional.conv1d(noise[:, None], torch.ones(1, 1, width) / math.sqrt(width), padding="same")[:, 0]
    scale = distance / float(noise.abs().mean())
    for _ in range(3):
        audio = engine.vocoder.decode(mel + scale * noise, length=len(source)).numpy()
        scale *= distance / max(mel_distance(engine, audio, source), 1e-6)
    return engine.vocoder.decode(mel + scale * noise, length=len(source)).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", action="append", required=True, help="NAME=FOLDER of songs with stem WAVs")
    parser.add_argument("--model", default="stem-vae")
    parser.add_argument("--songs", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--strength", type=float, action="append", help="repeatable (default 2, 4 and 8)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    strengths = args.strength or [2.0, 4.0, 8.0]
    engine = Variations(args.model)
    analyzer = Analyzer()
    rate = engine.sample_rate

    results: dict = {
        "model": str(engine.folder),
        "step": engine.metadata.get("step"),
        "sets": {},
        "strengths": strengths,
    }
    for entry in args.set:
        name, folder = entry.split("=", 1)
        clips = excerpts(Path(folder), args.songs, args.seconds, rate)
        print(f"{name}: {len(clips)} excerpts", file=sys.stderr)
        rows: dict[str, list[float]] = defaultdict(list)
        by_stem = defaultdict(list)
        for song, stem, clip in clips:
            by_stem[stem].append((song, clip))
        for index, (song, stem, clip) in enumerate(clips):
            source_family, source_chroma = character(analyzer, clip, rate)
            resynthesis = engine.vocoder.resynthesize(torch.from_numpy(clip), rate).numpy()
            rows["vocoder_distance"].append(mel_distance(engine, resynthesis, clip))
            heard, profile = character(analyzer, resynthesis, rate)
            rows["vocoder_family"].append(float(heard == source_family))
            rows["vocoder_chroma"].append(float(profile @ source_chroma))
            for strength in [0.0, *strengths]:
                result = engine.vary(clip, rate, n=2, strength=strength, seed=index)
                key = f"s{strength:g}"
                audio = result.reconstruction if strength == 0 else result.variations[0]
                distance = mel_distance(engine, audio, clip)
                rows[f"{key}_distance"].append(distance)
                heard, profile = character(analyzer, audio, rate)
                rows[f"{key}_family"].append(float(heard == source_family))
                rows[f"{key}_chroma"].append(float(profile @ source_chroma))
                if strength == 0:
                    continue
                rows[f"{key}_diversity"].append(mel_distance(engine, result.variations[0], result.variations[1]))
                naive = noisy_mel_variation(engine, clip, distance, seed=index)
                rows[f"{key}_naive_distance"].append(mel_distance(engine, naive, clip))
                heard, profile = character(analyzer, naive, rate)
                rows[f"{key}_naive_family"].append(float(heard == source_family))
                rows[f"{key}_naive_chroma"].append(float(profile @ source_chroma))
            others = [other for other_song, other in by_stem[stem] if other_song != song]
            if others:
                other = others[index % len(others)]
                rows["other_song_distance"].append(mel_distance(engine, other, clip))
                heard, profile = character(analyzer, other, rate)
                rows["other_song_family"].append(float(heard == source_family))
                rows["other_song_chroma"].append(float(profile @ source_chroma))
            print(f"  {index + 1}/{len(clips)} {song} {stem}", file=sys.stderr)
        results["sets"][name] = {
            "folder": folder,
            "excerpts": len(clips),
            "stems": {stem: len(items) for stem, items in by_stem.items()},
            "means": {key: statistics.fmean(values) for key, values in rows.items()},
        }

    clip = excerpts(Path(args.set[0].split("=", 1)[1]), 1, 10.0, rate)[0][2]
    engine.vary(clip, rate, n=4, seed=0)
    timings = []
    for repeat in range(3):
        started = time.perf_counter()
        engine.vary(clip, rate, n=4, seed=repeat)
        timings.append(time.perf_counter() - started)
    results["seconds_per_second"] = statistics.median(timings) / (4 * 10.0)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=2))
    args.out.write_text(report(args, engine, results))
    print(f"wrote {args.out}", file=sys.stderr)


def report(args, engine: Variations, results: dict) -> str:
    lines = [header("Audio variations: the stem TCN-VAE against noise on the mel")]
    lines.append(
        f"- model: `{engine.folder.name}` (step {results['step']}), voiced by the `{engine.vocoder.name}` vocoder; "
        f"excerpts of {args.seconds:g} s of the true stems (no separation), up to {args.songs} songs per set"
    )
    lines.append(
        "- distance: mean absolute log-mel difference from the source (nats); family: share of excerpts where the "
        "shipped classifier hears the source's instrument family; chroma: cosine similarity of pitch-class energy "
        "with the source's"
    )
    for name, entry in results["sets"].items():
        means = entry["means"]
        stems = ", ".join(f"{stem} {count}" for stem, count in entry["stems"].items())
        lines.append(f"\n### {name} (`{entry['folder']}`: {entry['excerpts']} excerpts — {stems})\n")
        lines.append("| audio | distance from source | diversity (between two) | same family | chroma similarity |")
        lines.append("|---|---|---|---|---|")
        lines.append(
            f"| vocoder resynthesis of the source | {means['vocoder_distance']:.3f} | – "
            f"| {means['vocoder_family']:.0%} | {means['vocoder_chroma']:.3f} |"
        )
        lines.append(
            f"| stem VAE reconstruction (strength 0) | {means['s0_distance']:.3f} | – | {means['s0_family']:.0%} "
            f"| {means['s0_chroma']:.3f} |"
        )
        for strength in results["strengths"]:
            key = f"s{strength:g}"
            lines.append(
                f"| **stem VAE variation, strength {strength:g}** | {means[f'{key}_distance']:.3f} "
                f"| {means[f'{key}_diversity']:.3f} | {means[f'{key}_family']:.0%} | {means[f'{key}_chroma']:.3f} |"
            )
            lines.append(
                f"| noise on the mel, scaled towards that distance | {means[f'{key}_naive_distance']:.3f} | – "
                f"| {means[f'{key}_naive_family']:.0%} | {means[f'{key}_naive_chroma']:.3f} |"
            )
        if "other_song_distance" in means:
            lines.append(
                f"| the same stem of another song | {means['other_song_distance']:.3f} | – "
                f"| {means['other_song_family']:.0%} | {means['other_song_chroma']:.3f} |"
            )
    lines.append(
        f"\nSpeed: {results['seconds_per_second']:.3f} s per second of variation audio "
        f"({1 / results['seconds_per_second']:.0f}× real time; four variations of a 10 s excerpt, {args.threads} "
        "threads, encoding and vocoding included)."
    )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
