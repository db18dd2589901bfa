"""Weights as data: ``config.json`` + ``model.safetensors`` (+ ``MODEL_CARD.md``) in one folder per model.

Loading is strict: a missing, unexpected or misshapen tensor is an error that names it, never a silent partial load,
and nothing is ever unpickled.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from cantor.errors import CantorError
from cantor.files import atomic_path, write_json_atomic

WEIGHTS_FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"


def save_weights(
    folder: str | Path, model: nn.Module, *, kind: str, config: dict, metadata: dict | None = None
) -> Path:
    """Write ``model``'s state and its config into ``folder`` (each file atomically)."""
    state = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}
    return save_state(folder, state, kind=kind, config=config, metadata=metadata)


def save_state(
    folder: str | Path, state: dict[str, torch.Tensor], *, kind: str, config: dict, metadata: dict | None = None
) -> Path:
    """:func:`save_weights` for a state dict that no module holds (e.g. weights averaged over runs)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / WEIGHTS_FILE) as tmp:
        save_file(state, str(tmp), metadata={"format_version": str(WEIGHTS_FORMAT_VERSION), "kind": kind})
    write_config(folder, kind=kind, config=config, metadata=metadata)
    return folder


def write_config(folder: str | Path, *, kind: str, config: dict, metadata: dict | None = None) -> None:
    """The JSON beside the weights (atomically): format version, kind, config and metadata (metrics among them)."""
    payload = {"format_version": WEIGHTS_FORMAT_VERSION, "kind": kind, "config": config, "metadata": metadata or {}}
    write_json_atomic(Path(folder) / CONFIG_FILE, payload)


def read_config(folder: str | Path, *, kind: str) -> dict[str, Any]:
    """The JSON beside the weights, checked for format version and kind."""
    folder = Path(folder)
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise CantorError(f"{folder}: no {CONFIG_FILE} (not a Cantor model folder)")
    try:
        payload = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise CantorError(f"{path}: not valid JSON ({error})") from error
    if payload.get("format_version") != WEIGHTS_FORMAT_VERSION:
        found = payload.get("format_version")
        raise CantorError(f"{path}: weights format {found}, this Cantor reads {WEIGHTS_FORMAT_VERSION}")
    if payload.get("kind") != kind:
        raise CantorError(f"{path}: holds a {payload.get('kind')!r} model, not a {kind!r}")
    return payload


def load_base_weights(model: nn.Module, base: str | Path, *, kind: str, config) -> None:
    """Fine-tuning: load the weights in ``base`` into ``model`` (left in training mode). ``config`` is the model's
    config dataclass (with ``from_dict``); the base's must equal it, or a ``ValueError`` says so before any tensor
    is read."""
    if type(config).from_dict(read_config(base, kind=kind)["config"]) != config:
        raise ValueError(f"{base}: its config differs from the model being trained")
    load_weights(base, kind=kind, build=lambda _: model)
    model.train()  # load_weights leaves the model in eval mode


def load_weights(folder: str | Path, *, kind: str, build: Callable[[dict], nn.Module]) -> tuple[nn.Module, dict]:
    """Build the model from its config with ``build`` and load its weights strictly; returns (model, payload)."""
    folder = Path(folder)
    payload = read_config(folder, kind=kind)
    try:
        model = build(payload["config"])
    except (TypeError, ValueError, KeyError) as error:
        raise CantorError(f"{folder / CONFIG_FILE}: invalid {kind} config ({error})") from error
    weights = folder / WEIGHTS_FILE
    if not weights.is_file():
        raise CantorError(f"{folder}: no {WEIGHTS_FILE}")
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError) as error:
        raise CantorError(f"{weights}: corrupt weights file ({error})") from error
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    misshapen = sorted(k for k in set(state) & set(expected) if state[k].shape != expected[k].shape)
    if missing or unexpected or misshapen:
        problems = []
        if missing:
            problems.append(f"missing {', '.join(missing[:5])}" + (" …" if len(missing) > 5 else ""))
        if unexpected:
            problems.append(f"unexpected {', '.join(unexpected[:5])}" + (" …" if len(unexpected) > 5 else ""))
        if misshapen:
            shapes = [f"{k} {tuple(state[k].shape)} ≠ {tuple(expected[k].shape)}" for k in misshapen[:3]]
            problems.append(f"wrong shape {'; '.join(shapes)}")
        raise CantorError(f"{weights} does not match its config: {'; '.join(problems)}")
    model.load_state_dict(state, strict=True)
    model.eval()
    return model, payload


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


__all__ = ["count_parameters", "load_weights", "read_config", "save_weights"]
