"""Speed of one task under several checkouts of Cantor, in alternating rounds: an A/B test for a code change that
should make inference faster. Not a test.

    git worktree add /tmp/before <commit>
    .venv/bin/python benchmarks/code_speed.py --tree before=/tmp/before --tree after=. --task vocode \
        --out /tmp/code_speed.md

On a shared machine the speed of one run drifts by ±15 % within minutes, more than many changes are worth, so each
round times every checkout once (a fresh process with that checkout's ``src`` first on the path, the best of
``--repeats`` after a warm-up) and the table gives each round and the median; a change shows when it wins every
round. The input is the first 30 s of the bundled example's mixture.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _report import header

EXAMPLE = Path(__file__).parent.parent / "examples" / "band-example" / "mixture.flac"
SECONDS = 30.0

# Run in the child: times the task with whichever Cantor its path imports; prints seconds of audio per second.
CHILD = """
import json, sys, time
import soundfile, torch
import cantor
assert cantor.__file__.startswith(sys.argv[7]), f"imported {cantor.__file__}, not the checkout's"
task, model, threads, repeats, path, seconds = sys.argv[1:7]
torch.set_num_threads(int(threads))
audio, rate = soundfile.read(path, dtype="float32", always_2d=True)
audio = torch.from_numpy(audio[: int(float(seconds) * rate)].T.copy())
if task == "vocode":
    vocoder = cantor.Vocoder(model)
    mel = vocoder.mel(audio[0])
    run = lambda: vocoder.decode(mel)
else:
    separator = cantor.Separator(model)
    run = lambda: separator.separate(audio, rate)
run()
times = []
for _ in range(int(repeats)):
    start = time.perf_counter(); run(); times.append(time.perf_counter() - start)
print(json.dumps(audio.shape[-1] / rate / min(times)))
"""

DEFAULT_MODELS = {"vocode": "gan", "separate": "band"}


def time_tree(source: Path, args: argparse.Namespace) -> float:
    env = {**os.environ, "PYTHONPATH": str(source)}
    command = [sys.executable, "-c", CHILD, args.task, args.model or DEFAULT_MODELS[args.task]]
    command += [str(args.threads), str(args.repeats), str(EXAMPLE), str(SECONDS), str(source)]
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"{source}: the task failed:\n{result.stderr[-2000:]}")
    return float(json.loads(result.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", action="append", required=True, help="NAME=CHECKOUT (a folder with src/cantor)")
    parser.add_argument("--task", choices=sorted(DEFAULT_MODELS), default="vocode")
    parser.add_argument("--model", help="default: gan for vocode, band for separate")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per checkout and round (the best counts)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    trees = {}
    for spec in args.tree:
        name, _, folder = spec.partition("=")
        source = Path(folder).resolve() / "src"
        if not name or not (source / "cantor").is_dir():
            raise SystemExit(f"--tree wants NAME=CHECKOUT with a src/cantor folder, got {spec!r}")
        trees[name] = source

    speeds: dict[str, list[float]] = {name: [] for name in trees}
    for round_index in range(args.rounds):
        for name, source in trees.items():
            speeds[name].append(time_tree(source, args))
        print(f"round {round_index + 1}: " + ", ".join(f"{n} {v[-1]:.1f}×" for n, v in speeds.items()), flush=True)

    model = args.model or DEFAULT_MODELS[args.task]
    lines = [header(f"Speed of `{args.task}` ({model}) under several checkouts"), ""]
    lines += [
        f"{SECONDS:g} s of the bundled mixture, {args.threads} threads; × real time of the best of {args.repeats} "
        f"runs after a warm-up, one fresh process per checkout and round, the checkouts in turn.",
        "",
        "| checkout | " + " | ".join(f"round {i + 1}" for i in range(args.rounds)) + " | median |",
        "|---|" + "---|" * (args.rounds + 1),
    ]
    for name, values in speeds.items():
        cells = " | ".join(f"{v:.1f}" for v in values)
        lines.append(f"| {name} | {cells} | **{statistics.median(values):.1f}** |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    args.out.with_suffix(".json").write_text(json.dumps({"task": args.task, "model": model, "speeds": speeds}))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
