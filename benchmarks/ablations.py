"""Separator ablations at an equal training budget, from the runs' own validation logs. Not a test.

    .venv/bin/python benchmarks/ablations.py --run "TCN-VAE (band-small)=/work/runs/band-small" \
        --run "BLSTM encoder=/work/runs/ablation-lstm" … --validation 1 --out benchmarks/results/separation-ablations.md

Every run trains on the same data with the same seed, batch and schedule; only the named part differs. Each row is
the run's ``--validation``-th validation (SI-SDRi per source on the same validation crops), so runs that went on
longer are compared at the same step.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _report import header

from cantor.train.logs import logged_validations

SOURCES = ("drums", "bass", "melody", "other")


def validations(run: Path) -> list[dict[str, float]]:
    """Validation rows of every metrics CSV of ``run`` (earlier sessions' first), in order."""
    return [values for _, values in logged_validations(run / "logs") if "valid/si_sdri" in values]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", action="append", required=True, help="LABEL=RUN_FOLDER")
    parser.add_argument("--validation", type=int, default=1, help="compare at the N-th validation of every run")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    lines = [header("Separator ablations at an equal step budget")]
    table = ["| variant | step | " + " | ".join(f"{s} SI-SDRi" for s in SOURCES) + " | mean SI-SDRi | preset |"]
    table.append("|---|---|" + "---|" * (len(SOURCES) + 2))
    for spec in args.run:
        label, folder = spec.split("=", 1)
        run = Path(folder)
        info = json.loads((run / "run.json").read_text())
        rows = validations(run)
        if len(rows) < args.validation:
            table.append(f"| {label} | — (only {len(rows)} validations) |" + " |" * (len(SOURCES) + 2))
            continue
        row = rows[args.validation - 1]
        step = args.validation * info["train"]["val_every_steps"]
        cells = " | ".join(f"{row.get(f'valid/si_sdri_{s}', float('nan')):.2f}" for s in SOURCES)
        preset = next((a for a in info["command"].split() if a.startswith("band-small")), "?")
        table.append(f"| {label} | {step} | {cells} | **{row['valid/si_sdri']:.2f}** | `{preset}` |")
    lines.append("- validation: the runs' own validation crops (the `valid` split), SI-SDRi in dB, higher is better")
    lines += ["", *table]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
