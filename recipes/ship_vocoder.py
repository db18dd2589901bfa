"""Ship a trained vocoder: copy a run's best weights into the package and write its model card.

    .venv/bin/python recipes/ship_vocoder.py --run runs/gan-small --name gan \
        --data-command "cantor data build --preset band … ; cantor data build --preset chorale …" \
        --benchmark benchmarks/results/vocoder.json

The card records the data and training commands, steps, compute, machine, parameters, validation metrics and the
benchmark's scores on every test set, so each number can be traced and reproduced.
"""

from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path

from _shipping import copy_weights, metric_rows, training_lines

from cantor.models.vocoder import VOCODER_KIND, VocoderConfig

DESCRIPTIONS = {
    "gan": "ConvNeXt backbone over log-mel frames and an inverse-STFT head (magnitude and phase per frame, one "
    "inverse FFT): it runs at the frame rate, not the sample rate. Trained on mel L1 and multi-resolution STFT "
    "losses, then adversarially with lean multi-period and multi-resolution discriminators.",
    "waveflow": "WaveFlow (Ping et al., 2020): the waveform squeezed into rows, autoregressive affine flows over the "
    "rows with dilated 2-D convolutions, trained by maximum likelihood, sampled with a temperature.",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--data-command", required=True)
    parser.add_argument("--benchmark", type=Path, help="JSON written by benchmarks/vocoder.py")
    parser.add_argument("--compute", help="what training cost, when the run spanned sessions or shared the CPU")
    parser.add_argument("--notes", type=Path, help="a markdown file for the card's Notes (lineage, how chosen)")
    parser.add_argument(
        "--weights",
        choices=("best", "final"),
        default="best",
        help="best (lowest validation mel L1) or final: a GAN's adversarial phase can sound better at a worse mel L1",
    )
    args = parser.parse_args()

    target, payload, run, size_mb = copy_weights(args.run, args.name, kind=VOCODER_KIND, which=args.weights)
    config = VocoderConfig.from_dict(payload["config"])
    meta = payload["metadata"]
    mel = config.mel
    lines = [
        f"# Model card: `{args.name}` vocoder",
        "",
        f"Turns a log-mel spectrogram ({mel.n_mels} bands, 0 Hz to Nyquist, n_fft {mel.stft.n_fft}, hop "
        f"{mel.stft.hop_length} at {mel.sample_rate} Hz; `cantor.Vocoder('{args.name}').mel(audio)`) back into a "
        f"waveform. {DESCRIPTIONS[config.family]}",
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
        results = json.loads(args.benchmark.read_text())
        lines += ["", "## Test: copy-synthesis of held-out clips (see benchmarks/results/vocoder.md)", ""]
        lines += ["| test set | method | log-mel L1 | ViSQOL | f0 error (cents) |", "|---|---|---|---|---|"]
        shown = ("griffin-lim-32", f"cantor {args.name}")
        for set_name, result in results["sets"].items():
            for method, row in result["methods"].items():
                if method not in shown:
                    continue
                visqol = f"{row['visqol']:.2f}" if row.get("visqol") is not None else "—"
                f0 = f"{row['f0_cents']:.0f}" if row.get("f0_cents") is not None else "—"
                lines.append(f"| {set_name} | {method} | {row['mel_l1']:.3f} | {visqol} | {f0} |")
        speeds = {method: speed for method, speed in results["realtime"].items() if method in shown}
        lines += ["", f"Speed (× real time on {results['threads']} threads, 30 s decoded whole after a warm-up): "]
        lines[-1] += "; ".join(f"{method} {speed:.0f}×" for method, speed in speeds.items()) + "."
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
