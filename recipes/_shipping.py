"""What shipping any trained model shares: copy a run's best weights into the package, describe the compute."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))
from _report import machine_description

from cantor.models.weights import CONFIG_FILE, WEIGHTS_FILE, read_config
from cantor.train.logs import logged_validations, metric_logs
from cantor.train.plots import plot_training_curves

PACKAGE_WEIGHTS = Path(__file__).parent.parent / "src" / "cantor" / "weights"


def copy_weights(run: Path, name: str, *, kind: str, which: str = "best") -> tuple[Path, dict, dict, float]:
    """Copy ``run/best`` (or ``run/final``) to ``cantor/weights/<name>`` with the run's training curves; returns
    (target, weights payload, run.json, size in MB)."""
    best = run / which
    payload = read_config(best, kind=kind)
    run_info = json.loads((run / "run.json").read_text())
    target = PACKAGE_WEIGHTS / name
    target.mkdir(parents=True, exist_ok=True)
    for file in (CONFIG_FILE, WEIGHTS_FILE):
        shutil.copy(best / file, target / file)
        (target / file).chmod(0o644)  # safetensors writes 0600; a package file must be world-readable
    if not payload["metadata"].get("metrics"):  # a final/ export is saved without them: take the logged ones
        payload["metadata"]["metrics"] = _logged_validation(run, payload["metadata"]["step"])
        (target / CONFIG_FILE).write_text(json.dumps(payload, indent=2) + "\n")
    if logs := metric_logs(run / "logs"):  # the curves of every session of the run, also one that was stopped
        plot_training_curves(logs, target / "curves.png")
    size_mb = (target / WEIGHTS_FILE).stat().st_size / 1e6
    if size_mb > 20:
        raise SystemExit(f"{name}: {size_mb:.1f} MB of weights, over the 20 MB a shipped model may take")
    return target, payload, run_info, size_mb


def replace_section(card: Path, section: list[str]) -> None:
    """Replace the section of a shipped model's card that starts with the heading ``section[0]`` (up to the next
    "## " heading) with ``section``: a card's measured rows refreshed from a newer benchmark run."""
    lines = card.read_text().splitlines()
    if section[0] not in lines:
        raise SystemExit(f"{card} has no '{section[0]}' section to refresh: ship with --run and --benchmark instead")
    start = lines.index(section[0])
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    lines[start:end] = [*section, ""] if end < len(lines) else section
    card.write_text("\n".join(lines) + "\n")
    print(f"{card}: {section[0].lstrip('# ')} refreshed")


KEY_PRIOR_LINE_START = "- keys of sampled pieces:"


def key_prior_line(config: dict) -> str:
    """A generator card's line on the keys its samples are moved into (``GeneratorConfig.key_prior``); it starts
    with ``KEY_PRIOR_LINE_START``, by which a refresh finds it."""
    shares = ", ".join(f"{name} {share:.0%}" for name, share in config.get("key_prior", [])[:6])
    return (
        f"{KEY_PRIOR_LINE_START} drawn from the keys of the training pieces ({shares}, …); "
        "`--key written` keeps the key the model wrote"
    )


def compute_line(
    payload: dict, run_info: dict, *, selection: str, compute: str | None, machine: str | None = None
) -> str:
    """Which step the weights are from and what training cost; ``compute`` overrides the measured wall time
    (for runs that spanned sessions or shared the machine), ``machine`` this machine (for runs made elsewhere)."""
    step = payload["metadata"].get("step")
    hours = run_info.get("wall_hours_total", run_info.get("wall_hours_last_session", 0))
    spent = compute or f"{hours:.2f} h wall"
    return f"- weights from step {step} ({selection}); {spent} on {machine or machine_description()}"


def training_lines(
    payload: dict, run_info: dict, *, data: str, selection: str, compute: str | None, machine: str | None = None
) -> list[str]:
    """A card's "## Training" section: the command that made the data, what the run saw of it, the training
    command, its steps and compute, the recipe."""
    meta = payload["metadata"]
    return [
        "## Training",
        "",
        f"- data: `{data}`",
        f"- data seen: {meta.get('train_data', '?')}",
        f"- command: `{meta.get('command') or run_info.get('command')}`",
        compute_line(payload, run_info, selection=selection, compute=compute, machine=machine),
        f"- recipe: {json.dumps(run_info['train'])}",
    ]


def metric_rows(payload: dict) -> list[str]:
    """The validation metrics the weights were exported with (see :func:`copy_weights`), as a markdown table."""
    metrics = payload["metadata"].get("metrics", {})
    if not metrics:  # weights no training run validated, e.g. an average of runs (recipes/average_weights.py)
        return ["No training run validated these weights (see the notes)."]
    return [
        "| metric | value |",
        "|---|---|",
        *[f"| {k.removeprefix('valid/')} | {v:.3f} |" for k, v in sorted(metrics.items())],
    ]


def _logged_validation(run: Path, step: int) -> dict[str, float]:
    """The ``valid/*`` values logged at ``step`` (0-based in the log, so ``step - 1``)."""
    found: dict[str, float] = {}
    for logged_step, values in logged_validations(run / "logs"):
        if logged_step == step - 1:
            found |= values
    return found
