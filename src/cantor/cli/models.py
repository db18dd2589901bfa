"""``cantor models``: what is shipped, what each model does, and how well it scored."""

from __future__ import annotations

import json

from rich.console import Console
from rich.table import Table

# The validation figure each kind of model is judged by, and how to print it.
_HEADLINE = {
    "separator": ("valid/si_sdri", "SI-SDRi {:.1f} dB"),
    "vocoder": ("valid/mel_l1", "log-mel L1 {:.3f}"),
    "transcriber": ("valid/note_f1", "note F1 {:.2f}"),
    "instrument-classifier": ("valid/family_accuracy", "family accuracy {:.2f}"),
    "generator": ("valid/accuracy", "reconstruction {:.2f}"),
    "stem-vae": ("valid/mel_l1", "log-mel L1 {:.3f}"),
}


def _what(kind: str, config: dict) -> str:
    """One line on what a model of ``kind`` does, from its config."""
    if kind == "separator":
        return ", ".join(config["sources"])
    if kind == "vocoder":
        return f"{config['family']} vocoder"
    if kind == "transcriber":
        return "notes and f0 of a stem"
    if kind == "instrument-classifier":
        return f"GM family ({len(config['families'])}) and program of a stem"
    if kind == "generator":
        return f"writes {', '.join(config['converter']['voices'])}"
    if kind == "stem-vae":
        return "audio variations of a stem"
    return kind


def models() -> None:
    """List the shipped models with what they do and how well they scored."""
    from cantor.models.registry import available_models

    table = Table(title="shipped models")
    for column in ("name", "kind", "what", "parameters", "trained", "validation"):
        table.add_column(column, no_wrap=column == "name")  # names are what users type: never cut them
    for name, folder in available_models().items():
        payload = json.loads((folder / "config.json").read_text())
        kind, config, meta = payload["kind"], payload["config"], payload.get("metadata", {})
        what = _what(kind, config)
        metric, form = _HEADLINE.get(kind, ("", ""))
        score = meta.get("metrics", {}).get(metric)
        table.add_row(
            name,
            kind,
            what,
            f"{meta.get('parameters', 0) / 1e6:.1f} M",
            f"{meta.get('step', '?')} steps",
            form.format(score) if score is not None else "—",
        )
    Console().print(table)
