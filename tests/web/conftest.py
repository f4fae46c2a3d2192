"""Fixtures of the web tests: the demo data (clip, its analysis, photos, a database built
with effnet-lite0), a file named like an XSS attack, a small text-capable table, servers in
threads, and Debian's chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from kadr.features.base import Encoder

#: the file name of the escaping test (issue 14)
EVIL_NAME = "<img src=x onerror=alert(1)>.png"
CHROMIUM = "/usr/bin/chromium"
#: flags of the issue: headless, no sandbox (root in CI), nothing fetched from the network
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


class ColourWords(Encoder):
    """A tiny text-capable encoder for the text-search tests: an image's vector is its
    mean colour (r, g, b) plus a constant; a text's vector is the colour its words name."""

    name = "test-colour-words"
    dim = 4
    supports_text = True
    WORDS = {"red": (1, 0, 0), "green": (0, 1, 0), "blue": (0, 0, 1), "yellow": (1, 1, 0), "white": (1, 1, 1)}

    def _encode_batch(self, images):
        out = []
        for img in images:
            m = img.reshape(-1, 3).mean(axis=0) / 255.0
            out.append(np.concatenate([m - m.mean() * 0.5, [0.1]]))
        return np.asarray(out, np.float32)

    def encode_text(self, texts):
        out = []
        for t in texts:
            cols = [self.WORDS[w] for w in t.lower().split() if w in self.WORDS]
            c = np.mean(cols, axis=0) if cols else np.full(3, 0.5)
            out.append(np.concatenate([c - c.mean() * 0.5, [0.1]]))
        v = np.asarray(out, np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)


def _kadr(*argv: str) -> int:
    from kadr.cli.main import main

    return main(list(argv))


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory):
    """The `make demo` data: demo.mp4 + its analysis + photos/ (with a duplicate, a crop and
    the XSS-named file) indexed into demo.db with effnet-lite0."""
    from PIL import Image

    from kadr.cli.demo import demo_database, demo_photos
    from kadr.io.synthetic import demo_clip, sample_photo

    out = tmp_path_factory.mktemp("webdemo")
    clip = out / "demo.mp4"
    truth = demo_clip(clip)
    assert _kadr("analyse", str(clip), "-o", str(out / "analysis")) == 0
    photos = demo_photos(out / "photos")
    Image.fromarray(sample_photo("brick")).save(photos / EVIL_NAME)
    db = demo_database(out, clip)
    return {"root": out, "clip": clip, "truth": truth, "photos": photos, "db": Path(db["db"]),
            "analysis": out / "analysis"}


@pytest.fixture(scope="session")
def library(demo_data, tmp_path_factory):
    from kadr.web import open_library

    return open_library(demo_data["db"], [demo_data["root"]], cache=tmp_path_factory.mktemp("thumbs"))


