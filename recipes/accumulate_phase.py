"""Turn a trained local-phase GAN vocoder into one with accumulated phase, as the start of a fine-tune.

    .venv/bin/python recipes/accumulate_phase.py --base gan --out runs/gan-accumulated-start
    .venv/bin/cantor train vocoder --finetune runs/gan-accumulated-start --data data/band --data data/chorale \
        --out runs/gan-accumulated

The backbone, magnitude and phase are copied and the gate between the local and the held path starts at
sigmoid(--gate-bias) (see ``GANVocoder.with_accumulated_phase``); fine-tuning then learns which bins the held path
should carry. Writes a model folder (config + weights).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cantor.models.registry import resolve_model
from cantor.models.vocoder import VOCODER_KIND, GANVocoder, VocoderConfig, build_vocoder
from cantor.models.weights import load_weights, save_weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="gan", help="a shipped GAN vocoder's name or a model folder")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--gate-bias", type=float, default=-3.0)
    args = parser.parse_args()
    folder = resolve_model(args.base, kind=VOCODER_KIND)
    local, payload = load_weights(folder, kind=VOCODER_KIND, build=lambda c: build_vocoder(VocoderConfig.from_dict(c)))
    if not isinstance(local, GANVocoder) or local.config.phase != "local":
        raise SystemExit(f"{folder}: not a local-phase GAN vocoder")
    model = GANVocoder.with_accumulated_phase(local, gate_bias=args.gate_bias)
    config = VocoderConfig(family="gan", gan=model.config)
    metadata = {"derived_from": str(folder), "base_metadata": payload.get("metadata", {})}
    save_weights(args.out, model, kind=VOCODER_KIND, config=config.to_dict(), metadata=metadata)
    print(f"{folder} → {args.out} (accumulated phase, gate bias {args.gate_bias})")


if __name__ == "__main__":
    main()
