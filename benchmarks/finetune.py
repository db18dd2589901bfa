"""Fine-tuning benchmark: does a generator move towards a style it never saw, from ten pieces, while staying novel?
Not a test.

    .venv/bin/python benchmarks/finetune.py --out benchmarks/results/finetune-folk-to-chorale.md

The shipped ``folk`` generator (folk melodies only) is fine-tuned with ``cantor train generator --finetune folk`` on
the soprano lines of ``--pieces`` chorales from the training split, written as MIDI files (the last one held out
for early stopping). Samples of the base and the fine-tuned model are compared with the sopranos of the held-out
chorales (valid + test tunes, first ``--bars`` bars): the Yang & Lerch overlap per feature, MusPy-style
statistics, and the share of 16-note spans copied from the fine-tuning pieces or the folk training set.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from cantor.data.corpus import load_corpus, split_of
from cantor.data.symbolic import NotRepresentable, piece_to_midi
from cantor.inference.generate import Generator
from cantor.metrics.music import STATISTICS, NoveltyIndex, overlap, set_statistics

sys.path.insert(0, str(Path(__file__).parent))
from _report import header


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", default="folk")
    parser.add_argument("--pieces", type=int, default=10)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--bars", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    base = Generator(args.base)
    converter = base.converter

    def soprano_line(piece):
        line = replace(piece, voices={converter.voices[0]: piece.voices["soprano"]})
        try:
            converter.encode(line)
        except NotRepresentable:
            return None
        return line

    chorales = [p for p in load_corpus() if p.is_chorale]
    train = [line for p in chorales if split_of(p.tune_group) == "train" if (line := soprano_line(p))]
    held_out = [line for p in chorales if split_of(p.tune_group) != "train" if (line := soprano_line(p))]
    steps = args.bars * converter.steps_per_bar
    reference = [converter.from_tensors(converter.encode(p)[:steps], title="held-out") for p in held_out]
    chosen = train[: args.pieces]

    with tempfile.TemporaryDirectory() as scratch:
        midis = Path(scratch) / "midis"
        midis.mkdir()
        for index, piece in enumerate(chosen):
            piece_to_midi(piece, midis / f"{index:02d}.mid")
        run = Path(scratch) / "run"
        command = [
            sys.executable, "-m", "cantor.cli.main", "train", "generator", "--finetune", args.base,
            "--data", str(midis), "--out", str(run), "--threads", str(args.threads),
        ]  # fmt: skip
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        minutes = (time.perf_counter() - started) / 60
        tuned = Generator(run / "best")

    folk_training = [p for p in load_corpus() if "melody" in p.voices and split_of(p.tune_group) == "train"]
    novelty = NoveltyIndex([*chosen, *folk_training])
    results = {"minutes": minutes, "step": tuned.metadata.get("step"), "sets": {}}
    sets = {
        "held-out chorale sopranos": reference,
        f"`{args.base}` (base)": base.sample(args.samples, bars=args.bars, seed=0),
        f"`{args.base}` fine-tuned on {len(chosen)} sopranos": tuned.sample(args.samples, bars=args.bars, seed=0),
    }
    for name, pieces in sets.items():
        copied = [novelty.copied_share(piece) for piece in pieces]
        results["sets"][name] = {
            "statistics": set_statistics(pieces),
            "overlap": overlap(pieces, reference) if pieces is not reference else None,
            "copied_spans": sum(c for c, _ in copied) / max(1, sum(n for _, n in copied)),
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=2))
    args.out.write_text(report(args, results, len(chosen), len(reference)))
    print(f"wrote {args.out}", file=sys.stderr)


def report(args, results: dict, pieces: int, held_out: int) -> str:
    lines = [header(f"Fine-tuning: the `{args.base}` generator on {pieces} chorale sopranos")]
    lines.append(
        f"- fine-tuning: `cantor train generator --finetune {args.base} --data <{pieces} MIDI files>` (default "
        f"recipe; best step {results['step']}, {results['minutes']:.1f} min with {args.threads} threads)"
    )
    lines.append(
        f"- {args.samples} pieces of {args.bars} bars per model (seed 0); reference: {held_out} held-out sopranos"
    )
    features = [k for k in next(e["overlap"] for e in results["sets"].values() if e["overlap"]) if k != "mean"]
    lines.append("\n| set | overlap (mean) | " + " | ".join(f.replace("_", " ") for f in features) + " | copied |")
    lines.append("|---|---|" + "---|" * len(features) + "---|")
    for name, entry in results["sets"].items():
        if entry["overlap"] is None:
            cells = ["–"] * (len(features) + 1)
        else:
            cells = [f"{entry['overlap']['mean']:.3f}"] + [f"{entry['overlap'][f]:.3f}" for f in features]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {entry['copied_spans']:.2%} |")
    lines.append("\n| set | " + " | ".join(n.replace("_", " ") for n in STATISTICS) + " |")
    lines.append("|---|" + "---|" * len(STATISTICS))
    for name, entry in results["sets"].items():
        cells = [f"{mean:.2f} ± {sd:.2f}" for mean, sd in (entry["statistics"][n] for n in STATISTICS)]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
