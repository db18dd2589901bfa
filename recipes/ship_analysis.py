"""Ship a trained analysis model (note transcriber or instrument classifier) with its model card.

    .venv/bin/python recipes/ship_analysis.py --run runs/notes --name notes \
        --data-command "cantor data build --preset band … ; cantor data build --preset chorale …" \
        --benchmark benchmarks/results/analysis-band.md --benchmark benchmarks/results/analysis-chorale.md

The card records the data and training commands, steps, compute, parameters and validation metrics, and points
at the benchmark's table (measured on stems rendered with a soundfont not used in training). ``--name notes
--benchmark TABLE …`` without ``--run`` refreshes only the measured rows of the shipped card.
"""

from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path

from _shipping import PACKAGE_WEIGHTS, copy_weights, metric_rows, replace_section, training_lines

from cantor.models.instrument import INSTRUMENT_KIND
from cantor.models.transcriber import TRANSCRIBER_KIND

KINDS = {"notes": TRANSCRIBER_KIND, "instruments": INSTRUMENT_KIND}
DESCRIPTIONS = {
    TRANSCRIBER_KIND: (
        "Note transcription: a CRNN over a constant-Q spectrogram (3 bins per semitone, A0–C8) with onset, frame "
        "and offset posteriors for the 88 piano keys; notes are decoded as in Onsets and Frames, the f0 track is "
        "the most probable key refined to cents on the CQT. Selected by validation note F1 (onsets within 50 ms)."
    ),
    INSTRUMENT_KIND: (
        "Instrument recognition: a CNN front end and a 3-layer LSTM over a constant-Q spectrogram, pooled by "
        "loudness, with a GM-family head and a GM-program head (plus one label for drum kits). Selected by "
        "validation family accuracy."
    ),
}


def benchmark_rows(table: Path) -> list[str]:
    """Headline numbers per system from the JSON beside a table of benchmarks/analysis.py."""
    results = json.loads(table.with_suffix(".json").read_text())
    truth, predicted = results["families"]
    rows = []
    for system, scores in results["notes"].items():
        if not scores:
            continue
        pitch = results["pitch"].get(system) or []
        pitch_cell = f"{sum(s[1] for s in pitch) / len(pitch):.3f}" if pitch else "–"
        family = (
            f"{sum(t == p for t, p in zip(truth, predicted, strict=True)) / len(truth):.3f}"
            if system == "cantor"
            else "–"
        )
        f1 = sum(s[1] for s in scores) / len(scores)
        rows.append(f"| `{table.name}` | {system} | {f1:.3f} | {pitch_cell} | {family} |")
    return rows


def measured_section(tables: list[Path]) -> list[str]:
    """A card's "## Measured" section: the headline rows of each benchmark table."""
    names = ", ".join(f"`{path}`" for path in tables)
    return [
        "## Measured (clean single stems of held-out songs)",
        "",
        "| table | system | note F1 (onsets) | raw pitch (monophonic; mir_eval) | family accuracy |",
        "|---|---|---|---|---|",
        *(row for path in tables for row in benchmark_rows(path)),
        "",
        f"See {names} (clean single stems; held-out songs, in-domain and rendered with a soundfont not used in "
        "training).",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="the training run to ship (left out: --benchmark refreshes the card)")
    parser.add_argument("--name", choices=tuple(KINDS), required=True)
    parser.add_argument("--data-command", help="the commands that built the training data (needed with --run)")
    parser.add_argument(
        "--benchmark", type=Path, action="append", default=[], help="table(s) written by benchmarks/analysis.py"
    )
    parser.add_argument("--compute", help="what training cost, when the run spanned sessions or shared the CPU")
    parser.add_argument(
        "--lineage", help="for a fine-tuned run: which weights it started from and how those were trained"
    )
    parser.add_argument(
        "--weights",
        choices=("best", "final"),
        default="best",
        help="best (best validation score) or final (the end of training)",
    )
    args = parser.parse_args()
    if args.run is None:
        if not args.benchmark:
            parser.error("give --run to ship a model, or --benchmark to refresh a shipped model's card")
        replace_section(PACKAGE_WEIGHTS / args.name / "MODEL_CARD.md", measured_section(args.benchmark))
        return
    if not args.data_command:
        parser.error("--run needs --data-command")

    kind = KINDS[args.name]
    target, payload, run, size_mb = copy_weights(args.run, args.name, kind=kind, which=args.weights)
    meta = payload["metadata"]
    lines = [
        f"# Model card: `{args.name}` ({kind})",
        "",
        DESCRIPTIONS[kind],
        "",
        f"- parameters: {meta['parameters']:,} ({size_mb:.1f} MB as float32 safetensors)",
        f"- configuration: `{json.dumps(payload['config'])}`",
        f"- shipped: {datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%d')}",
        "",
        *training_lines(
            payload,
            run,
            data=args.data_command,
            selection="best validation score" if args.weights == "best" else "the end of training",
            compute=args.compute,
        ),
        *([f"- started from: {args.lineage}"] if args.lineage else []),
        "",
        "## Validation (valid split: crops of single stems, most with the rest of their song leaking in, as in "
        "training but fixed per crop)",
        "",
        *metric_rows(payload),
    ]
    if args.benchmark:
        lines += ["", *measured_section(args.benchmark)]
    (target / "MODEL_CARD.md").write_text("\n".join(lines) + "\n")
    print(f"shipped {args.run} → {target}")


if __name__ == "__main__":
    main()
