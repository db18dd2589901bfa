"""Cantor Studio's API: the job life cycle on the bundled example, limits and refusals, a full queue, restarts."""

from __future__ import annotations

import io
import json
import time
import zipfile
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import soundfile
from fastapi.testclient import TestClient

from cantor.data.corpus import Note
from cantor.data.theory import estimate_key
from cantor.web.app import StudioSettings, create_app
from cantor.web.jobs import JobStore

EXAMPLE = Path(__file__).parent.parent / "examples" / "band-example" / "mixture.flac"


def wait(client: TestClient, job_id: str, timeout: float = 300.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["state"] in ("done", "failed"):
            return job
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} still {job['state']} after {timeout} s")


def submit(client: TestClient, task: str, options: dict, body: bytes | None = None, filename: str = "song.flac"):
    params = {"task": task, "options": json.dumps(options)}
    if body is not None:
        params["filename"] = filename
    return client.post("/api/jobs", params=params, content=body)


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    data = tmp_path_factory.mktemp("studio")
    with TestClient(create_app(StudioSettings(data_dir=data, workers=2, queue_size=8))) as client:
        yield client, data


def test_separating_the_bundled_example_end_to_end(studio):
    client, data = studio
    response = submit(client, "separate", {"model": "band"}, EXAMPLE.read_bytes(), filename="mixture.flac")
    assert response.status_code == 201, response.text
    job = wait(client, response.json()["id"])
    assert job["state"] == "done", job["error"]
    assert job["summary"]["stems"] == ["drums", "bass", "melody", "other"]
    assert {f"{stem}.{ext}" for stem in job["summary"]["stems"] for ext in ("wav", "png")} <= set(job["files"])
    bass = client.get(f"/api/jobs/{job['id']}/files/bass.wav")
    assert bass.status_code == 200
    audio, rate = soundfile.read(io.BytesIO(bass.content))
    assert rate == 44100 and abs(len(audio) / rate - soundfile.info(EXAMPLE).duration) < 0.01
    assert np.abs(audio).max() > 0.01
    archive = zipfile.ZipFile(io.BytesIO(client.get(f"/api/jobs/{job['id']}/zip").content))
    assert sorted(archive.namelist()) == sorted(job["files"])
    assert not list((data / "jobs" / job["id"]).glob(".output*"))  # no staging left behind
    assert client.delete(f"/api/jobs/{job['id']}").status_code == 204
    assert client.get(f"/api/jobs/{job['id']}").status_code == 404


def test_a_compressed_upload_separates_to_stems_as_long_as_its_decoded_audio(studio, tmp_path):
    """AAC in M4A, the common format of phones' and shops' music, through the decoder into the usual job."""
    from cantor.audio import load
    from tests.encoded import write_encoded

    client, _ = studio
    mixture, rate = soundfile.read(EXAMPLE, frames=3 * 44100, dtype="float32")
    upload = write_encoded(tmp_path / "track.m4a", mixture, rate)
    response = submit(client, "separate", {"model": "band"}, upload.read_bytes(), filename="track.m4a")
    assert response.status_code == 201, response.text
    job = wait(client, response.json()["id"])
    assert job["state"] == "done", job["error"]
    bass, bass_rate = soundfile.read(io.BytesIO(client.get(f"/api/jobs/{job['id']}/files/bass.wav").content))
    assert bass_rate == rate and bass.shape == tuple(reversed(load(upload)[0].shape))


def test_generating_writes_midi_audio_and_a_piano_roll(studio):
    client, _ = studio
    response = submit(client, "generate", {"style": "chorale", "bars": 4, "n": 2, "seed": 3, "key": "Bb"})
    assert response.status_code == 201, response.text
    job = wait(client, response.json()["id"])
    assert job["state"] == "done", job["error"]
    assert len(job["summary"]["pieces"]) == 2
    for piece in job["summary"]["pieces"]:
        assert {f"{piece}.mid", f"{piece}.wav", f"{piece}.png", f"{piece}.musicxml"} <= set(job["files"])
    midi = client.get(f"/api/jobs/{job['id']}/files/{job['summary']['pieces'][0]}.mid").content
    tracks = pretty_midi.PrettyMIDI(io.BytesIO(midi)).instruments
    assert sum(len(track.notes) for track in tracks) > 8
    notes = [Note(0, int(100 * (n.end - n.start)), n.pitch) for track in tracks for n in track.notes]
    assert estimate_key(notes)[0] == 10  # in the key asked for: B flat


