"""Ship a trained vocoder: copy a run's best weights into the package and write its model card.

    .venv/bin/python recipes/ship_vocoder.py --run runs/gan-small --name gan \
        --data-command "cantor data build --preset band … ; cantor data build --preset chorale …" \
        --benchmark benchmarks/results/vocoder.json

Without ``--run`` it refreshes a shipped card's test section from a newer ``--benchmark`` (weights untouched).

The card records the data and training commands, steps, compute, machine, parameters, validation metrics and the
benchmark's scores on every test set, so each number can be traced and reproduced.
"""

from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path

import numpy as np
from _shipping import PACKAGE_WEIGHTS, copy_weights, metric_rows, replace_section, training_lines

from cantor.models.vocoder import VOCODER_KIND, VocoderConfig
from cantor.models.weights import read_config, write_config

DESCRIPTIONS = {
    "gan": "ConvNeXt backbone over log-mel frames and an inverse-STFT head (magnitude and phase per frame, one "
    "inverse FFT): it runs at the frame rate, not the sample rate.",
    "waveflow": "WaveFlow (Ping et al., 2020): the waveform squeezed into rows, autoregressive affine flows over the "
    "rows with dilated 2-D convolutions, sampled with a temperature.",
}


def loss_sentence(recipe: dict, step: int | None) -> str:
    """What the shipped weights were trained on, from the run's recipe and the step they come from."""
    if "nll" in recipe["losses"]:
        return "Trained by maximum likelihood."
    names = {"mel_l1": "mel L1", "mrstft": "multi-resolution STFT", "stft_magnitude": "the head's log-magnitude"}
    sentence = "Trained on " + ", ".join(names[name] for name in recipe["losses"] if name in names) + " losses"
    start = recipe.get("adversarial_start_step", 0)
    adversarial = recipe["losses"].get("adversarial") or recipe["losses"].get("feature_matching")
    if adversarial and (step is None or start < step):
        return f"{sentence}, adversarially from step {start} (lean multi-period and multi-resolution discriminators)."
    return f"{sentence} only (no adversarial phase)."


def test_section(results: dict, name: str) -> list[str]:
    """The card's "## Test" section from ``benchmarks/vocoder.py``'s JSON: this vocoder's and Griffin-Lim's rows."""
    shown = ("griffin-lim-32", f"cantor {name}")
    lines = ["## Test: copy-synthesis of held-out clips (see benchmarks/results/vocoder.md)", ""]
    lines += ["| test set | method | log-mel L1 | ViSQOL | f0 error (cents) |", "|---|---|---|---|---|"]
    for set_name, result in results["sets"].items():
        for method, row in result["methods"].items():
            if method in shown:
                visqol = f"{row['visqol']:.2f}" if row.get("visqol") is not None else "—"
                f0 = f"{row['f0_cents']:.0f}" if row.get("f0_cents") is not None else "—"
                lines.append(f"| {set_name} | {method} | {row['mel_l1']:.3f} | {visqol} | {f0} |")
    speeds = "; ".join(f"{m} {v:.0f}×" for m, v in results["realtime"].items() if m in shown)
    lines += ["", f"Speed (× real time on {results['threads']} threads, 30 s decoded whole after a warm-up): {speeds}."]
    tones = results.get("tone_cents", {})
    held = "; ".join(f"{m} median {np.median(v):.0f} cents" for m, v in tones.items() if m in shown)
    if held:
        lines += ["", f"Steady tones E1–E6 (where a held note comes out): {held}."]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="the training run to ship; leave out to refresh the card's tests")
    parser.add_argument("--name", required=True)
    parser.add_argument("--data-command")
    parser.add_argument("--benchmark", type=Path, help="JSON written by benchmarks/vocoder.py")
    parser.add_argument("--compute", help="what training cost, when the run spanned sessions or shared the CPU")
    parser.add_argument("--notes", type=Path, help="a markdown file for the card's Notes (lineage, how chosen)")
    parser.add_argument(
        "--weights",
        choices=("best", "final"),
        default="best",
        help="best (lowest validation mel L1) or final: a GAN's adversarial phase can sound better at a worse mel L1",
    )
    parser.add_argument(
        "--temperature",
        type=float,
        help="WaveFlow: the sampling temperature the shipped model uses by default (chosen on validation songs)",
    )
    args = parser.parse_args()
    if args.run is None:
        if not args.benchmark:
            raise SystemExit("without --run, give --benchmark: the table to refresh the card's tests from")
        card = PACKAGE_WEIGHTS / args.name / "MODEL_CARD.md"
        replace_section(card, test_section(json.loads(args.benchmark.read_text()), args.name))
        return
    if not args.data_command:
        raise SystemExit("--data-command: how the training data were built")
    if args.temperature is not None:  # checked before anything is copied into the package
        if read_config(args.run / args.weights, kind=VOCODER_KIND)["config"]["family"] != "waveflow":
            raise SystemExit("--temperature is WaveFlow's sampling temperature; this is a GAN vocoder")
        if args.temperature < 0:
            raise SystemExit(f"--temperature must be at least 0, got {args.temperature}")

    target, payload, run, size_mb = copy_weights(args.run, args.name, kind=VOCODER_KIND, which=args.weights)
    if args.temperature is not None:
        payload["config"]["waveflow"]["temperature"] = args.temperature
        write_config(target, kind=VOCODER_KIND, config=payload["config"], metadata=payload["metadata"])
    config = VocoderConfig.from_dict(payload["config"])
    if config.family == "waveflow" and args.temperature is None:
        print(f"{args.name} samples at temperature {config.waveflow.temperature} by default (--temperature to change)")
    meta = payload["metadata"]
    mel = config.mel
    lines = [
        f"# Model card: `{args.name}` vocoder",
        "",
        f"Turns a log-mel spectrogram ({mel.n_mels} bands, 0 Hz to Nyquist, n_fft {mel.stft.n_fft}, hop "
        f"{mel.stft.hop_length} at {mel.sample_rate} Hz; `cantor.Vocoder('{args.name}').mel(audio)`) back into a "
        f"waveform. {DESCRIPTIONS[config.family]} {loss_sentence(run['train'], meta.get('step'))}",
        "",
        f"- parameters: {meta['parameters']:,} ({size_mb:.1f} MB as float32 safetensors)",
        f"- architecture: `{json.dumps(payload['config'][config.family])}`",
        f"- shipped: {datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%d')}",
        "",
        *training_lines(
            payload,
            run,
            data=args.data_command,
            selection="lowest validation log-mel L1" if args.weights == "best" else "the end of training",
            compute=args.compute,
        ),
        "",
        f"## Validation (valid split: stems and mixtures, {run['train']['val_items']} clips of "
        f"{run['train']['val_segment_samples'] / mel.sample_rate:.2g} s)",
        "",
        *metric_rows(payload),
    ]
    if args.benchmark and args.benchmark.is_file():
        lines += ["", *test_section(json.loads(args.benchmark.read_text()), args.name)]
    if args.notes:
        lines += ["", "## Notes", "", args.notes.read_text().strip()]
    lines += [
        "",
        "## Limits",
        "",
        "Trained only on Cantor's rendered General-MIDI stems and mixtures (three soundfonts, per-stem effects) for "
        "at most a couple of CPU-hours; far from converged. No real recordings were available to test on; the "
        "unseen-soundfont rows are the honest guide.",
    ]
    (target / "MODEL_CARD.md").write_text("\n".join(lines) + "\n")
    print(f"shipped {args.name} → {target} ({size_mb:.1f} MB)")


if __name__ == "__main__":
    main()
