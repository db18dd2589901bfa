"""The models shipped inside the package (``cantor/weights/<name>/``) and how a name or folder resolves to one."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from cantor.errors import UsageError
from cantor.models.weights import CONFIG_FILE, read_config


def shipped_models_root() -> Path:
    return Path(str(resources.files("cantor").joinpath("weights")))


def available_models(kind: str | None = None) -> dict[str, Path]:
    """Shipped models by name, all of them or only those of one ``kind`` ("separator", "vocoder", "transcriber", …)."""
    root = shipped_models_root()
    if not root.is_dir():
        return {}
    models = {}
    for folder in sorted(root.iterdir()):
        config = folder / CONFIG_FILE
        if config.is_file() and (kind is None or json.loads(config.read_text()).get("kind") == kind):
            models[folder.name] = folder
    return models


def resolve_model(model: str | Path, *, kind: str) -> Path:
    """A shipped model's name or a model folder → the folder (checked to hold a model of ``kind``)."""
    shipped = available_models(kind)
    if isinstance(model, str) and model in shipped:
        folder = shipped[model]
    else:
        folder = Path(model)
        if not folder.is_dir():
            names = ", ".join(shipped) or "none shipped"
            raise UsageError(f"unknown model {str(model)!r}: not a shipped {kind} ({names}) nor a model folder")
    read_config(folder, kind=kind)
    return folder


RUN_EXPORTS = ("best", "final")  # the model folders a training run writes


def model_name(model: str | Path, folder: Path) -> str:
    """What to call a model in output paths: its shipped name, else its folder's name — with the run's name in front
    for a run's ``best``/``final`` export (``runs/band-long/best`` → ``band-long-best``), which alone says nothing."""
    if isinstance(model, str) and not Path(model).is_dir():
        return model
    return f"{folder.parent.name}-{folder.name}" if folder.name in RUN_EXPORTS else folder.name
