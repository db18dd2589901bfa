"""Pack log-mel excerpts of every stem of Cantor data folders into one small file, for training the stem VAE where
the audio cannot go (a lent GPU machine takes 64 MiB).

    .venv/bin/python recipes/pack_mels.py --data /work/data/band --data /work/data/chorale \
        --seconds 3 --out build/stem-mels.npz

Per stem file of the train and valid splits: the ``--seconds`` excerpt starting at a random non-silent point (seeded
by the file's path), as the GAN vocoder's log-mel, quantised to 8 bits between the mel floor and ``HIGH``.
Silent stems are skipped. ``cantor train stem-vae --data build/stem-mels.npz`` trains on it.
"""

from __future__ import annotations

import argparse
import json
import math
import zlib
from pathlib import Path

import numpy as np
import torch

from cantor.audio.io import load
from cantor.features.mel import LogMel, MelConfig

STEMS = ("melody", "bass", "other", "drums", "soprano", "alto", "tenor")
HIGH = 5.0  # log-magnitudes above this (a full-scale low note peaks near 4) are clipped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, action="append", required=True)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    config = MelConfig()
    frontend = LogMel(config)
    low = math.log(config.log_floor)
    frames = int(args.seconds * config.sample_rate) // config.stft.hop_length + 1
    packed: dict[str, list[np.ndarray]] = {"train": [], "valid": []}
    for root in args.data:
        for split in packed:
            for path in sorted((root / split).glob("*/*.wav")):
                if path.stem not in STEMS:
                    continue
                audio, _ = load(path, sample_rate=config.sample_rate, mono=True)
                audio = audio[0]
                length = (frames - 1) * config.stft.hop_length
                loud = torch.nonzero(audio[: max(1, len(audio) - length)].abs() > 0.01).flatten()
                if len(audio) < length or len(loud) == 0:
                    continue
                rng = np.random.default_rng(zlib.crc32(str(path.relative_to(root)).encode()))
                start = int(loud[int(rng.integers(len(loud)))])
                with torch.no_grad():
                    mel = frontend(audio[start : start + length])[:, :frames].numpy()
                quantised = np.round((np.clip(mel, low, HIGH) - low) / (HIGH - low) * 255).astype(np.uint8)
                packed[split].append(quantised)
    arrays = {split: np.stack(items) for split, items in packed.items()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays, low=low, high=HIGH, sources=json.dumps([str(d) for d in args.data]))
    sizes = ", ".join(f"{split} {len(items)}" for split, items in arrays.items())
    print(f"{args.out}: {sizes} excerpts of {frames} frames, {args.out.stat().st_size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
