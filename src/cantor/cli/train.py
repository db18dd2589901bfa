"""``cantor train``: train Cantor's models on data it built (or MUSDB18-style folders)."""

from __future__ import annotations

import dataclasses
import shlex
import sys
from pathlib import Path

import typer

from cantor.errors import UsageError

train_app = typer.Typer(help="Train models.", no_args_is_help=True)


def _run_options(*, threads: int | None, devices: str, **options):
    """The CLI's :class:`~cantor.train.runner.RunOptions` (this command line recorded as the run's); sets torch's
    thread count. Imported here: Lightning takes seconds to import, and other commands must not pay for it."""
    import torch

    from cantor.train.runner import RunOptions

    if threads:
        torch.set_num_threads(threads)
    for name in ("num_nodes", "accumulate"):
        if options.get(name, 1) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1, got {options[name]}")
    return RunOptions(
        devices=int(devices) if devices.isdigit() else devices,
        command="cantor " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
        **options,
    )


def _recipe(preset_lookup, overrides: dict):
    """``preset_lookup()`` → (model config, train config) with the train-config overrides that are not None."""
    seed = overrides.get("seed")
    if seed is not None and not 0 <= seed < 2**32:
        raise UsageError(f"--seed must be from 0 to 2**32 - 1, got {seed}")
    try:
        model_config, train_config = preset_lookup()
    except KeyError as error:
        raise UsageError(str(error.args[0])) from error
    return model_config, dataclasses.replace(train_config, **{k: v for k, v in overrides.items() if v is not None})


def _check_folders(folders: list[Path]) -> None:
    for folder in folders:
        if not folder.is_dir():
            raise UsageError(f"--data {folder}: no such folder")


def _trained(run: Path) -> None:
    typer.echo(f"trained → {run} (best/ and final/ hold the weights, curves.png the curves)")


_OUT = typer.Option(..., "--out", "-o", help="Run folder (resumes from its last checkpoint).")
_MAX_STEPS = typer.Option(None, "--max-steps", help="Override the preset's number of steps.")
_MAX_MINUTES = typer.Option(None, "--max-minutes", help="Stop after this much training time.")
_BATCH_SIZE = typer.Option(None, "--batch-size", help="Override the preset's batch size.")
_VAL_EVERY = typer.Option(None, "--val-every", help="Validate (and export best/) every N steps.")
_ACCELERATOR = typer.Option("cpu", help="cpu, gpu or auto.")
_DEVICES = typer.Option("1", help="Number of devices (or 'auto').")
_STRATEGY = typer.Option("auto", help="auto or ddp (several devices or nodes).")
_NUM_NODES = typer.Option(1, "--num-nodes", help="Machines in a multi-node run (launched by torchrun or SLURM).")
_PRECISION = typer.Option("32-true", "--precision", help="32-true, or bf16-mixed / 16-mixed on GPUs.")
_ACCUMULATE = typer.Option(1, "--accumulate", help="Batches whose gradients add up to one optimiser step.")
_DATA = typer.Option(..., "--data", help="Data folder(s) built by Cantor (repeat for several).")
_THREADS = typer.Option(None, "--threads", help="CPU threads for torch (default: torch's choice).")
_SEED = typer.Option(None, "--seed", help="Override the preset's random seed (initialisation, crops, augmentation).")


