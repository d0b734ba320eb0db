"""The page at ``/`` in headless Chromium: upload a clip, ask, read the streamed answer, click an
evidence thumbnail and see the player seek there; a screenshot is kept in the test's tmp dir and
the console must stay free of errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from echo_backend import EchoBackend
from serve_support import KEY

CHROMIUM = next((p for p in ("/usr/lib/chromium/chromium", shutil.which("chromium") or "",
                             shutil.which("chromium-browser") or "", shutil.which("google-chrome") or "")
                 if p and Path(p).exists()), None)

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium here (scripts/system-deps.sh installs it)")


def test_page_asks_streams_and_seeks(start_server, media, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (pip install playwright)")
    server = start_server(EchoBackend(reply="The red square moves from 1.5s to 2.5s, then stops."))
    errors: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.on("console", lambda m: m.type == "error" and errors.append(m.text))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(server.base + "/")
            page.fill("#key", KEY)
            page.dispatch_event("#key", "change")
            page.wait_for_function("document.getElementById('model').textContent.includes('served')")
            page.set_input_files("#file", media["clip"])
            page.wait_for_function("!document.getElementById('send').disabled")
            page.fill("#question", "When does the square move?")
            page.click("#send")
            page.wait_for_selector("body[data-answered=yes]", timeout=60_000)
            assert page.inner_text("#answer") == "The red square moves from 1.5s to 2.5s, then stops."
            assert page.locator("#sampled .tick").count() == 8  # the frames the model saw
            thumbs = page.locator(".thumb")
            assert thumbs.count() >= 1 and "0:01.5" in thumbs.first.inner_text()
            page.wait_for_function("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
            page.wait_for_function("document.getElementById('video').readyState >= 1")
            thumbs.first.click()
            page.wait_for_function("Math.abs(document.getElementById('video').currentTime - 1.5) < 0.3")
            shot = tmp_path / "page.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
        finally:
            browser.close()
    assert errors == []
