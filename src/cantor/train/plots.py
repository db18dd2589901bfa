"""Training curves as a PNG: people would rather look than read a CSV."""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from cantor.files import atomic_path


def plot_training_curves(metrics_csvs: Sequence[Path], out: Path) -> Path:
    """Loss terms (log scale) and validation metrics against the step, from Lightning's CSV logs (one per session)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for metrics_csv in metrics_csvs:
        with open(metrics_csv, newline="") as handle:
            for row in csv.DictReader(handle):
                step = int(row.get("step") or 0)
                for key, value in row.items():
                    if key not in ("step", "epoch") and value not in ("", None):
                        series[key].append((step, float(value)))
    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 4.5))
    for key, points in sorted(series.items()):
        if key.startswith("train/") and key != "train/lr":
            steps, values = zip(*points, strict=True)
            left.plot(steps, values, label=key.removeprefix("train/"), linewidth=0.8)
        elif key.startswith("valid/"):
            steps, values = zip(*points, strict=True)
            right.plot(steps, values, marker="o", label=key.removeprefix("valid/"))
    left.set_yscale("log")
    left.set_xlabel("step")
    left.set_title("training losses")
    left.legend(fontsize=8)
    validation = [value for key, points in series.items() if key.startswith("valid/") for _, value in points]
    if validation and min(validation) > 0 and max(validation) / min(validation) > 50:
        right.set_yscale("log")  # e.g. a KL in tens of nats beside accuracies: one linear axis flattens the latter
    right.set_xlabel("step")
    right.set_title("validation metrics")
    right.legend(fontsize=8)
    figure.tight_layout()
    with atomic_path(out) as tmp:
        figure.savefig(tmp, dpi=90)
    plt.close(figure)
    return out
