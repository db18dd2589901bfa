"""What every training-crop dataset shares: a fixed number of items per epoch, each drawn from a generator seeded by
``(seed, epoch, index)``, so a resumed run sees new crops and a validation set (``random=False``) the same ones."""

from __future__ import annotations

import numpy as np
from torch.utils.data import Dataset


class SeededCrops(Dataset):
    def __init__(self, *, items: int, seed: int, random: bool) -> None:
        self.items, self.seed, self.random = items, seed, random
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.items

    def rng(self, index: int) -> np.random.Generator:
        """The generator of item ``index`` (IndexError past the end, which ends iteration)."""
        if not 0 <= index < self.items:
            raise IndexError(index)
        return np.random.default_rng([self.seed, self.epoch if self.random else 0, index])
