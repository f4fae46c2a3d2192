"""Click-through tests of `kadr serve` in a real browser: Debian's chromium driven by
Playwright for Python (never `playwright install`; HOME in a temp dir).

Each test saves a screenshot (artifacts: $KADR_WEB_ARTIFACTS or a temp dir) and checks its
content: the cards' thumbnails decoded (naturalWidth > 0), the expected number of cards, a
picture that is not blank. With KADR_WEB_SCREENSHOTS=docs the README pictures are written too."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys

import pytest

from tests.web.conftest import EVIL_NAME, picture_spread, save_screenshot

pytest.importorskip("fastapi")

TIMEOUT = 30_000  # ms: the machine is shared


def _cards_ok(page, selector: str = "#results .card") -> int:
    """Number of cards whose thumbnail has loaded (decoded, non-empty)."""
    page.wait_for_function(
        "sel => { const ims = [...document.querySelectorAll(sel + ' img')];"
        " return ims.length > 0 && ims.every(i => i.complete && i.naturalWidth > 0); }",
        arg=selector, timeout=TIMEOUT)
    return page.locator(selector).count()


def _id_of(client, name: str) -> str:
    r = client.get("/api/search", params={"where": f"source LIKE '%/{name}'", "frame": "demo.mp4@#0", "k": 1})
    return r.json()["results"][0]["id"]


def test_upload_then_video_page_seeks_to_the_hit(page, demo_server, demo_data, client, artifacts):
    page.goto(demo_server.url + "/search?k=8")
    page.set_input_files("#image", str(demo_data["photos"] / "rocket.jpg"))
    page.click("#go")
    n = _cards_ok(page)
    assert n == 8
    first = page.locator("#results .card").first
    assert first.get_attribute("data-id") == _id_of(client, "rocket.jpg")  # the right thumbnail first
    assert "rocket.jpg" in first.inner_text()
    assert "upload=" in page.url  # the search is in the URL
    shot = save_screenshot(page, artifacts, "search")
    assert picture_spread(shot) > 20
    # the best keyframe hit: open its video page, the player must start at the hit's time
    card = page.locator("#results .card[data-id] >> text=open video").first
    hit_time = float(card.locator("xpath=ancestor::div[contains(@class,'card')]").get_attribute("data-time"))
    card.click()
    page.wait_for_url("**/video/**")
    page.wait_for_function("t => { const v = document.getElementById('player');"
                           " return v.readyState >= 1 && Math.abs(v.currentTime - t) < 0.1; }",
                           arg=hit_time, timeout=TIMEOUT)
    _cards_ok(page, "#shots .kf")
    page.wait_for_function("() => document.querySelectorAll('#shots .shot').length > 0", timeout=TIMEOUT)
    assert page.locator("#shots .shot").count() == 6  # the analysis of the demo clip
    assert page.locator(".kf.now").count() == 1
    assert page.locator("#timeline svg").count() == 1 and page.locator("#scores svg").count() == 1
    page.wait_for_function("() => document.getElementById('heat').width > 10", timeout=TIMEOUT)
    labels = page.locator("#shots .lab b").all_inner_texts()
    assert labels  # effnet-lite0 labels of the keyframes
    # clicking a shot in the timeline plays from its start
    page.locator("#timeline a").nth(2).click()
    page.wait_for_function("() => Math.abs(document.getElementById('player').currentTime - 2.76) < 0.15", timeout=TIMEOUT)
    shot = save_screenshot(page, artifacts, "video")
    assert picture_spread(shot) > 20
    assert not page.problems


def test_drop_and_paste_an_image(page, demo_server, demo_data, client):
    data = base64.b64encode((demo_data["photos"] / "coins.jpg").read_bytes()).decode()
    page.goto(demo_server.url + "/search?k=3")
    js = """([b64, how]) => {
        const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], "coins.jpg", {type: "image/jpeg"}));
        if (how === "drop") document.getElementById("drop").dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true}));
        else document.dispatchEvent(new ClipboardEvent("paste", {clipboardData: dt, bubbles: true}));
    }"""
    coins = _id_of(client, "coins.jpg")
    for how in ("drop", "paste"):
        page.evaluate("() => document.getElementById('results').replaceChildren()")
        page.evaluate(js, [data, how])
        assert _cards_ok(page) == 3
        assert page.locator("#results .card").first.get_attribute("data-id") == coins, how
    assert not page.problems


def test_frame_query_and_filters_in_the_url(page, demo_server):
    page.goto(demo_server.url + "/search?frame=demo.mp4%402.2s&k=5&kind=image&min_score=0.3")
    assert _cards_ok(page) >= 1
    assert page.input_value("#frame") == "demo.mp4@2.2s" and page.input_value("#kind") == "image"
    assert page.locator("#results .card").first.inner_text().find("coffee") >= 0
    texts = page.locator("#results .card .muted").all_inner_texts()
    assert all(t == "image" for t in texts)
    page.fill("#min_score", "0.99")
    page.click("#go")
    page.wait_for_function("() => document.querySelectorAll('#results .card').length === 0", timeout=TIMEOUT)
    assert "min_score=0.99" in page.url


def test_text_query(page, colour_server, artifacts):
    page.goto(colour_server.url + "/search?k=4")
    page.fill("#text", "yellow")
    page.click("#go")
    assert _cards_ok(page) == 4
    assert "yellow.png" in page.locator("#results .card").first.inner_text()
    assert "text=yellow" in page.url
    assert picture_spread(save_screenshot(page, artifacts, "search-text")) > 10


def test_text_box_disabled_without_text_vectors(page, plain_server):
    page.goto(plain_server.url + "/search")
    assert page.locator("#text").is_disabled()
    page.goto(plain_server.url + "/search?text=a+cat")
    page.wait_for_selector("#status.error", timeout=TIMEOUT)
    assert "no text vectors" in page.inner_text("#status")


def test_duplicates_page(page, demo_server, artifacts):
    page.goto(demo_server.url + "/duplicates")
    page.wait_for_selector("#duplicates .group", timeout=TIMEOUT)
    n = _cards_ok(page, "#duplicates .group .item")
    assert n >= 4  # chelsea + its copy, brick + the XSS-named copy
    dup_text = page.inner_text("#duplicates")
    assert "chelsea_small_copy.jpg" in dup_text and "coffee_crop.jpg" not in dup_text
    assert "coffee_crop.jpg" in page.inner_text("#similar")
    assert EVIL_NAME in dup_text  # shown as text ...
    assert page.locator('img[src="x"]').count() == 0  # ... never as markup
    assert picture_spread(save_screenshot(page, artifacts, "duplicates")) > 20
    assert not page.problems


def test_escaping_of_file_names_and_where(page, demo_server, artifacts):
    page.goto(demo_server.url + "/search?frame=demo.mp4%40%230&k=5&where=" + "source LIKE '%onerror%'".replace("%", "%25"))
    assert _cards_ok(page) == 1
    assert EVIL_NAME in page.inner_text("#results")
    assert page.locator('img[src="x"]').count() == 0
    assert page.input_value("#where") == "source LIKE '%onerror%'"
    bad = "kind = 'image' AND \"<script>alert(2)</script>"
    page.goto(demo_server.url + "/search?frame=demo.mp4%40%230&where=" + __import__("urllib.parse").parse.quote(bad))
    page.wait_for_selector("#status.error", timeout=TIMEOUT)
    assert "malformed --where" in page.inner_text("#status") and "<script>" in page.inner_text("#status")
    assert page.locator("script:not([src])").count() == 0
    page.goto(demo_server.url + "/video/%3Cimg%20src%3Dx%20onerror%3Dalert(3)%3E")
    assert "Error 404" in page.inner_text("main") and page.locator('img[src="x"]').count() == 0
    assert not page.problems  # no alert() dialog fired, no script error


def test_live_page_receives_events_from_a_piped_stream(page, demo_server, demo_data, artifacts):
    """ffmpeg (MPEG-TS on a pipe) | kadr watch - --db DB --json-lines | the server's event reader."""
    from kadr.web.events import start_pump

    page.goto(demo_server.url + "/live")
    page.wait_for_function("() => document.getElementById('conn').textContent.startsWith('connected')", timeout=TIMEOUT)
    # --no-realtime: a loaded CI machine must not drop the samples the assertions count
    cmd = [sys.executable, "-m", "kadr", "watch", "-", "--db", str(demo_data["db"]), "--json-lines", "--no-realtime"]
    if shutil.which("ffmpeg"):
        src = subprocess.Popen(["ffmpeg", "-v", "error", "-i", str(demo_data["clip"]), "-c", "copy", "-f", "mpegts", "-"],
                               stdout=subprocess.PIPE)
        watch = subprocess.Popen(cmd, stdin=src.stdout, stdout=subprocess.PIPE, text=True)
        src.stdout.close()
    else:  # no ffmpeg: the file itself, still piped out of watch
        src = None
        watch = subprocess.Popen(cmd[:4] + [str(demo_data["clip"])] + cmd[5:], stdout=subprocess.PIPE, text=True)
    try:
        start_pump(watch.stdout, demo_server.hub)
        page.wait_for_selector("#events .event", timeout=90_000)
        page.wait_for_function("() => document.getElementById('stats').textContent.includes('frames decoded')",
                               timeout=90_000)
    finally:
        watch.wait(60)
        if src is not None:
            src.wait(10)
    n = _cards_ok(page, "#events .event")
    assert n >= 3  # the demo clip's photo shots are in the database
    assert "database: demo.mp4" in page.inner_text("#events")
    assert picture_spread(save_screenshot(page, artifacts, "live")) > 10
    assert not page.problems


def test_videos_page(page, demo_server, artifacts):
    page.goto(demo_server.url + "/videos")
    assert _cards_ok(page, "#videos .card") == 1
    assert "6 shots" in page.inner_text("#videos")


def test_report_html_shares_the_look(page, demo_data, artifacts):
    page.goto((demo_data["analysis"] / "report.html").as_uri())
    bg = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    font = page.evaluate("() => getComputedStyle(document.body).fontFamily")
    assert bg == "rgb(250, 250, 250)" and "system-ui" in font
    assert picture_spread(save_screenshot(page, artifacts, "report")) > 20


def test_first_paint_is_recorded(page, demo_server):
    page.goto(demo_server.url + "/search")
    page.wait_for_function("() => performance.getEntriesByName('first-contentful-paint').length > 0",
                           timeout=TIMEOUT)
    fp = page.evaluate("() => JSON.stringify(performance.getEntriesByType('paint').map(e => [e.name, e.startTime]))")
    names = [n for n, _ in json.loads(fp)]
    assert "first-contentful-paint" in names  # the value itself is measured in benchmarks/web.py
