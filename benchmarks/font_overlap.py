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

from cantor.data.render import FluidRenderer, NoteEvent, default_soundfonts, resolve_soundfont, timgm6mb_soundfont

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


class SharedPrograms:
    """Which stems to leave out because their font renders their program alike with a training font."""

    def __init__(self, training_font: str | None) -> None:
        self.training_font = resolve_soundfont(training_font) if training_font else None
        self.shared: dict[str, set[int]] = {}
        self.skipped = 0

    def skips(self, font: str, program: int) -> bool:
        if self.training_font is None:
            return False
        if font not in self.shared:
            self.shared[font] = shared_programs(resolve_soundfont(font), self.training_font)
        skip = program in self.shared[font]
        self.skipped += skip
        return skip

    def describe(self) -> str:
        fonts = "; ".join(f"{font}: {len(programs)} of 129 programs" for font, programs in self.shared.items())
        return (
            f"{self.skipped} stems whose program their font renders alike with {self.training_font.name} "
            f"(a training font; {fonts}, the drum kit counted as one)"
        )


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
