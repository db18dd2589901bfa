"""Peak memory (RSS) and speed of `cantor separate` / `cantor vocode` / `cantor analyze` on 1-, 10- and 60-minute
inputs: memory must stay flat in the input's duration (and under 1 GB). Not a test.

    .venv/bin/python benchmarks/long_file.py --out benchmarks/results/long_file.md
    .venv/bin/python benchmarks/long_file.py --minutes 1 5 --tasks "analyze band" --out /tmp/quick.md

Each input is the bundled example's mixture tiled to the given length (44.1 kHz stereo WAV, written to a temporary
folder); each command runs in its own process, whose peak resident set size the kernel reports when it exits.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import soundfile

sys.path.insert(0, str(Path(__file__).parent))
from _report import header

EXAMPLE = Path(__file__).parent.parent / "examples" / "band-example" / "mixture.flac"


def write_long_input(path: Path, minutes: float) -> None:
    audio, rate = soundfile.read(EXAMPLE, dtype="float32", always_2d=True)
    frames = int(minutes * 60 * rate)
    with soundfile.SoundFile(path, "w", samplerate=rate, channels=audio.shape[1], subtype="FLOAT") as out:
        written = 0
        while written < frames:
            block = audio[: frames - written]
            out.write(block)
            written += block.shape[0]


def peak_rss_of(command: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MiB) of a child process; RUSAGE_CHILDREN's max is the largest child so far, so
    each measurement runs in a fresh helper process."""
    probe = (
        "import resource, subprocess, sys, time; s = time.perf_counter(); "
        "r = subprocess.run(sys.argv[1:]); w = time.perf_counter() - s; "
        "print(w, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(r.returncode)"
    )
    result = subprocess.run([sys.executable, "-c", probe, *command], capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr[-2000:]}")
    wall, kib = result.stdout.split()[-2:]
    return float(wall), int(kib) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, nargs="+", default=[1, 10, 60])
    parser.add_argument(
        "--tasks",
        nargs="+",
        default=["separate band", "vocode gan", "analyze band"],
        help='"VERB MODEL [OPTIONS…]", e.g. "separate band --precision fp32"',
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--include", type=Path, help="Rows of an earlier run's JSON to put first in the table (tasks run apart)."
    )
    args = parser.parse_args()
    cantor = [sys.executable, "-m", "cantor.cli.main"]
    rows = json.loads(args.include.read_text()) if args.include else []
    with tempfile.TemporaryDirectory() as tmp:
        for minutes in args.minutes:
            source = Path(tmp) / f"long-{minutes:g}min.wav"
            write_long_input(source, minutes)
            for task in args.tasks:
                verb, model, *options = task.split()  # e.g. "separate band --precision fp32"
                out = Path(tmp) / f"out-{verb}-{minutes:g}"
                if verb in ("separate", "analyze"):
                    command = [*cantor, verb, str(source), "-o", str(out), "-m", model]
                else:
                    command = [*cantor, "vocode", str(source), "-o", str(out) + ".wav", "-m", model]
                wall, rss = peak_rss_of([*command, *options, "--threads", str(args.threads)])
                rows.append(
                    {
                        "task": task,
                        "minutes": minutes,
                        "wall_s": wall,
                        "peak_rss_mib": rss,
                        "realtime": minutes * 60 / wall,
                    }
                )
                print(rows[-1], file=sys.stderr)
                for leftover in Path(tmp).glob("out-*"):
                    subprocess.run(["rm", "-rf", str(leftover)], check=True)
            source.unlink()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(rows, indent=2) + "\n")
    lines = [header("Peak memory and speed on long inputs"), ""]
    lines += [
        f"`cantor {' / '.join(dict.fromkeys(row['task'].split()[0] for row in rows))}` on the bundled mixture tiled to "
        "each length (44.1 kHz stereo "
        f"float WAV), {args.threads} threads, whole command (start-up and writing included).",
        "",
    ]
    lines += ["| task | input | wall time | × real time | peak RSS |", "|---|---|---|---|---|"]
    for row in rows:
        lines.append(
            f"| `{row['task']}` | {row['minutes']:g} min | {row['wall_s']:.0f} s | {row['realtime']:.1f} | "
            f"{row['peak_rss_mib']:.0f} MiB |"
        )
    lines += ["", "Growth of peak RSS from the shortest to the longest input, per task:", ""]
    for task in dict.fromkeys(row["task"] for row in rows):
        peaks = [row["peak_rss_mib"] for row in rows if row["task"] == task]
        verdict = "flat" if max(peaks) - peaks[0] < 100 and max(peaks) <= 1024 else "NOT flat or over 1 GiB"
        lines.append(f"- `{task}`: {peaks[0]:.0f} → {peaks[-1]:.0f} MiB (max {max(peaks):.0f}): {verdict}")
    args.out.write_text("\n".join(lines) + "\n")
    print(args.out.read_text())


if __name__ == "__main__":
    main()