def test_interpolating_between_two_new_pieces(studio):
    client, _ = studio
    job = wait(
        client, submit(client, "generate", {"style": "folk", "bars": 4, "seed": 5, "interpolate": 3}).json()["id"]
    )
    assert job["state"] == "done", job["error"]
    assert job["summary"]["interpolated"] and len(job["summary"]["pieces"]) == 3
    assert submit(client, "generate", {"interpolate": 1}).status_code == 422


def test_a_failing_job_reports_why_and_the_studio_carries_on(studio, tmp_path):
    client, _ = studio
    short = io.BytesIO()
    soundfile.write(short, np.zeros(2000, dtype=np.float32) + 0.1, 44100, format="WAV")
    response = submit(client, "variations", {"stem": "none"}, short.getvalue(), filename="blip.wav")
    job = wait(client, response.json()["id"])
    assert job["state"] == "failed" and "too short" in job["error"]
    assert client.get("/api/jobs/" + job["id"]).status_code == 200
    again = submit(client, "generate", {"style": "folk", "bars": 2, "seed": 1})
    assert wait(client, again.json()["id"])["state"] == "done"


def test_bad_requests_are_refused_with_the_reason(studio):
    client, data = studio
    before = len(list((data / "jobs").iterdir()))
    assert submit(client, "transcribe", {}).status_code == 422
    assert "bars" in submit(client, "generate", {"bars": 500}).json()["detail"]
    assert "tonic" in submit(client, "generate", {"key": "H"}).json()["detail"]
    assert submit(client, "generate", {"style": "chorale", "path": "/etc"}).status_code == 422
    assert submit(client, "generate", {"bars": True}).status_code == 422
    text = submit(client, "separate", {}, b"this is not audio at all " * 40, filename="song.wav")
    assert text.status_code == 415 and "not a readable audio file" in text.json()["detail"]
    assert submit(client, "separate", {}, b"", filename="song.wav").status_code == 422
    assert len(list((data / "jobs").iterdir())) == before  # nothing refused was kept


def test_no_path_reaches_outside_a_job(studio):
    client, data = studio
    response = submit(client, "generate", {"style": "folk", "bars": 2, "seed": 2})
    job = wait(client, response.json()["id"])
    for name in ("../job.json", "../../jobs", "..%2Fjob.json", "/etc/passwd", "%2Fetc%2Fpasswd", "input/upload.wav"):
        assert client.get(f"/api/jobs/{job['id']}/files/{name}").status_code == 404, name
    for job_id in ("%2E%2E", "..%2F..%2Fjobs", "x" * 22, "%2Fetc"):  # (a bare ../ is resolved by the client)
        assert client.get(f"/api/jobs/{job_id}").status_code == 404, job_id
    upload = submit(client, "separate", {}, EXAMPLE.read_bytes(), filename="../../../evil.flac")
    assert upload.status_code == 201
    stored = list((data / "jobs" / upload.json()["id"] / "input").iterdir())
    assert [path.name for path in stored] == ["upload.flac"]
    assert not (data.parent / "evil.flac").exists() and not (data / "evil.flac").exists()
    wait(client, upload.json()["id"])


def test_uploads_over_the_limit_are_refused_before_they_are_stored(tmp_path):
    settings = StudioSettings(data_dir=tmp_path, max_upload_mb=0.01)  # 10 KiB
    with TestClient(create_app(settings)) as client:
        big = b"\0" * 50_000
        declared = submit(client, "separate", {}, big)
        assert declared.status_code == 413
        streamed = client.post(  # no Content-Length: counted as it streams
            "/api/jobs",
            params={"task": "separate", "options": "{}", "filename": "a.wav"},
            content=(big[i : i + 4096] for i in range(0, len(big), 4096)),
        )
        assert streamed.status_code == 413
    assert not any((tmp_path / "jobs").iterdir())


