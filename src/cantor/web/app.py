"""Cantor Studio's server: a FastAPI app over the job store, a bounded queue and a pool of worker processes.

    POST   /api/jobs?task=separate&options={...}&filename=song.wav   (body: the audio file) → {"id": ...}
    GET    /api/jobs/{id}                                             → state, progress, files, error
    GET    /api/jobs/{id}/files/{name}                                → one result file
    GET    /api/jobs/{id}/zip                                         → every result file
    DELETE /api/jobs/{id}

The upload is the raw request body, so its size is checked while it streams to disk (a multipart form would be
spooled whole before any handler could refuse it). Its content is checked by decoding it, never by its name; the
stored file is named by the server. Jobs run in worker processes through the same API as the CLI; a job that fails
reports why in its status and the server carries on.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import multiprocessing
import threading
import zipfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from cantor.web.jobs import NEEDS_UPLOAD, JobStore, check_options, run_job

STATIC = Path(__file__).parent / "static"


@dataclass(frozen=True)
class StudioSettings:
    data_dir: Path = Path("studio-data")
    workers: int = 1
    queue_size: int = 8  # jobs waiting or running; one more gets 503 with Retry-After
    max_upload_mb: float = 200.0
    max_age_hours: float = 24.0  # finished jobs older than this are deleted
    retry_after_s: int = 5


class _Queue:
    """A fixed pool of worker processes and a bound on the jobs it holds (waiting + running)."""

    def __init__(self, settings: StudioSettings, store: JobStore) -> None:
        self.settings, self.store = settings, store
        # spawn, not fork: the server's threads (and torch's, in a test process) must not be copied mid-flight
        self.pool = ProcessPoolExecutor(settings.workers, mp_context=multiprocessing.get_context("spawn"))
        self.lock = threading.Lock()
        self.held = 0

    def reserve(self) -> bool:
        with self.lock:
            if self.held >= self.settings.queue_size:
                return False
            self.held += 1
            return True

    def release(self, *_) -> None:
        with self.lock:
            self.held -= 1

    def submit(self, job_id: str) -> None:
        future = self.pool.submit(run_job, str(self.store.root.parent), job_id)
        future.add_done_callback(self.release)


def create_app(settings: StudioSettings = StudioSettings()) -> FastAPI:
    store = JobStore(settings.data_dir)
    queue = _Queue(settings, store)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        for job in store.all():  # a restarted server finishes what was left
            if job.state in ("queued", "running"):
                with queue.lock:
                    queue.held += 1
                queue.submit(job.id)
        cleaner = asyncio.create_task(_clean_periodically(store, settings.max_age_hours * 3600))
        yield
        cleaner.cancel()
        queue.pool.shutdown(wait=False, cancel_futures=True)

    # FastAPI's own /docs page loads Swagger UI from a CDN; the studio must work offline, so it serves its own.
    app = FastAPI(title="Cantor Studio", version="0.1", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/docs", include_in_schema=False)
    def api_page() -> FileResponse:
        return FileResponse(STATIC / "docs.html", media_type="text/html")

    @app.post("/api/jobs", status_code=201)
    async def submit(request: Request, task: str, options: str = "{}", filename: str = "") -> dict:
        """Start a job. ``options`` is a JSON object; the body is the audio file for every task but generate."""
        try:
            parsed = json.loads(options)
            if not isinstance(parsed, dict):
                raise ValueError("options must be a JSON object")
            checked = check_options(task, parsed)
        except ValueError as error:
            raise HTTPException(422, str(error)) from None
        limit = int(settings.max_upload_mb * 2**20)
        declared = request.headers.get("content-length")
        if task in NEEDS_UPLOAD and declared is not None and int(declared) > limit:
            raise HTTPException(413, f"the upload is over the limit of {settings.max_upload_mb:g} MB")
        if not queue.reserve():
            return JSONResponse(
                {"detail": "the studio is busy; try again shortly"},
                status_code=503,
                headers={"Retry-After": str(settings.retry_after_s)},
            )
        job = store.create(task, checked, input_name=Path(filename).name[:200] or None)
        try:
            if task in NEEDS_UPLOAD:
                await _receive(request, store, job, limit)
        except BaseException:  # refused, or the client went away mid-upload: keep nothing
            store.delete(job.id)
            queue.release()
            raise
        queue.submit(job.id)
        return {"id": job.id, "state": job.state}

    @app.get("/api/jobs/{job_id}")
    def status(job_id: str) -> dict:
        """A job's state (queued, running, done, failed), progress (0–1), stage, error, files and summary."""
        try:
            return asdict(store.load(job_id))
        except KeyError:
            raise HTTPException(404, "no such job") from None

    @app.get("/api/jobs/{job_id}/files/{name:path}")
    def result_file(job_id: str, name: str) -> FileResponse:
        """One file the job wrote, by a name from its ``files`` list."""
        try:
            path = store.output_file(job_id, name)
        except KeyError:
            raise HTTPException(404, "no such file") from None
        return FileResponse(path, filename=path.name)

    @app.get("/api/jobs/{job_id}/zip")
    def result_zip(job_id: str) -> Response:
        """Every file of a finished job, as one zip."""
        try:
            job = store.load(job_id)
        except KeyError:
            raise HTTPException(404, "no such job") from None
        if job.state != "done":
            raise HTTPException(409, f"the job is {job.state}")
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name in job.files:
                archive.write(store.output_file(job_id, name), name)
        headers = {"Content-Disposition": f'attachment; filename="cantor-{job.task}-{job_id[:8]}.zip"'}
        return Response(buffer.getvalue(), media_type="application/zip", headers=headers)

    @app.delete("/api/jobs/{job_id}", status_code=204)
    def delete(job_id: str) -> Response:
        """Delete a job with its upload and results."""
        try:
            store.delete(job_id)
        except KeyError:
            raise HTTPException(404, "no such job") from None
        return Response(status_code=204)

    return app


async def _receive(request: Request, store: JobStore, job, limit: int) -> None:
    """Stream the body to ``input/upload<suffix>``, refusing it (413) as soon as it passes ``limit`` bytes, then
    decode its header (415 when it is not audio)."""
    from cantor.audio.io import READABLE_EXTENSIONS, audio_info
    from cantor.errors import CantorError

    suffix = Path(job.input_name or "").suffix.lower()
    target = store.folder(job.id) / "input" / f"upload{suffix if suffix in READABLE_EXTENSIONS else '.wav'}"
    size = 0
    with open(target, "wb") as file:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise HTTPException(413, f"the upload is over the limit of {limit / 2**20:g} MB")
            file.write(chunk)
    if size == 0:
        raise HTTPException(422, "no file in the request body")
    try:
        audio_info(target)  # (it refuses a file without samples too)
    except CantorError as error:
        raise HTTPException(415, f"not a readable audio file: {str(error).replace(str(target), 'upload')}") from None


async def _clean_periodically(store: JobStore, max_age_s: float) -> None:
    while True:
        store.remove_older_than(max_age_s)
        await asyncio.sleep(min(600.0, max(1.0, max_age_s / 4)))