@train_app.command("separator")
def separator(
    data: list[Path] = _DATA,
    out: Path = _OUT,
    preset: str = typer.Option("band-small", help="Model and recipe preset."),
    sources: str = typer.Option(None, help="Comma-separated stem names (default: the preset's)."),
    max_steps: int = _MAX_STEPS,
    max_minutes: float = _MAX_MINUTES,
    batch_size: int = _BATCH_SIZE,
    val_every: int = _VAL_EVERY,
    accelerator: str = _ACCELERATOR,
    devices: str = _DEVICES,
    strategy: str = _STRATEGY,
    num_nodes: int = _NUM_NODES,
    precision: str = _PRECISION,
    accumulate: int = _ACCUMULATE,
    threads: int = _THREADS,
    seed: int = _SEED,
    init_vocoder: str = typer.Option(
        None, "--init-vocoder", help="Start the reconstruction network from this vocoder (presets *-vocoder)."
    ),
    finetune: str = typer.Option(
        None,
        "--finetune",
        help="Start from this separator (band, chorale or a folder), keeping its architecture; the recipe is "
        "--preset's at a tenth of the learning rate.",
    ),
    eq_db: float = typer.Option(
        None, "--eq-db", help="A random smooth equaliser of up to ±this many dB on each source of a training crop."
    ),
) -> None:
    """Train a TCN-VAE separator; writes checkpoints, logs, curves.png, best/ and final/ (safetensors)."""
    from cantor.models.presets import separator_preset
    from cantor.train.separator import train_separator

    _check_folders(data)
    if eq_db is not None and eq_db < 0:
        raise UsageError(f"--eq-db is a size in dB, ≥ 0, got {eq_db}")
    stems = tuple(s.strip() for s in sources.split(",")) if sources else None
    overrides = {
        "max_steps": max_steps,
        "batch_size": batch_size,
        "val_every_steps": val_every,
        "seed": seed,
        "eq_db": eq_db,
    }
    if finetune is None:
        model_config, train_config = _recipe(lambda: separator_preset(preset, sources=stems), overrides)
    else:
        if stems or init_vocoder:
            raise UsageError(
                "--finetune keeps the base separator's architecture and weights; leave out --sources and --init-vocoder"
            )
        model_config, train_config = _recipe(lambda: _separator_finetune_recipe(finetune, preset), overrides)
    options = _run_options(
        threads=threads,
        devices=devices,
        max_minutes=max_minutes,
        accelerator=accelerator,
        strategy=strategy,
        num_nodes=num_nodes,
        precision=precision,
        accumulate=accumulate,
    )
    _trained(
        train_separator(
            data=data,
            out=out,
            model_config=model_config,
            train_config=train_config,
            init_vocoder=init_vocoder,
            options=options,
        )
    )


@train_app.command("vocoder")
def vocoder(
    data: list[Path] = typer.Option(..., "--data", help="Data folder(s) with train/ and valid/ (repeat for several)."),
    out: Path = _OUT,
    preset: str = typer.Option("gan-small", help="gan-small, waveflow-small, waveflow-small-attention, … (tiny-*)."),
    finetune: str = typer.Option(
        None,
        "--finetune",
        help="Start from this trained vocoder (gan, waveflow or a model folder) and keep its architecture: "
        "learning rate 2e-4, 3000 steps unless --max-steps, a GAN's discriminators from the first step.",
    ),
    max_steps: int = _MAX_STEPS,
    max_minutes: float = _MAX_MINUTES,
    batch_size: int = _BATCH_SIZE,
    val_every: int = _VAL_EVERY,
    adversarial_start: int = typer.Option(
        None, "--adversarial-start", help="GAN: step at which the discriminators join (reconstruction-only before)."
    ),
    discriminator_highpass: float = typer.Option(
        None,
        "--discriminator-highpass",
        min=0.0,
        help="GAN: the discriminators judge only the audio above this frequency in Hz (default: the whole band).",
    ),
    accelerator: str = _ACCELERATOR,
    devices: str = _DEVICES,
    strategy: str = _STRATEGY,
    num_nodes: int = _NUM_NODES,
    precision: str = _PRECISION,
    accumulate: int = _ACCUMULATE,
    threads: int = _THREADS,
    seed: int = _SEED,
) -> None:
    """Train a vocoder (GAN or WaveFlow) on every stem and mixture of the data; writes best/ and final/."""
    from cantor.models.presets import vocoder_preset
    from cantor.train.vocoder import train_vocoder

    if accumulate > 1:  # Lightning accumulates only for automatic optimisation; the GAN steps its optimisers itself
        raise UsageError("--accumulate is not available for vocoders: use a larger --batch-size")
    _check_folders(data)
    overrides = {
        "max_steps": max_steps,
        "batch_size": batch_size,
        "val_every_steps": val_every,
        "seed": seed,
        "adversarial_start_step": adversarial_start,
        "discriminator_highpass_hz": discriminator_highpass,
    }
    if finetune is None:
        model_config, train_config = _recipe(lambda: vocoder_preset(preset), overrides)
    else:
        if preset != "gan-small":
            raise UsageError("--finetune keeps the base vocoder's architecture; leave out --preset")
        model_config, train_config = _recipe(lambda: _vocoder_finetune_recipe(finetune), overrides)
    nyquist = model_config.mel.sample_rate / 2
    if train_config.discriminator_highpass_hz >= nyquist:
        raise UsageError(f"--discriminator-highpass must lie below the Nyquist frequency, {nyquist:g} Hz")
    options = _run_options(
        threads=threads,
        devices=devices,
        max_minutes=max_minutes,
        accelerator=accelerator,
        strategy=strategy,
        num_nodes=num_nodes,
        precision=precision,
        accumulate=accumulate,
    )
    _trained(
        train_vocoder(data=list(data), out=out, model_config=model_config, train_config=train_config, options=options)
    )