def test_a_full_queue_answers_503_with_retry_after(tmp_path):
    settings = StudioSettings(data_dir=tmp_path, workers=1, queue_size=1, retry_after_s=7)
    with TestClient(create_app(settings)) as client:
        first = submit(client, "generate", {"style": "chorale", "bars": 8, "seed": 1})
        assert first.status_code == 201
        busy = submit(client, "generate", {"style": "chorale", "bars": 2})
        assert busy.status_code == 503 and busy.headers["Retry-After"] == "7"
        assert wait(client, first.json()["id"])["state"] == "done"
        assert submit(client, "generate", {"style": "folk", "bars": 2}).status_code == 201  # room again


def test_jobs_survive_a_restart_and_unfinished_ones_run_again(tmp_path):
    with TestClient(create_app(StudioSettings(data_dir=tmp_path))) as client:
        done = wait(client, submit(client, "generate", {"style": "folk", "bars": 2, "seed": 4}).json()["id"])
    left = JobStore(tmp_path).create("generate", {"style": "folk", "bars": 2, "seed": 5})  # as if cut off
    with TestClient(create_app(StudioSettings(data_dir=tmp_path))) as client:
        assert client.get(f"/api/jobs/{done['id']}").json()["state"] == "done"
        assert client.get(f"/api/jobs/{done['id']}/files/{done['files'][0]}").status_code == 200
        assert wait(client, left.id)["state"] == "done"


def test_old_finished_jobs_are_cleaned_up(tmp_path):
    store = JobStore(tmp_path)
    old, fresh = store.create("generate", {}), store.create("generate", {})
    old.state = fresh.state = "done"
    store.save(old)
    store.save(fresh)
    stale = json.loads((store.root / old.id / "job.json").read_text())
    stale["updated"] -= 7200
    (store.root / old.id / "job.json").write_text(json.dumps(stale))
    assert store.remove_older_than(3600) == 1
    assert [job.id for job in store.all()] == [fresh.id]


def test_the_page_and_the_api_description_are_served(studio):
    client, _ = studio
    page = client.get("/")
    assert page.status_code == 200 and "Cantor Studio" in page.text and "/static/app.js" in page.text
    assert '<script src="http' not in page.text  # nothing from a CDN: it works offline
    assert client.get("/static/app.js").status_code == 200
    assert "/api/jobs" in client.get("/openapi.json").json()["paths"]
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/static/docs.js" in docs.text
    assert 'src="http' not in docs.text and 'href="http' not in docs.text  # no CDN (FastAPI's own page has one)


def test_analysing_the_bundled_example_writes_the_report(studio):
    client, _ = studio
    response = submit(client, "analyze", {"model": "band"}, EXAMPLE.read_bytes(), filename="mixture.flac")
    job = wait(client, response.json()["id"])
    assert job["state"] == "done", job["error"]
    assert {"analysis/report.html", "analysis/notes.mid", "analysis/analysis.json"} <= set(job["files"])
    assert set(job["summary"]["stems"]) == {"drums", "bass", "melody", "other"}
    assert job["summary"]["stems"]["bass"]["notes"] > 10
    report = client.get(f"/api/jobs/{job['id']}/files/analysis/report.html")
    assert report.status_code == 200 and "<html" in report.text.lower()


def test_cantor_serve_starts_and_refuses_bad_settings(tmp_path):
    import socket
    import subprocess
    import sys

    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "cantor.cli.main", "serve", "--port", str(port), "--data-dir", str(tmp_path)]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline, server.stderr.read()
                time.sleep(0.3)
        assert page.status_code == 200 and "Cantor Studio" in page.text
    finally:
        server.terminate()
        server.wait(timeout=30)
    bad = subprocess.run([*command[:3], "serve", "--workers", "0"], capture_output=True, text=True)
    assert bad.returncode == 2 and "--workers" in bad.stderr and "Traceback" not in bad.stderr
