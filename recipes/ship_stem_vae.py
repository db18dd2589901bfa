"""Ship a trained stem VAE (audio variations) as ``stem-vae`` with its model card.

    .venv/bin/python recipes/ship_stem_vae.py --run runs/stem-vae --name stem-vae \
        --data-command "…" --benchmark benchmarks/results/variations.md --compute "…" --machine "…"

The card records the data and training commands, steps, compute, parameters, validation metrics and the rows of the
variations benchmark.
"""

from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path

from _shipping import copy_weights, metric_rows, training_lines

from cantor.models.stem_vae import STEM_VAE_KIND


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--name", default="stem-vae")
    parser.add_argument("--data-command", required=True)
    parser.add_argument("--benchmark", type=Path, help="table written by benchmarks/variations.py")
    parser.add_argument("--compute", help="what training cost")
    parser.add_argument("--machine", help="where it ran, when not on this machine")
    parser.add_argument("--note", action="append", default=[], help="a line for the card's notes (repeatable)")
    args = parser.parse_args()

    target, payload, run, size_mb = copy_weights(args.run, args.name, kind=STEM_VAE_KIND)
    meta, config = payload["metadata"], payload["config"]
    mel = config["mel"]
    lines = [
        f"# Model card: `{args.name}` ({STEM_VAE_KIND})",
        "",
        "Audio variations of a stem: a TCN-VAE over the log-mel of one stem (the GAN vocoder's: "
        f"{mel['n_mels']} bands, hop {mel['stft']['hop_length']} at {mel['sample_rate']} Hz). A TCN feature "
        f"extractor, a strided convolution to one latent frame of {config['bottleneck']['latent_dim']} dimensions "
        f"every {config['stride']} mel frames, a variational bottleneck, and a TCN reconstruction network that sees "
        f"only the latent; the `{config['vocoder']}` vocoder voices what it decodes. `cantor generate variations` "
        "samples z = μ + strength · σ · ε around a stem's encoding (ε smoothed over time).",
        "",
        f'- use: `cantor generate variations SONG.wav --stem melody`, `cantor.Variations("{args.name}")`',
        f"- parameters: {meta['parameters']:,} ({size_mb:.1f} MB as float32 safetensors)",
        f"- configuration: `{json.dumps(config)}`",
        f"- shipped: {datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%d')}",
        "",
        *training_lines(
            payload,
            run,
            data=args.data_command,
            selection="lowest validation log-mel L1",
            compute=args.compute,
            machine=args.machine,
        ),
        "",
        "## Validation (the pack's valid excerpts; reconstruction from the posterior mean)",
        "",
        *metric_rows(payload),
    ]
    if args.benchmark:
        table = args.benchmark.read_text().split("\n### ", 1)[1]
        lines += ["", f"## Measured (`{args.benchmark}`)", "", "### " + table.strip()]
    if args.note:
        lines += ["", "## Notes", "", *[f"- {note}" for note in args.note]]
    (target / "MODEL_CARD.md").write_text("\n".join(lines) + "\n")
    print(f"shipped {args.run} → {target} ({size_mb:.1f} MB)")


if __name__ == "__main__":
    main()
