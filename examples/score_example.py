"""Score separated stems of the bundled example against its true stems (used by `make demo`).

.venv/bin/python examples/score_example.py build/demo-separated/band/mixture
"""

from __future__ import annotations

import sys
from pathlib import Path

import soundfile
import torch

from cantor.metrics import si_sdr_improvement, si_sdr_tracks

EXAMPLE = Path(__file__).parent / "band-example"
STEMS = ("drums", "bass", "melody", "other")


def main() -> None:
    separated = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("build/demo-separated/band/mixture")
    missing = [s for s in STEMS if not (separated / f"{s}.wav").is_file()]
    if missing:
        raise SystemExit(f"{separated}: missing {', '.join(missing)}; run 'cantor separate' first")

    def read(path: Path) -> torch.Tensor:
        return torch.from_numpy(soundfile.read(path, dtype="float32", always_2d=True)[0].T.copy())

    mixture = read(EXAMPLE / "mixture.flac")
    truth = torch.stack([read(EXAMPLE / f"{s}.flac") for s in STEMS])
    estimates = torch.stack([read(separated / f"{s}.wav") for s in STEMS])
    scores = si_sdr_tracks(estimates, truth)
    gains = si_sdr_improvement(estimates, truth, mixture)
    print(f"{'stem':8} {'SI-SDR':>8} {'SI-SDRi':>8}")
    for name, score, gain in zip(STEMS, scores.tolist(), gains.tolist(), strict=True):
        print(f"{name:8} {score:8.1f} {gain:8.1f}")
    print(f"{'mean':8} {scores.mean():8.1f} {gains.mean():8.1f}   (dB; the example's song was never trained on)")


if __name__ == "__main__":
    main()
