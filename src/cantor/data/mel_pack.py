"""Log-mel crops from a mel pack: the stem VAE's training data where the audio cannot go (a lent GPU machine gets
64 MiB and no audio libraries). ``recipes/pack_mels.py`` writes the packs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from cantor.data.crops import SeededCrops
from cantor.errors import CantorError


class MelPackDataset(SeededCrops):
    """Log-mel crops ``[n_mels, frames]`` from a mel pack (``recipes/pack_mels.py``: excerpts of every stem as
    log-mels quantised to 8 bits between ``low`` and ``high``), at a random gain (a shift of the log-magnitudes,
    floored where the mel's floor is). Crops depend only on ``(seed, epoch, index)``."""

    def __init__(
        self,
        path: str | Path,
        *,
        split: str,
        frames: int,
        items: int = 1000,
        seed: int = 0,
        random: bool = True,
        gain_db: tuple[float, float] = (-6.0, 6.0),
    ) -> None:
        super().__init__(items=items, seed=seed, random=random)
        pack = np.load(path)
        if split not in pack:
            raise CantorError(f"{path}: no {split} split in this mel pack")
        self.mels = pack[split]  # (excerpts, n_mels, excerpt frames) uint8
        self.low, self.high = float(pack["low"]), float(pack["high"])
        if self.mels.shape[-1] < frames:
            raise CantorError(f"{path}: excerpts of {self.mels.shape[-1]} frames, crops of {frames} asked for")
        self.path, self.frames, self.gain_db = Path(path), frames, gain_db

    def __getitem__(self, index: int) -> torch.Tensor:
        rng = self.rng(index)
        excerpt = self.mels[int(rng.integers(len(self.mels)))]
        start = int(rng.integers(0, excerpt.shape[-1] - self.frames + 1))
        crop = excerpt[:, start : start + self.frames].astype(np.float32)
        mel = self.low + crop * ((self.high - self.low) / 255)
        shift = np.log(10 ** (rng.uniform(*self.gain_db) / 20))
        return torch.from_numpy(np.maximum(mel + shift, self.low).astype(np.float32))

    def describe(self) -> str:
        return f"mel pack {self.path.name}: {len(self.mels)} excerpts, {self.items} crops of {self.frames} frames"
