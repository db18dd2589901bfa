"""Ship a trained separator: copy a run's best weights into the package and write its model card.

    .venv/bin/python recipes/ship_separator.py --run runs/band-small --name band \
        --data-command "cantor data build --preset band --songs 400 --seconds 30 --seed 0 -o data/band -j 2" \
        --benchmark benchmarks/results/separation-band.json

The card records the exact data and training commands, steps, wall time, machine, parameters, validation metrics
and the benchmark's in-domain and unseen-soundfont scores, so every number can be traced and reproduced.
"""

from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path

from _shipping import copy_weights, training_lines

from cantor.models.separator import SEPARATOR_KIND, SeparatorConfig


def soundfonts_line(run_info: dict) -> str:
    """ "4 soundfonts (A, B, …)", and the drum stems' own fonts where a build had them, as the run's data folders
    record them (``build.json``; the run lists its folders comma-separated), else "General-MIDI soundfonts"."""
    fonts: dict[str, None] = {}
    drum_fonts: dict[str, None] = {}
    for folder in filter(None, run_info.get("data", "").split(", ")):
        build = Path(folder) / "build.json"
        if build.is_file():
            settings = json.loads(build.read_text())
            fonts |= dict.fromkeys(Path(font).stem for font in settings.get("soundfonts", []))
            drum_fonts |= dict.fromkeys(Path(font).stem for font in settings.get("drum_soundfonts", []))
    if not fonts:
        return "General-MIDI soundfonts"
    line = f"{len(fonts)} soundfonts ({', '.join(fonts)})"
    return line + (f" and, for drums, {', '.join(drum_fonts)}" if drum_fonts else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--data-command", required=True)
    parser.add_argument("--benchmark", type=Path, help="JSON written by benchmarks/separation.py")
    parser.add_argument("--compute", help="what training cost, when the run spanned sessions or shared the CPU")
    parser.add_argument(
        "--lineage", help="for a fine-tune or an average of weights: what it started from and how that was trained"
    )
    parser.add_argument(
        "--weights", choices=("best", "final"), default="best", help="best (best validation) or final (e.g. a soup)"
    )
    args = parser.parse_args()

    target, payload, run, size_mb = copy_weights(args.run, args.name, kind=SEPARATOR_KIND, which=args.weights)
    meta = payload["metadata"]
    config = payload["config"]
    lines = [
        f"# Model card: `{args.name}` separator",
        "",
        f"Separates a 44.1 kHz stereo mixture into **{', '.join(config['sources'])}**. TCN-VAE over STFT frames "
        "(n_fft 2048, hop 512): TCN encoder → per-frame VAE bottleneck (Gaussian prior) → TCN reconstruction "
        "network → softmax masks, so the stems add up to the input.",
        "",
        f"- parameters: {meta['parameters']:,} ({size_mb:.1f} MB as float32 safetensors)",
        f"- receptive field: ±{SeparatorConfig.from_dict(config).receptive_field_samples / 44100:.2f} s "
        "(so chunked inference equals a whole-file pass)",
        f"- shipped: {datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%d')}",
        "",
        *training_lines(
            payload,
            run,
            data=args.data_command,
            selection="best validation SI-SDRi" if args.weights == "best" else "the run's final weights",
            compute=args.compute,
        ),
        *([f"- started from: {args.lineage}"] if args.lineage else []),
        "",
        "## Validation (valid split, 10-s crops, medians)",
        "",
        "| metric | dB |",
        "|---|---|",
    ]
    lines += [f"| {k.removeprefix('valid/')} | {v:.2f} |" for k, v in sorted(meta.get("metrics", {}).items())]
    if args.benchmark and args.benchmark.is_file():
        results = json.loads(args.benchmark.read_text())
        lines += ["", "## Test (whole 30-s songs, medians; see benchmarks/results)", ""]
        lines.append("| test set | " + " | ".join(f"{s} SI-SDRi" for s in config["sources"]) + " | oracle IRM mean |")
        lines.append("|---|" + "---|" * (len(config["sources"]) + 1))
        for title, result in results.items():
            gains = result["si_sdri"][f"Cantor `{args.name}`"]
            ceiling = result["si_sdri"]["oracle IRM (ceiling)"]
            oracle = sum(ceiling) / len(ceiling)
            lines.append(f"| {title} | " + " | ".join(f"{g:.1f}" for g in gains) + f" | {oracle:.1f} |")
    lines += [
        "",
        "## Limits",
        "",
        f"Trained only on Cantor's rendered General-MIDI songs, with per-stem effects, from {soundfonts_line(run)}. "
        "Expect far lower quality on real recordings and on instruments far from GM timbres; the unseen-soundfont "
        "row above is the honest guide.",
    ]
    (target / "MODEL_CARD.md").write_text("\n".join(lines) + "\n")
    print(f"shipped {args.name} → {target} ({size_mb:.1f} MB)")


if __name__ == "__main__":
    main()
