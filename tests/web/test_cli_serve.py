"""`kadr serve` on the command line: bad input is one line on stderr, never a traceback."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.web.conftest import free_port

pytest.importorskip("fastapi")


def _serve(*args):
    """`kadr serve ARGS` in-process (the errors come before any server starts)."""
    import contextlib
    import io

    from kadr.cli.main import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["serve", *args])
    return subprocess.CompletedProcess(args, code, "", err.getvalue())


def _one_line_error(r, words):
    assert r.returncode == 2
    err = r.stderr.strip().splitlines()
    assert err and err[-1].startswith("kadr: error:") and words in err[-1], r.stderr
    assert "Traceback" not in r.stderr


def test_db_that_does_not_exist(tmp_path):
    _one_line_error(_serve("--db", str(tmp_path / "nope")), "is not a folder")


def test_folder_that_is_not_a_kadr_table(tmp_path):
    (tmp_path / "x.txt").write_text("hello")
    _one_line_error(_serve("--db", str(tmp_path)), "empty")


def test_remote_host_needs_allow_remote(tmp_path):
    _one_line_error(_serve("--db", str(tmp_path), "--host", "0.0.0.0"), "--allow-remote")


def test_events_and_watch_exclude_each_other(demo_data):
    _one_line_error(_serve("--db", str(demo_data["db"]), "--events", "-", "--watch", "x.mp4",
                           "--port", str(free_port())), "not both")


def test_nothing_to_serve():
    _one_line_error(_serve(), "--db DIR")


def test_port_in_use(demo_data):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    try:
        _one_line_error(_serve("--db", str(demo_data["db"]), "--port", str(s.getsockname()[1])), "already in use")
    finally:
        s.close()


def test_serve_starts_answers_and_stops(demo_data, tmp_path):
    """The real command: --videos, --token, --events FILE followed; health answers; SIGINT stops it."""
    import json
    import signal

    port = free_port()
    events = tmp_path / "events.jsonl"
    events.write_text('{"kind": "query", "name": "poster.png", "start": 1.0, "end": 2.0, "peak_score": 0.9}\n')
    p = subprocess.Popen([sys.executable, "-m", "kadr", "serve", "--db", str(demo_data["db"]), "--videos",
                          str(demo_data["root"]), "--port", str(port), "--token", "tok", "--events", str(events),
                          "--cache", str(tmp_path / "cache"), "--json"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        info = json.loads(p.stdout.readline())
        assert info["url"] == f"http://127.0.0.1:{port}/?token=tok" and info["videos"] == 1
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/health", headers={"Authorization": "Bearer tok"})
        t0 = time.monotonic()
        while True:
            try:
                h = json.loads(urllib.request.urlopen(req, timeout=5).read())
                break
            except OSError:
                if time.monotonic() - t0 > 60:
                    raise
                time.sleep(0.3)
        assert h["rows"] == 19 and h["events"]["source"] == str(events)
        with events.open("a") as f:  # followed like tail -f
            f.write('{"kind": "query", "name": "second.png", "start": 3.0, "end": 4.0, "peak_score": 0.8}\n')
        t0 = time.monotonic()
        while json.loads(urllib.request.urlopen(req, timeout=5).read())["events"]["received"] < 2:
            assert time.monotonic() - t0 < 20
            time.sleep(0.2)
    finally:
        p.send_signal(signal.SIGINT)
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()
    assert "Traceback" not in p.stderr.read()
