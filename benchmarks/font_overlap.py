"""Which soundfonts share samples? A held-out test font is only unseen if no training font plays the same recordings.

    .venv/bin/python benchmarks/font_overlap.py --out benchmarks/results/font-overlap.md

Every GM program (three notes) and the drum kit (six hits) is rendered in each font; two fonts play a program
"identically" where the two renders' waveforms correlate above 0.99 (the same sample, or one resampled at the same
pitch), "closely" above 0.8. Unrelated recordings of one instrument correlate near 0: their phases differ. Not a
test.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np
from _report import header

from cantor.data.render import FluidRenderer, NoteEvent, default_soundfonts, timgm6mb_soundfont

RATE = 22050
NOTES = [NoteEvent(0.1, 0.8, 60, 100), NoteEvent(0.9, 1.6, 67, 100), NoteEvent(1.7, 2.4, 48, 90)]
DRUM_HITS = [NoteEvent(0.1 + 0.3 * i, 0.3 + 0.3 * i, pitch, 100) for i, pitch in enumerate([35, 38, 42, 46, 49, 51])]
IDENTICAL, CLOSE = 0.99, 0.8


def renders(renderer: FluidRenderer, font: Path) -> list[np.ndarray]:
    """The 128 programs' renders, then the drum kit's, each mono."""
    samples = int(2.6 * RATE)
    out = [
        np.asarray(renderer.render(NOTES, soundfont=font, program=p, is_drum=False, num_samples=samples).audio)
        for p in range(128)
    ]
    out.append(
        np.asarray(renderer.render(DRUM_HITS, soundfont=font, program=0, is_drum=True, num_samples=samples).audio)
    )
    return [audio.mean(axis=0) for audio in out]


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


def shared_programs(font_a: Path, font_b: Path, *, threshold: float = CLOSE) -> set[int]:
    """GM programs (0–127; 128 for the drum kit) that two fonts render alike: correlation above ``threshold``."""
    renderer = FluidRenderer([font_a, font_b], sample_rate=RATE)
    pairs = zip(renders(renderer, font_a), renders(renderer, font_b), strict=True)
    return {program for program, (a, b) in enumerate(pairs) if correlation(a, b) > threshold}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/font-overlap.md"))
    args = parser.parse_args()
    fonts = [*default_soundfonts(), timgm6mb_soundfont()]
    renderer = FluidRenderer(fonts, sample_rate=RATE)
    rendered = {font.name: renders(renderer, font) for font in fonts}
    lines = [header("Soundfonts that share samples"), ""]
    lines.append(
        f"{len(NOTES)} notes of each of the 128 GM programs and {len(DRUM_HITS)} drum hits per font at {RATE} Hz; "
        f"a program counts as identical where the two renders correlate above {IDENTICAL}, close above {CLOSE}."
    )
    lines += ["", "| font A | font B | programs identical | programs close | drum kit correlation | median |"]
    lines.append("|---|---|---|---|---|---|")
    shared = {}
    for a, b in itertools.combinations(rendered, 2):
        values = [correlation(x, y) for x, y in zip(rendered[a], rendered[b], strict=True)]
        programs = np.array(values[:128])
        identical = [int(p) for p in np.flatnonzero(programs > IDENTICAL)]
        close = int(np.sum((programs > CLOSE) & (programs <= IDENTICAL)))
        shared[(a, b)] = identical
        lines.append(
            f"| {a} | {b} | {len(identical)} | {close} | {values[128]:.2f} | {float(np.median(programs)):.2f} |"
        )
    for (a, b), identical in shared.items():
        if len(identical) >= 16:
            lines.append(f"\n{a} and {b} play these programs identically: {', '.join(map(str, identical))}.")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print(f"→ {args.out}")


if __name__ == "__main__":
    main()
