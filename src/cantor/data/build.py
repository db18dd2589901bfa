"""The labelled multitrack data builder: corpus piece → arrangement → per-stem FluidSynth render → effects → files.

Layout (the MUSDB18 convention, so real MUSDB18-HQ folders read the same way)::

    DIR/build.json                      settings of the build (a re-run with other settings is refused)
    DIR/manifest.jsonl                  one line per song: everything that was drawn and rendered
    DIR/<split>/<song>/mixture.wav      the exact float sum of the stems
    DIR/<split>/<song>/<stem>.wav       one file per stem, sample-aligned, same length
    DIR/<split>/<song>/notes.mid        one track per stem: exactly the notes that were rendered
    DIR/<split>/<song>/song.json        this song's manifest line

A song is rendered into ``DIR/.partial/`` and renamed into place when complete, so a killed build never leaves a
half-written song and a re-run skips finished songs. Splits are assigned by *tune group*, never by file, and depend
only on the tune, so a tune is in the same split in every data set Cantor builds.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import re
import shutil
import time
import unicodedata
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pretty_midi
import soundfile

from cantor.audio.io import PCM24_FULL_SCALE, save_wav_pcm24_steps
from cantor.data.arrange import PRESETS, Arrangement, arrange
from cantor.data.corpus import Piece, load_corpus, split_of
from cantor.data.effects import apply_effects, draw_effects, rms_db
from cantor.data.instruments import family_of, instrument_name
from cantor.data.render import FluidRenderer, has_gm_drum_bank, is_drum_kit_font, soundfont_presets
from cantor.data.theory import PITCH_CLASS_NAMES
from cantor.errors import CantorError, UsageError
from cantor.files import write_json_atomic, write_text_atomic

BUILD_FORMAT_VERSION = 1
SPLITS = ("train", "valid", "test")
# Song i's split is SPLIT_CYCLE[i % 10], so any number of songs ≥ 3 has every split and extending a build keeps
# the songs it already has.
SPLIT_CYCLE = ("train", "test", "valid", "train", "train", "train", "train", "train", "train", "train")
# Share of band songs drawn from chorales (the rest are folk tunes), so harmony styles stay mixed.
BAND_CHORALE_SHARE = 0.3
STEM_GAIN_DB = {"melody": (-3, 3), "other": (-8, 0), "bass": (-6, 2), "drums": (-6, 2)}
VOICE_GAIN_DB = (-6, 0)
STEM_REFERENCE_DB = -20.0
DRUM_FONT_STREAM = 1  # seeds the drum-font draw apart from the song's own stream ([seed, index])
AUDIO_FORMATS = ("wav", "flac")  # both 24-bit PCM


@dataclass(frozen=True)
class BuildConfig:
    """Settings of one data build. Everything but ``songs`` must match when a build is extended or resumed."""

    preset: str = "band"
    songs: int = 10
    seconds: float = 30.0
    seed: int = 0
    soundfonts: tuple[str, ...] = ()
    sample_rate: int = 44100
    # Fonts drum stems draw from instead of ``soundfonts`` (e.g. recorded kits); empty: drums use ``soundfonts``.
    drum_soundfonts: tuple[str, ...] = ()
    effects: bool = True
    audio_format: str = "wav"

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise UsageError(f"unknown preset {self.preset!r}; choose from {', '.join(sorted(PRESETS))}")
        if self.songs < 1:
            raise UsageError(f"--songs must be at least 1, got {self.songs}")
        if not 2.0 <= self.seconds <= 600.0:
            raise UsageError(f"--seconds must be between 2 and 600, got {self.seconds}")
        if not self.soundfonts:
            raise UsageError("no soundfont given and none found: install fluid-soundfont-gm or pass --soundfont")
        missing = [font for font in (*self.soundfonts, *self.drum_soundfonts) if not Path(font).is_file()]
        if missing:
            raise UsageError(f"soundfont not found: {', '.join(missing)}")
        for font in self.soundfonts:
            if is_drum_kit_font(soundfont_presets(font)):
                raise UsageError(
                    f"{font} is a drum-kit soundfont, not a General-MIDI set: pass it with --drum-soundfont"
                )
        for font in self.drum_soundfonts:
            presets = soundfont_presets(font)
            if not is_drum_kit_font(presets) and not has_gm_drum_bank(presets):
                raise UsageError(f"{font} has no drum kit (no bank-128 preset): it cannot be a --drum-soundfont")
        if self.audio_format not in AUDIO_FORMATS:
            raise UsageError(f"--format must be one of {', '.join(AUDIO_FORMATS)}, got {self.audio_format!r}")
        if not 8000 <= self.sample_rate <= 192000:
            raise UsageError(f"--sample-rate must be between 8000 and 192000, got {self.sample_rate}")

    def fingerprint(self) -> dict:
        """The settings that define the songs (not how many)."""
        settings = asdict(self)
        settings.pop("songs")
        settings["soundfonts"] = [Path(f).name for f in self.soundfonts]
        settings["drum_soundfonts"] = [Path(f).name for f in self.drum_soundfonts]
        if not self.drum_soundfonts:  # builds made before drum fonts existed keep their fingerprint
            settings.pop("drum_soundfonts")
        settings["format_version"] = BUILD_FORMAT_VERSION
        return settings

    @property
    def all_soundfonts(self) -> tuple[str, ...]:
        """Every font the build renders with, each once."""
        return tuple(dict.fromkeys((*self.soundfonts, *self.drum_soundfonts)))

    @property
    def stems(self) -> tuple[str, ...]:
        return PRESETS[self.preset]


@dataclass(frozen=True)
class SongSpec:
    """One planned song: where it goes and which piece it arranges."""

    index: int
    name: str
    split: str
    piece: Piece


@dataclass
class BuildReport:
    built: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds_of_audio: float = 0.0
    wall_seconds: float = 0.0


def plan_songs(config: BuildConfig, pieces: Sequence[Piece]) -> list[SongSpec]:
    """Which piece each song arranges. Song ``i`` depends only on ``(seed, i)``: extending a build keeps its songs."""
    pools: dict[tuple[str, str], list[Piece]] = {}
    for piece in pieces:
        if config.preset == "chorale" and not piece.is_chorale:
            continue
        category = "chorale" if piece.is_chorale else "folk"
        pools.setdefault((split_of(piece.tune_group), category), []).append(piece)
    for key, pool in pools.items():
        order = np.random.default_rng([config.seed, _stable_int(key[0]), _stable_int(key[1])]).permutation(len(pool))
        pools[key] = [pool[i] for i in order]
    taken: dict[tuple[str, str], int] = {}
    specs = []
    for index in range(config.songs):
        split = SPLIT_CYCLE[index % len(SPLIT_CYCLE)]
        rng = np.random.default_rng([config.seed, index, 7])
        category = "chorale" if config.preset == "chorale" or rng.random() < BAND_CHORALE_SHARE else "folk"
        if (split, category) not in pools:
            category = "chorale" if category == "folk" else "folk"
        pool = pools.get((split, category))
        if not pool:
            raise CantorError(f"the corpus has no {config.preset} pieces for the {split} split")
        count = taken.get((split, category), 0)
        taken[(split, category)] = count + 1
        piece = pool[count % len(pool)]
        specs.append(SongSpec(index=index, name=f"{index:05d}-{_slug(piece.title)}", split=split, piece=piece))
    return specs


def build_dataset(
    config: BuildConfig,
    out: str | Path,
    *,
    workers: int = 1,
    on_song: Callable[[str], None] | None = None,
    pieces: Sequence[Piece] | None = None,
    splits: Sequence[str] = SPLITS,
    on_plan: Callable[[int], None] | None = None,
    shard: tuple[int, int] = (0, 1),
) -> BuildReport:
    """Render ``config.songs`` songs into ``out``; finished songs are skipped, failures reported, not raised.

    ``splits`` restricts the build to the songs of those splits (e.g. only ``test`` for a held-out soundfont set);
    ``shard=(k, n)`` to every n-th song from the k-th, so n machines build one data set between them (each into
    its own folder; training reads them together). Either way the songs are those of a full build with the same
    settings.
    """
    number, count = shard
    if not 0 <= number < count:
        raise UsageError(f"shard must be k/n with 0 <= k < n, got {number}/{count}")
    unknown = sorted(set(splits) - set(SPLITS))
    if unknown or not splits:
        raise UsageError(f"--splits takes a comma-separated subset of {', '.join(SPLITS)}, got {', '.join(splits)}")
    out = Path(out)
    start = time.perf_counter()
    _claim_directory(out, config)
    specs = [
        spec
        for spec in plan_songs(config, load_corpus() if pieces is None else pieces)
        if spec.split in splits and spec.index % count == number
    ]
    if on_plan:
        on_plan(len(specs))
    report = BuildReport()
    todo = []
    for spec in specs:
        if (out / spec.split / spec.name / "song.json").is_file():
            report.skipped.append(spec.name)
            if on_song:
                on_song(spec.name)
        else:
            todo.append(spec)
    if workers <= 1 or len(todo) <= 1:
        renderer = FluidRenderer(config.all_soundfonts, sample_rate=config.sample_rate) if todo else None
        for spec in todo:
            _collect(report, spec, lambda s=spec: render_song(s, config, out, renderer), on_song)
        if renderer is not None:
            renderer.close()
    else:
        # "spawn", not fork: a forked child inherits FluidSynth's (GLib's) locks mid-use and can hang forever.
        with ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(config.all_soundfonts, config.sample_rate),
        ) as pool:
            futures = {pool.submit(_render_in_worker, spec, config, out): spec for spec in todo}
            for future in as_completed(futures):
                _collect(report, futures[future], future.result, on_song)
    write_manifest(out)
    report.wall_seconds = time.perf_counter() - start
    return report


def _collect(report: BuildReport, spec: SongSpec, run: Callable[[], dict], on_song) -> None:
    try:
        record = run()
    except Exception as error:  # noqa: BLE001 — one broken song must not stop the build; it is reported
        report.failed.append((spec.name, f"{type(error).__name__}: {error}"))
    else:
        report.built.append(spec.name)
        report.seconds_of_audio += record["duration_seconds"]
    if on_song:
        on_song(spec.name)


def _claim_directory(out: Path, config: BuildConfig) -> None:
    """Create ``out`` or check that it holds a build with the same settings; clear leftovers of a killed run."""
    settings_path = out / "build.json"
    if settings_path.is_file():
        existing = json.loads(settings_path.read_text())
        wanted = config.fingerprint()
        if existing != wanted:
            differing = ", ".join(sorted(k for k in wanted if existing.get(k) != wanted[k]))
            raise UsageError(
                f"{out} holds a build with other settings ({differing}); use the same settings or a new --out"
            )
    elif out.exists() and any(out.iterdir()):
        raise UsageError(f"{out} exists and is not a Cantor data folder; choose an empty or new --out")
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(settings_path, config.fingerprint())
    shutil.rmtree(out / ".partial", ignore_errors=True)


_worker_renderer: FluidRenderer | None = None


def _init_worker(soundfonts: tuple[str, ...], sample_rate: int) -> None:
    # One renderer per worker process, made once: loading the soundfonts costs seconds.
    global _worker_renderer
    _worker_renderer = FluidRenderer(soundfonts, sample_rate=sample_rate)


def _render_in_worker(spec: SongSpec, config: BuildConfig, out: Path) -> dict:
    assert _worker_renderer is not None, "worker initializer did not run"
    return render_song(spec, config, out, _worker_renderer)


def render_song(spec: SongSpec, config: BuildConfig, out: Path, renderer: FluidRenderer) -> dict:
    """Arrange, render, process and write one song; returns its manifest record."""
    rng = np.random.default_rng([config.seed, spec.index])
    arrangement = arrange(spec.piece, preset=config.preset, seconds=config.seconds, rng=rng)
    num_samples = int(round(config.seconds * config.sample_rate))
    stems: dict[str, np.ndarray] = {}
    stem_records: dict[str, dict] = {}
    for name in config.stems:
        plan = arrangement.stems[name]
        soundfont = config.soundfonts[int(rng.integers(len(config.soundfonts)))]
        if plan.is_drum and config.drum_soundfonts:
            # Drawn from a stream of its own, after the usual draw: a build with drum fonts has the same songs, stem
            # for stem, as one without, but for the drums' sound.
            drum_rng = np.random.default_rng([config.seed, spec.index, DRUM_FONT_STREAM])
            soundfont = config.drum_soundfonts[int(drum_rng.integers(len(config.drum_soundfonts)))]
        rendered = renderer.render(
            plan.notes, soundfont=soundfont, program=plan.program, is_drum=plan.is_drum, num_samples=num_samples
        )
        audio = rendered.audio  # this stem's own array: scaled in place below
        level = rms_db(audio)
        if level > -100:
            audio *= np.float32(10 ** ((STEM_REFERENCE_DB - level) / 20))
        chain = draw_effects(name, plan.family, rng) if config.effects else {}
        if chain:
            audio = apply_effects(audio, chain, sample_rate=config.sample_rate)
        low, high = STEM_GAIN_DB.get(name, VOICE_GAIN_DB)
        gain_db = round(float(rng.uniform(low, high)), 2)
        audio *= np.float32(10 ** (gain_db / 20))
        stems[name] = audio
        pitches = [n.pitch for n in plan.notes]
        stem_records[name] = {
            "program": rendered.program,
            "requested_program": plan.program,
            "is_drum": plan.is_drum,
            "instrument": instrument_name(rendered.program, is_drum=plan.is_drum),
            "family": family_of(rendered.program, is_drum=plan.is_drum),
            "soundfont": Path(soundfont).name,
            "note_count": len(plan.notes),
            "pitch_range": [min(pitches), max(pitches)] if pitches else None,
            "gain_db": gain_db,
            "effects": chain,
            "details": plan.details,
        }
    mixture, stems, mix_record = _mix(stems, rng)
    for name, steps in stems.items():
        stem_records[name]["loudness_rms_db"] = rms_db(steps, full_scale=PCM24_FULL_SCALE)
    record = _song_record(spec, config, arrangement, stem_records, mix_record)
    _write_song(out, spec, config, arrangement, mixture, stems, record)
    return record


def _mix(stems: dict[str, np.ndarray], rng: np.random.Generator) -> tuple[np.ndarray, dict[str, np.ndarray], dict]:
    """Scale all stems together to a drawn peak, quantise to 24-bit integers and sum them.

    Returns the mixture and the stems as int32 samples on the 24-bit grid (what the files hold). Integer arithmetic
    makes ``mixture == sum(stems)`` exact by construction, for the files on disk and for their float readings alike:
    every value stays below 2²⁴ in magnitude, which float32 represents exactly.
    """
    raw = _total(stems.values())
    # A stem can peak above the mixture (stems cancel); every file must stay inside [-1, 1).
    peak = max(_peak(raw), *(_peak(audio) for audio in stems.values()))
    target_peak = float(rng.uniform(0.3, 0.9))
    scale = target_peak / peak if peak > 0 else 1.0
    to_steps = np.float32(scale * PCM24_FULL_SCALE)
    quantised = {}
    for name, audio in stems.items():
        np.multiply(audio, to_steps, out=raw)  # reuses the sum's buffer: it is no longer needed
        quantised[name] = np.rint(raw, out=raw).astype(np.int32)
    mixture = _total(quantised.values())
    loudness = rms_db(mixture, full_scale=PCM24_FULL_SCALE)
    return mixture, quantised, {"peak": round(target_peak, 4), "scale": scale, "loudness_rms_db": loudness}


def _total(arrays) -> np.ndarray:
    """The sum of equally shaped arrays in a new array, added in place (no temporary per addition)."""
    first, *rest = arrays
    total = first.copy()
    for array in rest:
        total += array
    return total


def _peak(audio: np.ndarray) -> float:
    return max(float(audio.max()), -float(audio.min()))  # two passes, no |audio| copy


def _song_record(spec, config, arrangement: Arrangement, stem_records: dict, mix_record: dict) -> dict:
    piece = arrangement.piece
    extension = config.audio_format
    return {
        "name": spec.name,
        "index": spec.index,
        "split": spec.split,
        "preset": config.preset,
        "seed": config.seed,
        "source": {
            "piece_id": piece.piece_id,
            "title": piece.title,
            "collection": piece.source,
            "tune_group": piece.tune_group,
        },
        "key": {"tonic": PITCH_CLASS_NAMES[(piece.tonic_pc + arrangement.transpose) % 12], "mode": piece.mode},
        "meter": f"{piece.meter[0]}/{piece.meter[1]}",
        "style": arrangement.style,
        "tempo_bpm": arrangement.tempo_bpm,
        "transpose": arrangement.transpose,
        "start_bar": arrangement.start_bar,
        "num_bars": arrangement.num_bars,
        "duration_seconds": config.seconds,
        "sample_rate": config.sample_rate,
        "choices": arrangement.choices,
        "mix": mix_record,
        "stems": stem_records,
        "files": {name: f"{name}.{extension}" for name in ("mixture", *config.stems)} | {"notes": "notes.mid"},
    }


def _write_song(out: Path, spec, config, arrangement: Arrangement, mixture, stems, record: dict) -> None:
    partial = out / ".partial" / f"{spec.name}.{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    for name, steps in {"mixture": mixture, **stems}.items():
        path = partial / record["files"][name]
        if config.audio_format == "wav":
            save_wav_pcm24_steps(path, steps, config.sample_rate)
        else:  # libsndfile keeps the top 24 bits of an int32
            soundfile.write(path, (steps << 8).T, config.sample_rate, format="FLAC", subtype="PCM_24")
    notes_midi(arrangement).write(str(partial / "notes.mid"))
    (partial / "song.json").write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    final = out / spec.split / spec.name
    final.parent.mkdir(parents=True, exist_ok=True)
    os.rename(partial, final)  # atomic: the song appears complete or not at all


def notes_midi(arrangement: Arrangement) -> pretty_midi.PrettyMIDI:
    """One MIDI track per stem, named after the stem, with exactly the rendered notes."""
    midi = pretty_midi.PrettyMIDI(resolution=960, initial_tempo=arrangement.tempo_bpm)
    for name, plan in arrangement.stems.items():
        instrument = pretty_midi.Instrument(program=plan.program, is_drum=plan.is_drum, name=name)
        instrument.notes = [pretty_midi.Note(n.velocity, n.pitch, n.start, n.end) for n in plan.notes]
        midi.instruments.append(instrument)
    return midi


def read_manifest(root: str | Path) -> list[dict]:
    """Song records of a built folder, in song order (from the per-song files, which are always complete)."""
    root = Path(root)
    records = [json.loads(p.read_text()) for split in SPLITS for p in (root / split).glob("*/song.json")]
    return sorted(records, key=lambda r: r["index"])


def write_manifest(root: Path) -> Path:
    lines = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in read_manifest(root))
    return write_text_atomic(root / "manifest.jsonl", lines)


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:32] or "untitled"


def _stable_int(text: str) -> int:
    return int(hashlib.sha1(text.encode()).hexdigest()[:8], 16)


__all__ = [
    "BuildConfig",
    "BuildReport",
    "SongSpec",
    "build_dataset",
    "notes_midi",
    "plan_songs",
    "read_manifest",
    "render_song",
    "split_of",
    "write_manifest",
]
