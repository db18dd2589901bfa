"""Count a shipped generator's key prior from its training pieces and write it into its config.json and card.

    .venv/bin/python recipes/count_key_prior.py folk chorale band

`cantor train generator` counts the prior itself (``GeneratorConfig.key_prior``); this is for weights trained
before it did. The count is the one training makes: the keys, as ``estimate_key`` reads them, of the training
split's pieces that gave windows to the preset's recipe. The weights are not touched.
"""

from __future__ import annotations

import argparse
import json

from _shipping import KEY_PRIOR_LINE_START, PACKAGE_WEIGHTS, key_prior_line

from cantor.inference.generate import SHIPPED_SUFFIX
from cantor.models.generator import GENERATOR_KIND, GeneratorConfig
from cantor.models.presets import generator_preset
from cantor.models.weights import CONFIG_FILE, read_config
from cantor.train.generator import generator_datasets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("styles", nargs="+")
    args = parser.parse_args()
    for style in args.styles:
        folder = PACKAGE_WEIGHTS / f"{style}{SHIPPED_SUFFIX}"
        payload = read_config(folder, kind=GENERATOR_KIND)
        model_config = GeneratorConfig.from_dict(payload["config"])
        *_, key_prior = generator_datasets(model_config, generator_preset(style)[1])
        payload["config"]["key_prior"] = [list(entry) for entry in key_prior]
        (folder / CONFIG_FILE).write_text(json.dumps(payload, indent=2) + "\n")
        card = folder / "MODEL_CARD.md"
        lines = [line for line in card.read_text().splitlines() if not line.startswith(KEY_PRIOR_LINE_START)]
        at = next(i for i, line in enumerate(lines) if line.startswith("- configuration:")) + 1
        lines.insert(at, key_prior_line(payload["config"]))
        card.write_text("\n".join(lines) + "\n")
        print(f"{style}: {key_prior_line(payload['config'])}")


if __name__ == "__main__":
    main()
