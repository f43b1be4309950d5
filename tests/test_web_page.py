"""The page in a real headless Chromium (Debian's `chromium`, driven by Playwright) against the real server.

Set SCENEGLOT_SCREENSHOTS=DIR to keep the screenshots (docs/web-*.png are made so).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect, sync_playwright
from web_fixtures import CUT2

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser():
    exe = shutil.which("chromium")
    assert exe, "Debian's chromium is not installed (scripts/debian-packages.txt): Playwright cannot fetch a browser"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"])
        yield b
        b.close()


def _shot(page, tmp_path: Path, name: str) -> None:
    page.screenshot(path=tmp_path / name, full_page=True)
    if out := os.environ.get("SCENEGLOT_SCREENSHOTS"):
        shutil.copy(tmp_path / name, Path(out) / name)


def test_upload_edit_and_rerender_in_the_browser(server, cut2_job, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server.url)
    page.set_input_files("#file", str(CUT2))  # the same file and options: the server answers with the job it has
    expect(page.locator("#upload-state")).to_contain_text("same upload as an earlier job", timeout=60_000)
    row = page.locator(f'tr[data-job="{cut2_job.id}"]')
    expect(row.locator("td.status-done")).to_be_visible(timeout=60_000)
    _shot(page, tmp_path, "web-jobs.png")

    row.get_by_role("button", name="Open").click()
    expect(page.locator("#phrases li").first).to_be_visible()
    speaker = page.locator('[data-speaker="S0"] input.speaker-name')
    speaker.fill("Joana Prates")
    speaker.press("Tab")
    expect(page.locator("#save-state")).to_have_text("saved", timeout=20_000)
    first = page.locator("#phrases li").filter(has=page.locator("input.translation:not([value=''])")).first
    seg_id = int(first.get_attribute("data-segment"))
    translation = first.locator("input.translation")
    translation.fill("Tradução nova feita no navegador")
    translation.press("Tab")
    expect(page.locator("#save-state")).to_have_text("saved", timeout=20_000)
    scene = server.get(f"/api/jobs/{cut2_job.id}/scene").json()
    other = next(p["id"] for p in scene["persons"] if p["id"] != next(
        s for s in scene["segments"] if s["id"] == seg_id)["person"])
    first.locator(f'.face[data-person="{other}"]').click()  # move the phrase to the other face
    expect(page.locator("#save-state")).to_have_text("saved", timeout=20_000)

    page.reload()  # everything was saved on the server as it was typed
    expect(page.locator('[data-speaker="S0"] input.speaker-name')).to_have_value("Joana Prates", timeout=30_000)
    row = page.locator(f'li[data-segment="{seg_id}"]')
    expect(row.locator("input.translation")).to_have_value("Tradução nova feita no navegador")
    expect(row.locator(f'.face.chosen[data-person="{other}"]')).to_be_visible()
    scene = server.get(f"/api/jobs/{cut2_job.id}/scene").json()
    assert next(s for s in scene["segments"] if s["id"] == seg_id)["person"] == other
    assert next(s for s in scene["speakers"] if s["id"] == "S0")["name"] == "Joana Prates"
    _shot(page, tmp_path, "web-editor.png")

    second = scene["segments"][1]
    page.locator(f'li[data-segment="{second["id"]}"] button.time').click()  # the player jumps to the phrase
    page.wait_for_function("t => Math.abs(document.querySelector('#video').currentTime - t) < 0.5",
                           arg=second["start"], timeout=20_000)
    page.evaluate("() => document.querySelector('#video').pause()")

    old_src = page.locator("#video").get_attribute("src")
    page.locator("#render").click()
    expect(page.locator('[data-speaker="S0"] input.speaker-name')).to_be_disabled()  # no edits while it renders
    page.wait_for_function("old => { const v = document.querySelector('#video'); return v.src && "
                           "!v.src.endsWith(old) && v.readyState >= 2; }", arg=old_src, timeout=600_000)
    job = server.get(f"/api/jobs/{cut2_job.id}").json()
    assert job["status"] == "done" and job["action"] == "render"
    vtt = next(f for f in job["files"] if f["name"].endswith(".pt.vtt"))
    text = requests.get(server.url + vtt["url"], timeout=30).text
    # the cue rules may break the edited line (the name's label takes room): compare the words, not the breaks
    assert "Tradução nova feita no navegador" in " ".join(text.split()) and "<v Joana Prates>" in text
    played = page.evaluate("""async () => {
        const v = document.querySelector('#video');
        v.muted = true;
        v.currentTime = 0;
        await v.play();
        await new Promise((done) => setTimeout(done, 2000));
        v.pause();
        return { time: v.currentTime, duration: v.duration, src: v.src, error: v.error && v.error.code };
    }""")
    assert played["error"] is None and played["time"] > 0.5, played
    assert abs(played["duration"] - 12.8) < 0.3 and job["updated"].replace(":", "%3A") in played["src"]
    assert errors == []
