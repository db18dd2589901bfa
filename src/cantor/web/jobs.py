"""Studio jobs on disk, and the worker that runs them through the same ``cantor`` API as the CLI.

A job is a folder ``DATA_DIR/jobs/<id>/`` holding ``job.json`` (task, options, state, progress, error, the files it
wrote), ``input/`` (the upload, under a name the server chose) and ``output/``. The state lives only on disk, so a
restarted server finds every job again: finished ones are served, unfinished ones are queued again. Every write of
``job.json`` is atomic; a worker that dies leaves the job ``failed`` with the reason, never half-written files in
``output/`` (each task writes into a staging folder renamed when complete).
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cantor.data.theory import PITCH_CLASS_NAMES
from cantor.errors import CantorError
from cantor.files import write_json_atomic

TASKS = ("separate", "analyze", "generate", "variations")
NEEDS_UPLOAD = {"separate", "analyze", "variations"}
JOB_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")  # secrets.token_urlsafe(16)
STATES = ("queued", "running", "done", "failed")


@dataclass
class Job:
    id: str
    task: str
    options: dict
    state: str = "queued"
    progress: float = 0.0
    stage: str = "waiting for a worker"
    error: str | None = None
    input_name: str | None = None  # the client's file name, for display only: never a path
    files: list[str] = field(default_factory=list)  # relative to output/
    summary: dict = field(default_factory=dict)
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)


class JobStore:
    """Jobs under ``root/jobs``; ids are random and unguessable (128 bits)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root) / "jobs"
        self.root.mkdir(parents=True, exist_ok=True)

    def folder(self, job_id: str) -> Path:
        if not JOB_ID.match(job_id):
            raise KeyError(job_id)
        return self.root / job_id

    def create(self, task: str, options: dict, input_name: str | None = None) -> Job:
        job = Job(id=secrets.token_urlsafe(16), task=task, options=options, input_name=input_name)
        (self.root / job.id / "input").mkdir(parents=True)
        self.save(job)
        return job

    def save(self, job: Job) -> None:
        job.updated = time.time()
        write_json_atomic(self.root / job.id / "job.json", asdict(job))

    def load(self, job_id: str) -> Job:
        path = self.folder(job_id) / "job.json"
        if not path.is_file():
            raise KeyError(job_id)
        return Job(**json.loads(path.read_text()))

    def all(self) -> list[Job]:
        jobs = []
        for path in self.root.glob("*/job.json"):
            try:
                jobs.append(Job(**json.loads(path.read_text())))
            except (OSError, ValueError, TypeError):
                continue  # a folder being deleted, or not a job
        return sorted(jobs, key=lambda job: job.created)

    def delete(self, job_id: str) -> None:
        folder = self.folder(job_id)
        if not folder.is_dir():
            raise KeyError(job_id)
        shutil.rmtree(folder, ignore_errors=True)

    def input_path(self, job: Job) -> Path | None:
        found = sorted((self.root / job.id / "input").glob("upload.*"))
        return found[0] if found else None

    def output_file(self, job_id: str, name: str) -> Path:
        """A file the job wrote; only names in its ``files`` list exist here (no path ever comes from a client)."""
        job = self.load(job_id)
        if name not in job.files:
            raise KeyError(name)
        return self.folder(job_id) / "output" / name

    def remove_older_than(self, seconds: float) -> int:
        """Delete finished jobs last updated more than ``seconds`` ago; returns how many."""
        cutoff = time.time() - seconds
        old = [job for job in self.all() if job.state in ("done", "failed") and job.updated < cutoff]
        for job in old:
            shutil.rmtree(self.root / job.id, ignore_errors=True)
        return len(old)


# --- options ---------------------------------------------------------------------------------------------------

STUDIO_KEYS = ("style", "written", *PITCH_CLASS_NAMES)  # Generator.sample's keys: the style's, as written, a tonic

# Per task: option → (type, check, what it must be). Anything else is refused, so a client cannot reach further
# into the API than the page does.
_OPTIONS = {
    "separate": {"model": (str, lambda v: v in ("band", "chorale"), "band or chorale")},
    "analyze": {"model": (str, lambda v: v in ("band", "chorale"), "band or chorale")},
    "generate": {
        "style": (str, lambda v: v in ("chorale", "folk", "band"), "chorale, folk or band"),
        "n": (int, lambda v: 1 <= v <= 8, "1 to 8"),
        "bars": (int, lambda v: 1 <= v <= 64, "1 to 64"),
        "temperature": (float, lambda v: 0 <= v <= 2, "0 to 2"),
        "tempo": (float, lambda v: 30 <= v <= 240, "30 to 240"),
        "seed": (int, lambda v: 0 <= v < 2**31, "0 to 2^31"),
        "interpolate": (int, lambda v: 2 <= v <= 9, "2 to 9 steps"),
        "key": (str, lambda v: v in STUDIO_KEYS, "style, written or a tonic from C to B"),
    },
    "variations": {
        "stem": (str, lambda v: v in ("melody", "bass", "other", "drums", "none"), "melody, bass, other, drums, none"),
        "n": (int, lambda v: 1 <= v <= 8, "1 to 8"),
        "strength": (float, lambda v: 0 <= v <= 16, "0 to 16"),
        "seed": (int, lambda v: 0 <= v < 2**31, "0 to 2^31"),
    },
}