@train_app.command("stem-vae")
def stem_vae(
    data: list[Path] = typer.Option(
        ..., "--data", help="Data folder(s) with train/ and valid/ (repeat), or one mel pack (recipes/pack_mels.py)."
    ),
    out: Path = _OUT,
    preset: str = typer.Option("stem-vae-small", help="stem-vae-small (CPU), stem-vae (GPU) or tiny-stem-vae."),
    max_steps: int = _MAX_STEPS,
    max_minutes: float = _MAX_MINUTES,
    batch_size: int = _BATCH_SIZE,
    val_every: int = _VAL_EVERY,
    accelerator: str = _ACCELERATOR,
    devices: str = _DEVICES,
    strategy: str = _STRATEGY,
    num_nodes: int = _NUM_NODES,
    precision: str = _PRECISION,
    accumulate: int = _ACCUMULATE,
    threads: int = _THREADS,
    seed: int = _SEED,
) -> None:
    """Train the stem TCN-VAE (for `cantor generate variations`) on every stem and mixture; writes best/ and final/."""
    from cantor.models.presets import stem_vae_preset
    from cantor.train.stem_vae import train_stem_vae

    if len(data) == 1 and data[0].suffix == ".npz":
        if not data[0].is_file():
            raise UsageError(f"--data {data[0]}: no such mel pack")
    else:
        _check_folders(data)
    overrides = {"max_steps": max_steps, "batch_size": batch_size, "val_every_steps": val_every, "seed": seed}
    model_config, train_config = _recipe(lambda: stem_vae_preset(preset), overrides)
    options = _run_options(
        threads=threads,
        devices=devices,
        max_minutes=max_minutes,
        accelerator=accelerator,
        strategy=strategy,
        num_nodes=num_nodes,
        precision=precision,
        accumulate=accumulate,
    )
    _trained(
        train_stem_vae(data=list(data), out=out, model_config=model_config, train_config=train_config, options=options)
    )


_CACHE = typer.Option(Path("data/cache"), "--cache", help="Where the stems' CQTs are cached (built on first use).")


def _analysis_command(task: str, default_preset: str, summary: str):
    """One CLI command per analysis model; they differ only in the task and its presets."""

    def command(
        data: list[Path] = _DATA,
        cache: Path = _CACHE,
        out: Path = _OUT,
        preset: str = typer.Option(default_preset, help=f"{default_preset} (or tiny-{task})."),
        finetune: str = typer.Option(
            None,
            "--finetune",
            help=f"Start from this trained {task} (a shipped name or a model folder) and keep its architecture: "
            "learning rate 3e-4, 1500 steps unless --max-steps.",
        ),
        songs: int = typer.Option(None, "--songs", help="Use the first N songs of each folder and split."),
        max_steps: int = _MAX_STEPS,
        max_minutes: float = _MAX_MINUTES,
        batch_size: int = _BATCH_SIZE,
        val_every: int = _VAL_EVERY,
        val_items: int = typer.Option(
            None, "--val-items", help="Validation crops (default 96; more makes the choice of best/ less noisy)."
        ),
        accelerator: str = _ACCELERATOR,
        devices: str = _DEVICES,
        strategy: str = _STRATEGY,
        num_nodes: int = _NUM_NODES,
        precision: str = _PRECISION,
        accumulate: int = _ACCUMULATE,
        threads: int = _THREADS,
        seed: int = _SEED,
    ) -> None:
        from cantor.models.presets import analysis_preset
        from cantor.train.analysis import train_analysis_model

        _check_folders(data)
        overrides = {
            "songs": songs,
            "max_steps": max_steps,
            "batch_size": batch_size,
            "val_every_steps": val_every,
            "seed": seed,
            "val_items": val_items,
        }
        if finetune is None:
            model_config, train_config = _recipe(lambda: analysis_preset(task, preset), overrides)
        else:
            if preset != default_preset:
                raise UsageError("--finetune keeps the base model's architecture; leave out --preset")
            model_config, train_config = _recipe(lambda: _analysis_finetune_recipe(task, finetune), overrides)
        options = _run_options(
            threads=threads,
            devices=devices,
            max_minutes=max_minutes,
            accelerator=accelerator,
            strategy=strategy,
            num_nodes=num_nodes,
            precision=precision,
            accumulate=accumulate,
        )
        _trained(
            train_analysis_model(
                task,
                data=list(data),
                cache=cache,
                out=out,
                model_config=model_config,
                train_config=train_config,
                options=options,
            )
        )

    command.__doc__ = summary
    return command


