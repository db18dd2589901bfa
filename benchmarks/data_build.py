"""Benchmark of the data builder: render speed (× real time per CPU core) and set-up time.

Not a test. Writes benchmarks/results/data_build.md. Run from the repository root:

    .venv/bin/python benchmarks/data_build.py --songs 10 --seconds 30
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _report import header  # noqa: E402

from cantor.data.build import BuildConfig, build_dataset  # noqa: E402
from cantor.data.corpus import load_corpus  # noqa: E402
from cantor.data.render import FluidRenderer, default_soundfonts  # noqa: E402

PHASES = {
    "synthesis (FluidSynth)": ("render.py", "_play"),
    "synth set-up (fresh synth + font from cache)": ("render.py", "_new_synth"),
    "font attach (sfload from cache)": ("fluidsynth.py", "sfload"),
    "effects (pedalboard)": ("effects.py", "apply_effects"),
    "arranging": ("arrange.py", "arrange"),
    "writing files": ("build.py", "_write_song"),
}


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_build(config: BuildConfig, workers: int) -> tuple[float, float, float]:
    out = Path(tempfile.mkdtemp(prefix="cantor-bench-"))
    try:
        cpu_before, child_before = time.process_time(), children_cpu()
        report = build_dataset(config, out, workers=workers)
        cpu = time.process_time() - cpu_before + children_cpu() - child_before
        if report.failed:
            raise SystemExit(f"songs failed: {report.failed}")
        return report.seconds_of_audio, report.wall_seconds, cpu
    finally:
        shutil.rmtree(out, ignore_errors=True)


def profile_phases(config: BuildConfig) -> dict[str, float]:
    out = Path(tempfile.mkdtemp(prefix="cantor-bench-"))
    profiler = cProfile.Profile()
    try:
        profiler.enable()
        build_dataset(config, out, workers=1)
        profiler.disable()
    finally:
        shutil.rmtree(out, ignore_errors=True)
    stats = pstats.Stats(profiler).stats
    phases = {}
    for label, (file_name, function) in PHASES.items():
        phases[label] = sum(
            row[3] for (path, _, name), row in stats.items() if path.endswith(file_name) and name == function
        )
    return phases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--preset", default="band")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/data_build.md"))
    args = parser.parse_args()

    fonts = tuple(str(f) for f in default_soundfonts())
    rows = []
    start = time.perf_counter()
    load_corpus()
    corpus_seconds = time.perf_counter() - start
    start = time.perf_counter()
    FluidRenderer(fonts).close()
    fonts_seconds = time.perf_counter() - start
    start = time.perf_counter()
    setup = subprocess.run(["make", "setup"], capture_output=True, text=True)
    make_seconds = time.perf_counter() - start

    for effects in (True, False):
        config = BuildConfig(
            preset=args.preset, songs=args.songs, seconds=args.seconds, seed=0, soundfonts=fonts, effects=effects
        )
        for workers in (1, 2):
            audio, wall, cpu = timed_build(config, workers)
            rows.append((effects, workers, audio, wall, cpu))
    phase_config = BuildConfig(
        preset=args.preset, songs=max(2, args.songs // 2), seconds=args.seconds, seed=1, soundfonts=fonts
    )
    phases = profile_phases(phase_config)

    lines = [header("Data builder: render speed and set-up time"), ""]
    lines.append(f"{args.songs} `{args.preset}` songs × {args.seconds:g} s at 44.1 kHz stereo, 24-bit WAV, soundfonts: ")
    lines.append(", ".join(Path(f).name for f in fonts) + ".")
    lines.append("× real time = seconds of song (mixture) produced per second; *per core* divides by CPU seconds.\n")
    lines.append("| effects | workers | audio (s) | wall (s) | CPU (s) | × real time per core | × real time (wall) |")
    lines.append("|---|---|---|---|---|---|---|")
    for effects, workers, audio, wall, cpu in rows:
        lines.append(
            f"| {'on' if effects else 'off'} | {workers} | {audio:.0f} | {wall:.1f} | {cpu:.1f} | "
            f"{audio / cpu:.1f} | {audio / wall:.1f} |"
        )
    total = sum(phases.values())
    lines.append(f"\nWhere the time goes (one worker, effects on, {phase_config.songs} songs, cProfile):\n")
    lines.append("| phase | seconds | share of listed |")
    lines.append("|---|---|---|")
    for label, seconds in phases.items():
        lines.append(f"| {label} | {seconds:.2f} | {100 * seconds / total:.0f} % |")
    lines.append("\nSet-up:\n")
    lines.append("| step | seconds |")
    lines.append("|---|---|")
    lines.append(f"| `make setup` when already set up (idempotence check) | {make_seconds:.1f} |")
    lines.append(f"| load the packaged corpus index | {corpus_seconds:.2f} |")
    lines.append(f"| load {len(fonts)} soundfonts into a renderer (per worker) | {fonts_seconds:.2f} |")
    if setup.returncode != 0:
        lines.append(f"\n`make setup` failed: {setup.stderr.strip()[-300:]}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
