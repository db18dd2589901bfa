"""Training logs that survive a resume.

Lightning's CSV logger deletes ``metrics.csv`` when it starts in a folder that already has one, which would wipe the
curves of every earlier session of a resumed run. Before each session the previous log is set aside as
``metrics-<n>.csv``; the curves are drawn from all of them in order.
"""

from __future__ import annotations

import csv
from pathlib import Path

CURRENT = "metrics.csv"


def set_aside_previous_metrics(log_dir: Path) -> None:
    """Rename ``log_dir/metrics.csv`` (from an earlier session) to the next free ``metrics-<n>.csv``."""
    current = log_dir / CURRENT
    if current.is_file():
        current.rename(log_dir / f"metrics-{len(_previous(log_dir)) + 1:03d}.csv")


def metric_logs(log_dir: Path) -> list[Path]:
    """Every session's metrics CSV, oldest first."""
    current = log_dir / CURRENT
    return _previous(log_dir) + ([current] if current.is_file() else [])


def logged_validations(log_dir: Path) -> list[tuple[int, dict[str, float]]]:
    """Every validation the run logged, oldest first: (step as logged, 0-based; its ``valid/*`` values)."""
    found = []
    for log in metric_logs(log_dir):
        with open(log, newline="") as handle:
            for row in csv.DictReader(handle):
                values = {key: float(value) for key, value in row.items() if key.startswith("valid/") and value}
                if values:
                    found.append((int(row["step"]), values))
    return found


def _previous(log_dir: Path) -> list[Path]:
    return sorted(log_dir.glob("metrics-[0-9][0-9][0-9].csv"))