train_app.command("transcriber")(
    _analysis_command(
        "transcriber",
        "transcriber-small",
        "Train the note transcriber on the pitched stems' exact notes; writes best/ and final/.",
    )
)
train_app.command("classifier")(
    _analysis_command(
        "classifier",
        "classifier-small",
        "Train the instrument classifier (GM family and program) on every stem; writes best/ and final/.",
    )
)


@train_app.command("generator")
def generator(
    out: Path = _OUT,
    style: str = typer.Option(
        "chorale",
        "--style",
        help="chorale (four voices), folk (a melody) or band (melody, bass, chords, drums); tiny-generator.",
    ),
    finetune: str = typer.Option(
        None, "--finetune", help="Adapt this generator (chorale, folk, band or a folder) to the MIDI files in --data."
    ),
    data: Path = typer.Option(None, "--data", help="With --finetune: a folder of 5–20 MIDI files (the last held out)."),
    start_from: str = typer.Option(
        None,
        "--start-from",
        help="Go on training this generator (chorale, folk, band or a folder) of --style on the corpus: learning "
        "rate 3e-4 and β in full from the first step.",
    ),
    voices_in_turn: bool = typer.Option(
        False,
        "--voices-in-turn",
        help="Draw a step's voices one after another, each knowing those before it (with --start-from, a new term "
        "that starts at zero).",
    ),
    pieces: int = typer.Option(None, "--pieces", help="Use the first N pieces of each split."),
    kl_weight: float = typer.Option(None, "--kl-weight", help="Override the preset's β (the KL term's weight)."),
    free_nats: float = typer.Option(None, "--free-nats", help="Override the nats of KL that cost nothing."),
    max_steps: int = _MAX_STEPS,
    max_minutes: float = _MAX_MINUTES,
    batch_size: int = _BATCH_SIZE,
    val_every: int = _VAL_EVERY,
    accelerator: str = _ACCELERATOR,
    devices: str = _DEVICES,
    strategy: str = _STRATEGY,
    num_nodes: int = _NUM_NODES,
    precision: str = _PRECISION,
    accumulate: int = _ACCUMULATE,
    threads: int = _THREADS,
    seed: int = _SEED,
) -> None:
    """Train the symbolic LSTM-VAE on the bundled corpus (no data folder needed), or fine-tune one on your own
    MIDI files with --finetune; writes best/ and final/."""
    from cantor.models.presets import GENERATOR_FINETUNE, generator_preset
    from cantor.train.generator import train_generator, user_pieces

    overrides = {
        "pieces": pieces,
        "kl_weight": kl_weight,
        "free_nats": free_nats,
        "max_steps": max_steps,
        "batch_size": batch_size,
        "val_every_steps": val_every,
        "seed": seed,
    }
    pieces = None
    if finetune is None:
        if data is not None:
            raise UsageError("--data is for --finetune (training on the corpus reads the bundled corpus)")
        if start_from is None:
            model_config, train_config = _recipe(lambda: generator_preset(style), overrides)
        else:
            model_config, train_config = _recipe(lambda: _extend_recipe(start_from, style), overrides)
        if voices_in_turn:
            model_config = dataclasses.replace(model_config, voices_in_turn=True)
    else:
        if data is None:
            raise UsageError("--finetune needs --data: a folder of MIDI files in the new style")
        if start_from is not None or voices_in_turn:
            raise UsageError("--finetune keeps the base generator: leave out --start-from and --voices-in-turn")
        model_config, train_config = _recipe(lambda: _finetune_recipe(finetune, GENERATOR_FINETUNE), overrides)
        pieces = user_pieces(data, model_config.converter)
    options = _run_options(
        threads=threads,
        devices=devices,
        max_minutes=max_minutes,
        accelerator=accelerator,
        strategy=strategy,
        num_nodes=num_nodes,
        precision=precision,
        accumulate=accumulate,
    )
    run = train_generator(
        out=out,
        model_config=model_config,
        train_config=train_config,
        options=options,
        pieces=pieces,
        data=str(data) if data else "music21 corpus (packaged index)",
    )
    _trained(run)


