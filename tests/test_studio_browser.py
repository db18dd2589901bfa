"""Cantor Studio in a real browser (Debian's Chromium driven by Playwright), and under load on 127.0.0.1.

The browser test opens the page, uploads the bundled example, waits for the stems, checks that every audio element
loads and every image renders, toggles solo, plays the mix, downloads a stem and saves a screenshot
(``CANTOR_STUDIO_SCREENSHOT=path`` keeps it, as for the README). The load test runs 50 clients at once against a
small queue: every job must finish, back-pressure must be answered with 503 + Retry-After, memory must stay bounded.
"""

from __future__ import annotations

import os
import resource
import shutil
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn

from cantor.web.app import StudioSettings, create_app

EXAMPLE = Path(__file__).parent.parent / "examples" / "band-example" / "mixture.flac"
CHROMIUM = Path("/usr/bin/chromium")


@contextmanager
def running_studio(settings: StudioSettings):
    """The studio served by uvicorn on a free port of 127.0.0.1 in a thread; yields its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise AssertionError("the studio did not start in 30 s")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_the_page_separates_plays_and_downloads_in_chromium(tmp_path):
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with running_studio(StudioSettings(data_dir=tmp_path / "data", workers=1)) as url, sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"]
        )
        page = browser.new_page(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(url)
        assert page.title() == "Cantor Studio"
        assert page.is_disabled("#start")
        page.set_input_files("#file", str(EXAMPLE))
        assert "mixture.flac" in page.inner_text("#drop-text")
        page.click("#start")
        page.wait_for_selector("#items .item[data-stem]", timeout=240_000)
        assert page.locator("#items .item[data-stem]").count() == 4
        page.wait_for_function(
            "Array.from(document.querySelectorAll('#items audio')).every(a => a.readyState >= 1 && a.duration > 29)",
            timeout=60_000,
        )
        page.wait_for_function(
            "Array.from(document.querySelectorAll('#items img')).every(i => i.complete && i.naturalWidth > 0)",
            timeout=60_000,
        )
        solo = page.locator(".item[data-stem=bass] button", has_text="Solo")
        solo.click()
        assert solo.get_attribute("aria-pressed") == "true"
        page.click("#play")
        page.wait_for_function("state.playing.length === 4", timeout=60_000)
        gains = page.evaluate("state.mixer.map(c => [c.stem, c.gain.gain.value])")
        assert dict(gains) == {"drums": 0, "bass": 1, "melody": 0, "other": 0}  # solo silences the others
        page.click("#stop")
        with page.expect_download() as download:
            page.click(".item[data-stem=melody] a")
        saved = tmp_path / download.value.suggested_filename
        download.value.save_as(saved)
        assert saved.name == "melody.wav" and saved.stat().st_size > 100_000
        screenshot = tmp_path / "studio.png"
        page.screenshot(path=str(screenshot), full_page=True)
        assert screenshot.stat().st_size > 10_000
        if target := os.environ.get("CANTOR_STUDIO_SCREENSHOT"):
            shutil.copy(screenshot, target)
        page.goto(f"{url}/docs")  # the API description renders offline too
        page.wait_for_selector("#api .item h3")
        assert "POST /api/jobs" in page.inner_text("#api")
        assert not errors, errors
        browser.close()


def test_fifty_clients_at_once_lose_no_job(tmp_path):
    settings = StudioSettings(data_dir=tmp_path, workers=2, queue_size=6, retry_after_s=1)
    outcomes: dict[int, str] = {}
    refusals = []

    def client(index: int, url: str) -> None:
        with httpx.Client(base_url=url, timeout=30) as http:
            params = {"task": "generate", "options": f'{{"style": "folk", "bars": 2, "seed": {index}}}'}
            for _ in range(200):
                response = http.post("/api/jobs", params=params)
                if response.status_code != 503:
                    break
                refusals.append(int(response.headers["Retry-After"]))
                time.sleep(int(response.headers["Retry-After"]) * (0.5 + index % 5 / 5))
            assert response.status_code == 201, response.text
            job_id = response.json()["id"]
            while (state := http.get(f"/api/jobs/{job_id}").json()["state"]) not in ("done", "failed"):
                time.sleep(0.5)
            outcomes[index] = state

    started = time.monotonic()
    with running_studio(settings) as url:
        threads = [threading.Thread(target=client, args=(index, url), daemon=True) for index in range(50)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=max(1.0, 400 - (time.monotonic() - started)))  # it stops by itself
    assert sorted(outcomes) == list(range(50)), f"{50 - len(outcomes)} clients never finished"
    assert set(outcomes.values()) == {"done"}
    assert refusals and set(refusals) == {1}  # the queue pushed back, cleanly
    assert len(list((tmp_path / "jobs").iterdir())) == 50  # every accepted job is on disk, none twice
    peak_mb = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024
    assert peak_mb < 3000, peak_mb
