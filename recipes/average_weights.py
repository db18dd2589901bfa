"""Average the weights of several fine-tunes of one model (a uniform "model soup", Wortsman et al. 2022).

    .venv/bin/python recipes/average_weights.py --model runs/instruments-seed1/final \
        --model runs/instruments-seed2/final --out runs/instruments-soup

Fine-tunes that start from the same weights stay in one basin of the loss, where their mean is itself a good model,
often better on data unlike the training set than any one of them, at no cost at inference. Every model must have
the same kind and configuration. ``--model`` takes a model folder or a shipped model's name. Writes ``OUT/final``
(weights + config, metrics empty) and ``OUT/run.json`` (the first averaged training run's, with this command), which
``recipes/ship_analysis.py --run OUT --weights final`` ships like a training run. For a transcriber or classifier,
``--data DIR … --cache CACHE`` also scores the average on the crops the first averaged run validated on.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import torch
from _shipping import PACKAGE_WEIGHTS
from safetensors.torch import load_file

from cantor.models.instrument import INSTRUMENT_KIND
from cantor.models.presets import AnalysisTrainConfig
from cantor.models.transcriber import TRANSCRIBER_KIND
from cantor.models.weights import CONFIG_FILE, WEIGHTS_FILE, save_state, write_config
from cantor.train.analysis import validate_analysis_model


def average_states(states: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The element-wise mean of floating-point tensors (BatchNorm running statistics included); integer ones
    (BatchNorm's batch counters) are taken from the first model."""
    averaged = {}
    for name, first in states[0].items():
        if first.is_floating_point():
            averaged[name] = torch.stack([state[name] for state in states]).mean(dim=0)
        else:
            averaged[name] = first
    return averaged


ANALYSIS_TASKS = {TRANSCRIBER_KIND: "transcriber", INSTRUMENT_KIND: "classifier"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", required=True, help="a model folder or shipped name (2 or more)")
    parser.add_argument("--out", type=Path, required=True, help="the folder to write (OUT/final, OUT/run.json)")
    parser.add_argument(
        "--data",
        type=Path,
        action="append",
        default=[],
        help="transcriber or classifier: validate the average on this data's valid split, as the first averaged run "
        "validated (its crops and settings); repeat for several folders",
    )
    parser.add_argument("--cache", type=Path, help="the stem cache the runs used (with --data)")
    args = parser.parse_args()
    if len(args.model) < 2:
        parser.error("give at least two --model")
    if args.data and args.cache is None:
        parser.error("--data needs --cache (the stem cache the runs used)")
    folders = [Path(model) if Path(model).is_dir() else PACKAGE_WEIGHTS / model for model in args.model]
    for folder in folders:
        if not (folder / CONFIG_FILE).is_file():
            raise SystemExit(f"{folder}: not a model folder (no {CONFIG_FILE}) nor a shipped model's name")
    payloads = [json.loads((folder / CONFIG_FILE).read_text()) for folder in folders]
    first = payloads[0]
    for folder, payload in zip(folders[1:], payloads[1:], strict=True):
        if (payload["kind"], payload["config"]) != (first["kind"], first["config"]):
            raise SystemExit(f"{folder}: another kind or configuration than {folders[0]}; only like models average")
    states = [load_file(str(folder / WEIGHTS_FILE)) for folder in folders]
    if any(state.keys() != states[0].keys() for state in states):
        raise SystemExit("the models hold different tensors")
    # the training recipe of the first averaged model that comes from a run (a shipped model's folder has none)
    runs = [folder.parent / "run.json" for folder in folders if (folder.parent / "run.json").is_file()]
    run = json.loads(runs[0].read_text()) if runs else {}
    if args.data and (first["kind"] not in ANALYSIS_TASKS or "train" not in run):
        raise SystemExit("--data validates transcribers and classifiers averaged from training runs only")

    command = " ".join(["python", *map(shlex.quote, sys.argv)])
    target = args.out / "final"
    averaged = [
        {"model": str(folder), "command": payload["metadata"].get("command")}
        for folder, payload in zip(folders, payloads, strict=True)
    ]
    metadata = {**first["metadata"], "command": command, "averaged": averaged, "metrics": {}}
    save_state(target, average_states(states), kind=first["kind"], config=first["config"], metadata=metadata)
    if args.data:
        train_config = AnalysisTrainConfig(**run["train"])
        task = ANALYSIS_TASKS[first["kind"]]
        metadata["metrics"] = validate_analysis_model(
            task, target, data=args.data, cache=args.cache, train_config=train_config
        )
        write_config(target, kind=first["kind"], config=first["config"], metadata=metadata)
        print("validation: " + ", ".join(f"{name} {value:.4f}" for name, value in metadata["metrics"].items()))
    (args.out / "run.json").write_text(json.dumps({**run, "command": command}, indent=2) + "\n")
    print(f"averaged {len(folders)} models → {target}")


if __name__ == "__main__":
    main()