def _analysis_finetune_recipe(task: str, base: str):
    """(the base model's config, the preset recipe with the fine-tuning rate and steps, starting from the base)."""
    from cantor.models.instrument import INSTRUMENT_KIND, InstrumentClassifierConfig
    from cantor.models.presets import ANALYSIS_FINETUNE, analysis_preset
    from cantor.models.transcriber import TRANSCRIBER_KIND, TranscriberConfig

    kind, config_class = (
        (TRANSCRIBER_KIND, TranscriberConfig)
        if task == "transcriber"
        else (INSTRUMENT_KIND, InstrumentClassifierConfig)
    )
    folder, config = _base_model(base, kind, config_class)
    _, recipe = analysis_preset(task, "transcriber-small" if task == "transcriber" else "classifier-small")
    return config, dataclasses.replace(recipe, **ANALYSIS_FINETUNE, init=str(folder))


def _vocoder_finetune_recipe(base: str):
    """(the base vocoder's config, its family's small recipe with the fine-tuning rate and steps, from the base)."""
    from cantor.models.presets import VOCODER_FINETUNE, vocoder_preset
    from cantor.models.vocoder import VOCODER_KIND, VocoderConfig

    folder, config = _base_model(base, VOCODER_KIND, VocoderConfig)
    phase = config.gan.phase if config.family == "gan" else "local"
    _, recipe = vocoder_preset(f"{config.family}-small" if phase == "local" else f"gan-small-{phase}")
    return config, dataclasses.replace(recipe, **VOCODER_FINETUNE, init=str(folder))


def _extend_recipe(base: str, style: str):
    """(the base generator's config, its style's corpus recipe at the extending rate, starting from the base)."""
    from cantor.models.presets import GENERATOR_EXTEND, generator_preset

    preset_config, preset_recipe = generator_preset(style)
    config, recipe = _finetune_recipe(base, preset_recipe)  # the preset's recipe, starting from the base
    if config.converter != preset_config.converter:
        raise UsageError(f"--start-from {base} writes other voices than --style {style}")
    return config, dataclasses.replace(recipe, **GENERATOR_EXTEND)


def _finetune_recipe(base: str, recipe):
    """(the base generator's config, the fine-tuning recipe starting from it); the weights are read once, by the
    training system."""
    from cantor.inference.generate import resolve_generator
    from cantor.models.generator import GENERATOR_KIND, GeneratorConfig
    from cantor.models.weights import read_config

    folder = resolve_generator(base)
    config = GeneratorConfig.from_dict(read_config(folder, kind=GENERATOR_KIND)["config"])
    return config, dataclasses.replace(recipe, init=str(folder))


def _separator_finetune_recipe(base: str, preset: str):
    """(the base separator's config, ``preset``'s recipe at the fine-tuning rate, starting from the base)."""
    from cantor.models.presets import SEPARATOR_FINETUNE, separator_preset
    from cantor.models.separator import SEPARATOR_KIND, SeparatorConfig

    folder, config = _base_model(base, SEPARATOR_KIND, SeparatorConfig)
    _, recipe = separator_preset(preset)
    return config, dataclasses.replace(recipe, **SEPARATOR_FINETUNE, init=str(folder))


def _base_model(base: str, kind: str, config_class):
    """(the folder of ``base``, a shipped name or a folder, and its config as ``config_class``): what a fine-tune starts
    from."""
    from cantor.models.registry import resolve_model
    from cantor.models.weights import read_config

    folder = resolve_model(base, kind=kind)
    return folder, config_class.from_dict(read_config(folder, kind=kind)["config"])