@pytest.fixture(scope="session")
def colour_db(tmp_path_factory):
    """A table of four flat-colour pictures built with the text-capable ColourWords encoder."""
    from PIL import Image

    from kadr.index import Index

    d = tmp_path_factory.mktemp("colours")
    cols = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220), "yellow": (230, 220, 30)}
    rng = np.random.default_rng(0)
    for name, c in cols.items():
        img = np.clip(np.array(c)[None, None] + rng.normal(0, 8, (60, 80, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(d / f"{name}.png")
    idx = Index(d / "colours.db", ColourWords())
    idx.add([d], progress=False)
    return idx


class GreyThumb(Encoder):
    """A tiny image-only encoder (no text tower): 8×8 grey thumbnail, mean removed."""

    name = "test-grey-thumb"
    dim = 64

    def _encode_batch(self, images):
        from PIL import Image

        out = []
        for img in images:
            g = np.asarray(Image.fromarray(img).convert("L").resize((8, 8)), np.float32).ravel()
            out.append(g - g.mean() + 1e-3)
        return np.asarray(out, np.float32)


@pytest.fixture(scope="session")
def plain_library(tmp_path_factory):
    """A table without text vectors (image-only encoder; no text columns filled)."""
    import inspect

    from kadr.index import Index
    from kadr.io.synthetic import sample_photo
    from kadr.web.catalog import Catalog
    from kadr.web.service import Library
    from kadr.web.thumbs import ThumbnailCache
    from PIL import Image

    d = tmp_path_factory.mktemp("plain")
    for n in ("camera", "coins", "rocket"):
        Image.fromarray(sample_photo(n)).save(d / f"{n}.png")
    idx = Index(d / "plain.db", GreyThumb())
    extra = {"semantic": False} if "semantic" in inspect.signature(idx.add).parameters else {}
    idx.add([d], progress=False, **extra)
    return Library(idx, Catalog(idx), thumbs=ThumbnailCache(tmp_path_factory.mktemp("pthumbs")))


@pytest.fixture(scope="session")
def plain_server(plain_library):
    from kadr.web.app import create_app

    srv = ThreadServer(create_app(plain_library))
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def colour_library(colour_db, tmp_path_factory):
    from kadr.web.catalog import Catalog
    from kadr.web.service import Library
    from kadr.web.thumbs import ThumbnailCache

    return Library(colour_db, Catalog(colour_db), thumbs=ThumbnailCache(tmp_path_factory.mktemp("cthumbs")))


@pytest.fixture(scope="session")
def client(library):
    from fastapi.testclient import TestClient

    from kadr.web.app import create_app

    return TestClient(create_app(library), base_url="http://127.0.0.1:8750")


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class ThreadServer:
    """uvicorn serving an app in a daemon thread of the test process."""

    def __init__(self, app):
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    lifespan="off", access_log=False))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        t0 = time.monotonic()
        while not self.server.started:
            if time.monotonic() - t0 > 20:
                raise RuntimeError("the test server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="session")
def demo_server(library):
    from kadr.web.app import create_app
    from kadr.web.events import EventHub

    hub = EventHub(enrich=library.enrich_event)
    hub.source = "test pipe"
    srv = ThreadServer(create_app(library, events=hub))
    srv.hub = hub
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def colour_server(colour_library):
    from kadr.web.app import create_app

    srv = ThreadServer(create_app(colour_library))
    yield srv
    srv.stop()


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not os.path.exists(CHROMIUM):
        return f"{CHROMIUM} is absent (install it with `apt-get install -y chromium`; .ci/run does)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright (Python) is not installed: pip install 'kadr[test]'"
    return None


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    """Debian's chromium, headless, with HOME in a temp dir (nothing written outside it)."""
    why = chromium_missing()
    if why:
        pytest.skip(why)
    from playwright.sync_api import sync_playwright

    home = tmp_path_factory.mktemp("chromium-home")
    old = os.environ.get("HOME")
    os.environ["HOME"] = str(home)
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                  env={**os.environ, "HOME": str(home)})
            yield b
            b.close()
    finally:
        if old is None:
            os.environ.pop("HOME", None)
        else:
            os.environ["HOME"] = old


@pytest.fixture
def page(browser):
    """A fresh page that records console errors, page errors and dialogs (an XSS would alert)."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = ctx.new_page()
    pg.problems = []
    pg.on("pageerror", lambda e: pg.problems.append(f"pageerror: {e}"))
    pg.on("dialog", lambda d: (pg.problems.append(f"dialog: {d.message}"), d.dismiss()))
    yield pg
    ctx.close()


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory):
    """Where screenshots go: $KADR_WEB_ARTIFACTS (CI keeps it) or a temp dir."""
    d = Path(os.environ.get("KADR_WEB_ARTIFACTS") or tmp_path_factory.mktemp("web-artifacts"))
    d.mkdir(parents=True, exist_ok=True)
    return d


#: the screenshots the README shows (docs/web-NAME.png)
README_PICTURES = ("search", "video", "duplicates", "live")


def save_screenshot(page, artifacts: Path, name: str) -> Path:
    """Full-page PNG into the artifacts; also into $KADR_WEB_SCREENSHOTS (the README's docs/
    pictures, regenerated from the demo data) when that is set."""
    p = artifacts / f"{name}.png"
    page.screenshot(path=str(p), full_page=True)
    docs = os.environ.get("KADR_WEB_SCREENSHOTS")
    if docs and name in README_PICTURES:
        from PIL import Image

        Path(docs).mkdir(parents=True, exist_ok=True)
        im = Image.open(p).convert("RGB")
        im.thumbnail((1000, 1400))
        im.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(Path(docs) / f"web-{name}.png", optimize=True)
    return p


def picture_spread(path: Path) -> float:
    """Standard deviation of the grey levels of a PNG (a blank screenshot has ~0)."""
    from PIL import Image

    return float(np.asarray(Image.open(path).convert("L"), np.float32).std())


__all__ = ["EVIL_NAME", "ColourWords", "ThreadServer", "save_screenshot", "picture_spread", "shutil"]
