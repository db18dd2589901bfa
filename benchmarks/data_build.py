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

from cantor.data.build import BuildConfig, build_dataset, plan_songs, render_song
from cantor.data.corpus import load_corpus
from cantor.data.render import FluidRenderer, default_soundfonts

sys.path.insert(0, str(Path(__file__).parent))
from _report import header

PHASES = {
    "synthesis (FluidSynth)": ("render.py", "_play"),
    "fresh synth per stem (font from cache)": ("render.py", "_new_synth"),
    "font attach + preset select": ("fluidsynth.py", "sfload"),
    "preset select (lazy sample load)": ("fluidsynth.py", "program_select"),
    "effects (pedalboard)": ("effects.py", "apply_effects"),
    "mixing and quantising": ("build.py", "_mix"),
    "arranging": ("arrange.py", "arrange"),
    "writing files": ("build.py", "_write_song"),
}


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def rendering_only(config: BuildConfig, renderer: FluidRenderer, pieces) -> tuple[float, float, dict[str, float]]:
    """CPU seconds spent per song in arranging + rendering + effects + writing, set-up excluded; and a profile."""
    out = Path(tempfile.mkdtemp(prefix="cantor-bench-"))
    profiler = cProfile.Profile()
    try:
        specs = plan_songs(config, pieces)
        cpu = 0.0
        for spec in specs:
            start = time.process_time()
            profiler.enable()
            render_song(spec, config, out, renderer)
            profiler.disable()
            cpu += time.process_time() - start
    finally:
        shutil.rmtree(out, ignore_errors=True)
    stats = pstats.Stats(profiler).stats
    phases = {
        label: sum(row[3] for (path, _, name), row in stats.items() if path.endswith(file_name) and name == function)
        for label, (file_name, function) in PHASES.items()
    }
    return config.songs * config.seconds, cpu, phases


def whole_build(config: BuildConfig, workers: int) -> tuple[float, float, float]:
    """A complete `build_dataset` run: wall and CPU seconds including corpus and soundfont loading."""
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--preset", default="band")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/data_build.md"))
    args = parser.parse_args()
    fonts = tuple(str(f) for f in default_soundfonts())

    start = time.perf_counter()
    subprocess.run(["make", "setup"], capture_output=True, check=True)
    make_seconds = time.perf_counter() - start
    start = time.perf_counter()
    pieces = load_corpus()
    corpus_seconds = time.perf_counter() - start
    start = time.perf_counter()
    renderer = FluidRenderer(fonts)
    fonts_seconds = time.perf_counter() - start

    def config(effects: bool) -> BuildConfig:
        return BuildConfig(
            preset=args.preset, songs=args.songs, seconds=args.seconds, seed=0, soundfonts=fonts, effects=effects
        )

    marginal = {effects: rendering_only(config(effects), renderer, pieces) for effects in (True, False)}
    renderer.close()
    whole = {workers: whole_build(config(True), workers) for workers in (1, 2)}

    lines = [header("Data builder: render speed and set-up time"), ""]
    lines.append(f"{args.songs} `{args.preset}` songs × {args.seconds:g} s, 44.1 kHz stereo, 24-bit WAV; soundfonts")
    lines.append(", ".join(Path(f).name for f in fonts) + ".")
    lines.append("× real time = seconds of song produced per second; *per core* divides by CPU seconds.\n")
    lines.append("Per song, set-up excluded (arrange, render every stem, effects, mix, write):\n")
    lines.append("| effects | audio (s) | CPU (s) | × real time per core |")
    lines.append("|---|---|---|---|")
    for effects, (audio, cpu, _) in marginal.items():
        lines.append(f"| {'on' if effects else 'off'} | {audio:.0f} | {cpu:.1f} | {audio / cpu:.1f} |")
    lines.append("\nWhole `build_dataset` runs (effects on), corpus and soundfont loading included:\n")
    lines.append("| workers | audio (s) | wall (s) | CPU (s) | × real time per core | × real time (wall) |")
    lines.append("|---|---|---|---|---|---|")
    for workers, (audio, wall, cpu) in whole.items():
        lines.append(f"| {workers} | {audio:.0f} | {wall:.1f} | {cpu:.1f} | {audio / cpu:.1f} | {audio / wall:.1f} |")
    phases = marginal[True][2]
    total = marginal[True][1]
    lines.append("\nWhere the per-song time goes (effects on; cProfile, so totals run a little high):\n")
    lines.append("| phase | CPU (s) | share |")
    lines.append("|---|---|---|")
    for label, seconds in phases.items():
        lines.append(f"| {label} | {seconds:.2f} | {100 * seconds / total:.0f} % |")
    lines.append("\nSet-up:\n")
    lines.append("| step | seconds |")
    lines.append("|---|---|")
    lines.append(f"| `make setup` on a machine already set up | {make_seconds:.1f} |")
    lines.append(f"| load the packaged corpus index ({len(pieces)} pieces) | {corpus_seconds:.2f} |")
    lines.append(f"| load {len(fonts)} soundfonts into a renderer (once per worker) | {fonts_seconds:.2f} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
