"""``cantor serve``: Cantor Studio, the web page and its JSON API (FastAPI + uvicorn)."""

from __future__ import annotations

from pathlib import Path

import typer

from cantor.errors import UsageError


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (localhost only by default)."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    data_dir: Path = typer.Option(Path("studio-data"), "--data-dir", help="Where jobs, uploads and results live."),
    workers: int = typer.Option(1, "--workers", help="Worker processes running jobs side by side."),
    queue: int = typer.Option(8, "--queue", help="Jobs waiting or running; more are answered 503 + Retry-After."),
    max_upload_mb: float = typer.Option(200.0, "--max-upload-mb", help="Largest upload accepted."),
    max_age_hours: float = typer.Option(24.0, "--max-age-hours", help="Finished jobs older than this are deleted."),
) -> None:
    """Serve Cantor Studio: upload a song, separate, analyse, listen, generate. The API is described at /docs."""
    import uvicorn

    from cantor.web.app import StudioSettings, create_app

    if workers < 1 or queue < 1:
        raise UsageError("--workers and --queue must be at least 1")
    if max_upload_mb <= 0 or max_age_hours <= 0:
        raise UsageError("--max-upload-mb and --max-age-hours must be positive")
    settings = StudioSettings(
        data_dir=data_dir, workers=workers, queue_size=queue, max_upload_mb=max_upload_mb, max_age_hours=max_age_hours
    )
    typer.echo(f"Cantor Studio on http://{host}:{port}/ (jobs in {data_dir})")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")
