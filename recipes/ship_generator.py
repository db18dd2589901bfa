"""Ship a trained symbolic generator (LSTM-VAE) as ``<style>-generator`` with its model card.

    .venv/bin/python recipes/ship_generator.py --run runs/gen-chorale --style chorale \
        --benchmark benchmarks/results/generation-chorale.md --compute "…"

The card records the training command, steps, compute, parameters and validation metrics, and the headline rows
of the generation benchmark (held-out tunes; Markov and random baselines beside it). After a benchmark rerun,
``--style chorale --benchmark TABLE`` without ``--run`` refreshes only those rows of the shipped card.
``--temperature T`` sets the model's default sampling temperature and ``--onset-temperature-factor F`` the factor
on it for which onset is drawn (both chosen on the valid tunes with ``benchmarks/generation.py --held-out valid``),
with or without ``--run``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
from pathlib import Path

from _shipping import PACKAGE_WEIGHTS, compute_line, copy_weights, key_prior_line, metric_rows, replace_section

from cantor.inference.generate import SHIPPED_SUFFIX
from cantor.models.generator import GENERATOR_KIND
from cantor.models.weights import CONFIG_FILE, read_config

DESCRIPTION = (
    "Symbolic generation: an LSTM-VAE after MusicVAE. A bidirectional LSTM encodes a {bars}-bar window of "
    "{voices} on a sixteenth-note grid (per voice and step: {tokens}) into a {latent}-d "
    "latent code; a conductor LSTM unrolls the code into one embedding per bar and a 2-layer bar decoder, restarted "
    "every bar, writes the bar step by step. Longer pieces are written window by window: each new window's code is "
    "drawn, by importance resampling from the encoder's proposal, to fit the last {half} bars already written. "
    "Selected by the validation bound on the negative log-likelihood per token (reconstruction + KL)."
)

BAND_TOKENS = (
    "rest, hold or a pitch's onset for melody and bass; a chord's onset (12 roots × major, minor, diminished, "
    "dominant seventh) or hold for the chords; which of 7 drum classes strike for the drums"
)
SCORE_DATA = "the pieces that hold these voices in 4/4 on a sixteenth grid"
BAND_DATA = (
    "every folk tune and chorale in 4/4 or 2/2 arranged {} times as a band score (harmony fitted per bar or half "
    "bar, a bass pattern, block chords and a drum groove of one of the band styles, drawn as for the audio data)"
)


def benchmark_rows(table: Path) -> list[str]:
    """Reconstruction, overlap and novelty per system from the JSON beside a benchmarks/generation.py table."""
    results = json.loads(table.with_suffix(".json").read_text())
    recon = results["reconstruction"]
    rows = [
        f"- held-out windows: accuracy {recon['teacher_forced_accuracy']:.3f} teacher-forced, "
        f"{recon['free_running_accuracy']:.3f} free-running; NLL bound {recon['nll_bound_per_token']:.3f} "
        f"nats/token; one piece of 16 bars in {results['seconds_per_piece']:.2f} s",
        "",
        "| system | overlap with held-out tunes (mean) | pitch-class entropy | scale consistency | "
        "16-note spans copied |",
        "|---|---|---|---|---|",
    ]
    for name, entry in results["sets"].items():
        overlap = f"{entry['overlap']['mean']:.3f}" if entry["overlap"] else "–"
        entropy = entry["statistics"]["pitch_class_entropy"][0]
        scale = entry["statistics"]["scale_consistency"][0]
        rows.append(f"| {name} | {overlap} | {entropy:.2f} | {scale:.2f} | {entry['copied_spans']:.2%} |")
    spread = results.get("overlap_over_seeds", {})  # tables written before 2026-11-29 have one sample set
    if spread:
        means = "; ".join(f"{name} {statistics.mean(v):.3f} ± {_sd(v):.3f}" for name, v in spread.items())
        rows += ["", f"Mean overlap over {len(next(iter(spread.values())))} sample sets (seeds): {means}."]
    return rows


def _sd(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def measured_section(table: Path) -> list[str]:
    return [
        "## Measured (`benchmarks/generation.py`, held-out tunes)",
        "",
        *benchmark_rows(table),
        "",
        f"See `{table}` for every statistic and feature.",
    ]


def configuration_line(config: dict) -> str:
    return f"- configuration: `{json.dumps({k: v for k, v in config.items() if k != 'key_prior'})}`"


def set_sampling(folder: Path, sampling: dict[str, float]) -> dict:
    """Write ``sampling`` ({"temperature": T, "onset_temperature_factor": F}, either or both) into a shipped
    generator's config.json (and its card's configuration line, if any)."""
    payload = read_config(folder, kind=GENERATOR_KIND)
    payload["config"].update(sampling)
    (folder / CONFIG_FILE).write_text(json.dumps(payload, indent=2) + "\n")
    card = folder / "MODEL_CARD.md"
    if card.is_file():
        lines = [
            configuration_line(payload["config"]) if line.startswith("- configuration:") else line
            for line in card.read_text().splitlines()
        ]
        card.write_text("\n".join(lines) + "\n")
    return payload


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="the training run to ship (left out: --benchmark refreshes the card)")
    parser.add_argument("--style", required=True)
    parser.add_argument("--benchmark", type=Path, help="table written by benchmarks/generation.py")
    parser.add_argument("--compute", help="what training cost")
    parser.add_argument("--machine", help="where it ran, when not on this machine")
    parser.add_argument("--note", action="append", default=[], help="a line for the card's notes (repeatable)")
    parser.add_argument("--temperature", type=float, help="the default sampling temperature (chosen on valid tunes)")
    parser.add_argument(
        "--onset-temperature-factor",
        type=float,
        help="which onset is drawn at temperature × this (chosen on valid tunes)",
    )
    args = parser.parse_args()
    if args.temperature is not None and args.temperature < 0:
        parser.error(f"--temperature must be at least 0, got {args.temperature}")
    if args.onset_temperature_factor is not None and not args.onset_temperature_factor > 0:
        parser.error(f"--onset-temperature-factor must be above 0, got {args.onset_temperature_factor}")
    sampling = {
        key: value
        for key, value in (
            ("temperature", args.temperature),
            ("onset_temperature_factor", args.onset_temperature_factor),
        )
        if value is not None
    }

    name = f"{args.style}{SHIPPED_SUFFIX}"
    if args.run is None:
        if not (args.benchmark or sampling):
            parser.error("give --run to ship a model, or --benchmark / --temperature to update a shipped one")
        if sampling:
            set_sampling(PACKAGE_WEIGHTS / name, sampling)
        if args.benchmark:
            replace_section(PACKAGE_WEIGHTS / name / "MODEL_CARD.md", measured_section(args.benchmark))
        return
    target, payload, run, size_mb = copy_weights(args.run, name, kind=GENERATOR_KIND)
    if sampling:
        payload = set_sampling(target, sampling)
    meta, config = payload["metadata"], payload["config"]
    grid = config["converter"]
    voices = ", ".join(grid["voices"])
    lines = [
        f"# Model card: `{name}` ({GENERATOR_KIND})",
        "",
        DESCRIPTION.format(
            bars=grid["bars"],
            voices=voices,
            tokens=BAND_TOKENS if grid.get("kind") == "band" else "rest, hold, or the onset of a pitch",
            latent=config["latent"],
            half=grid["bars"] // 2,
        ),
        "",
        f'- use: `cantor generate sample --style {args.style}`, `cantor.Generator("{args.style}")`',
        f"- parameters: {meta['parameters']:,} ({size_mb:.1f} MB as float32 safetensors)",
        configuration_line(config),
        key_prior_line(config),
        f"- shipped: {datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%d')}",
        "",
        "## Training",
        "",
        "- data: the music21 corpus bundled with Cantor (`cantor/data/corpus_index.json.gz`), "
        + (BAND_DATA.format(run["train"]["arrangements"]) if grid.get("kind") == "band" else SCORE_DATA)
        + f", split by tune group; {meta.get('train_data', '?')}",
        f"- command: `{meta.get('command') or run.get('command')}`",
        compute_line(payload, run, selection="best validation NLL bound", compute=args.compute, machine=args.machine),
        f"- recipe: {json.dumps(run['train'])}",
        "",
        "## Validation (valid tunes, every window, untransposed; codes = posterior means)",
        "",
        *metric_rows(payload),
    ]
    if args.benchmark:
        lines += ["", *measured_section(args.benchmark)]
    if args.note:
        lines += ["", "## Notes", "", *[f"- {note}" for note in args.note]]
    (target / "MODEL_CARD.md").write_text("\n".join(lines) + "\n")
    print(f"shipped {args.run} → {target}")


if __name__ == "__main__":
    main()