def check_options(task: str, options: dict) -> dict:
    """``options`` of ``task`` converted to their types; ValueError names the first one that is wrong."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    allowed = _OPTIONS[task]
    checked = {}
    for key, value in options.items():
        if key not in allowed:
            raise ValueError(f"{task} takes no option {key!r} (it takes {', '.join(allowed)})")
        kind, valid, expected = allowed[key]
        try:
            converted = kind(value)
        except (TypeError, ValueError):
            raise ValueError(f"option {key} must be {expected}, got {value!r}") from None
        if isinstance(value, bool) or not valid(converted):
            raise ValueError(f"option {key} must be {expected}, got {value!r}")
        checked[key] = converted
    return checked


# --- the worker ----------------------------------------------------------------------------------------------


def run_job(root: str, job_id: str) -> str:
    """Run one job in a worker process; returns its final state. Every error ends in ``failed`` with the reason."""
    store = JobStore(Path(root))
    try:
        job = store.load(job_id)
    except KeyError:
        return "deleted"
    staging = store.root / job_id / ".output.partial"

    def progress(fraction: float, stage: str) -> None:
        job.progress, job.stage = round(fraction, 3), stage
        if (store.root / job_id).is_dir():  # deleted while running: nothing to report to
            store.save(job)

    try:
        job.state = "running"
        progress(0.02, "starting")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        job.summary = TASK_RUNNERS[job.task](store.input_path(job), staging, job.options, progress)
        output = store.root / job_id / "output"
        shutil.rmtree(output, ignore_errors=True)
        staging.rename(output)
        job.files = sorted(str(path.relative_to(output)) for path in output.rglob("*") if path.is_file())
        job.state, job.progress, job.stage = "done", 1.0, "done"
    except CantorError as error:
        job.state, job.error, job.stage = "failed", str(error), "failed"
    except Exception as error:  # noqa: BLE001 — a bug must fail the job, never the server
        job.state, job.error, job.stage = "failed", f"internal error: {error!r}", "failed"
        traceback.print_exc()
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if (store.root / job_id).is_dir():
        store.save(job)
    return job.state


def _separate(upload: Path, out: Path, options: dict, progress) -> dict:
    from cantor.inference.separate import Separator

    progress(0.1, "loading the separator")
    separator = Separator(options.get("model", "band"))
    progress(0.2, "separating")
    written = separator.separate_file(upload, out / "tmp")
    stems = {}
    for name, path in written.items():
        target = out / f"{name}.wav"
        path.replace(target)
        stems[name] = target.name
    shutil.rmtree(out / "tmp", ignore_errors=True)
    progress(0.8, "drawing the stems")
    from cantor.web.pictures import stem_picture

    for name in stems:
        stem_picture(out / f"{name}.wav", out / f"{name}.png")
    return {"stems": list(stems), "model": separator.name}


def _analyze(upload: Path, out: Path, options: dict, progress) -> dict:
    from cantor.inference.analyze import Analyzer

    progress(0.1, "loading the models")
    analyzer = Analyzer(options.get("model", "band"))
    analysis = analyzer.analyze_file(
        upload,
        out / "analysis",
        title=options.get("title", "upload"),
        overwrite=True,
        progress=lambda step, share: progress(0.15 + 0.8 * share, step),
    )
    stems = {
        name: {"family": stem.family, "instruments": stem.instruments[:3], "notes": len(stem.notes)}
        for name, stem in analysis.stems.items()
    }
    return {"stems": stems, "sections": analysis.sections.to_dict(), "duration": round(analysis.duration, 2)}


def _generate(upload: Path | None, out: Path, options: dict, progress) -> dict:
    from cantor.inference.generate import Generator
    from cantor.inference.scores import ScoreOptions, write_pieces

    progress(0.1, "loading the generator")
    generator = Generator(options.get("style", "chorale"))
    progress(0.3, "writing music")
    steps = options.get("interpolate")
    pieces = generator.sample(
        2 if steps else int(options.get("n", 1)),
        bars=int(options.get("bars", 8)),
        temperature=options.get("temperature"),  # absent: the style's own
        seed=options.get("seed"),
        key=options.get("key", "style"),
    )
    if steps:  # a morph between two new pieces, both ends included
        pieces = generator.interpolate(pieces[0], pieces[1], steps=steps)
    progress(0.6, "rendering audio")
    written = write_pieces(pieces, out, ScoreOptions(tempo_bpm=float(options.get("tempo", 90.0))))
    return {"pieces": [path.stem for path in written], "style": generator.name, "interpolated": bool(steps)}


def _variations(upload: Path, out: Path, options: dict, progress) -> dict:
    from cantor.inference.variations import Variations, write_variations

    progress(0.1, "loading the models")
    engine = Variations(options.get("model", "stem-vae"))
    stem = options.get("stem", "melody")
    progress(0.3, "separating and varying" if stem != "none" else "varying")
    result = engine.from_file(
        upload,
        stem=stem,
        n=int(options.get("n", 2)),
        strength=float(options.get("strength", 4.0)),
        seed=options.get("seed"),
    )
    name = "stem" if stem == "none" else stem
    write_variations(result, out, stem=name)
    return {"stem": name, "distances": [round(d, 4) for d in result.mel_distance]}


TASK_RUNNERS = {"separate": _separate, "analyze": _analyze, "generate": _generate, "variations": _variations}
