"""Re-make the bundled example: one 30-second test-split `band` song, stems and notes, FLAC, under 5 MB.

    .venv/bin/python examples/make_example.py --seed 11 -- --no-effects

It builds two songs with ``cantor data build`` (song 1 is the first test-split song), re-quantises the stems to
16-bit, recomputes the mixture as the exact sum of the 16-bit stems, and writes ``examples/band-example/``.
Five stereo 30-second tracks fit in 5 MB only as 16-bit FLAC of a song without the reverb tails of the effects
chain (with effects the songs measured 6.5–9.8 MB), hence ``--no-effects``; seed 11 gives a rock song.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile

from cantor.files import write_json_atomic

STEMS = ("drums", "bass", "melody", "other")
HERE = Path(__file__).parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--work", type=Path, default=Path("build/example"))
    parser.add_argument("--out", type=Path, default=HERE / "band-example")
    parser.add_argument("build_options", nargs="*", help="more options for cantor data build")
    args = parser.parse_args()

    command = [sys.executable, "-m", "cantor.cli.main", "data", "build", "--preset", "band", "--songs", "2"]
    command += ["--seconds", "30", "--seed", str(args.seed), "--out", str(args.work), "--format", "flac"]
    command += args.build_options
    subprocess.run(command, check=True)
    (song,) = sorted((args.work / "test").iterdir())
    record = json.loads((song / "song.json").read_text())

    grid = 2.0**15
    stems = {}
    for name in STEMS:
        audio, rate = soundfile.read(song / f"{name}.flac", dtype="float64")
        stems[name] = np.round(audio * grid) / grid
    mixture = sum(stems.values())
    if np.abs(mixture).max() >= 1.0:
        raise SystemExit("mixture clips at 16 bits; pick another seed")

    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    for name, audio in {"mixture": mixture, **stems}.items():
        soundfile.write(args.out / f"{name}.flac", audio, rate, subtype="PCM_16", compression_level=1.0)
    shutil.copy(song / "notes.mid", args.out / "notes.mid")
    record["example"] = {
        "made_with": " ".join(["examples/make_example.py", "--seed", str(args.seed), "--", *args.build_options]),
        "note": "rendered without effects and re-quantised to 16-bit (to fit 5 MB); mixture = exact sum of stems",
    }
    write_json_atomic(args.out / "song.json", record)
    size = sum(p.stat().st_size for p in args.out.iterdir())
    print(f"{args.out}: {record['name']} ({record['style']}, {record['tempo_bpm']} bpm), {size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
