"""Stream watch: generated streams where the reference photo is seen once, zoomed, panned and
re-encoded, next to a look-alike portrait ("camera" for "astronaut")."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kadr.errors import InputError
from kadr.stream import EventTracker, WatchOptions, Watcher, query_crops, watch
from kadr.io.synthetic import sample_photo
from tests.conftest import needs_ffmpeg
from tests.stream.streams import watch_stream

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def stream(tmp_path_factory):
    p = tmp_path_factory.mktemp("watch") / "stream.mp4"
    truth = watch_stream(p, size=(480, 270), shot_frames=30, crf=28)
    return p, truth


def _check_one_event(events, truth, name):
    mine = [e for e in events if e["name"] == name]
    assert len(mine) == 1, events
    assert abs(mine[0]["start"] - truth["start"]) <= 0.5 and abs(mine[0]["end"] - truth["end"]) <= 0.5, (mine, truth)
    assert len(events) == 1, events  # the absent reference and the look-alike stay silent


def test_file_one_event_at_the_true_appearance(stream, effnet):
    path, truth = stream
    res = watch(path, effnet, queries=[sample_photo("astronaut"), sample_photo("colorwheel")],
                names=["astronaut", "colorwheel"])
    _check_one_event([e.to_dict() for e in res["events"]], truth, "astronaut")
    assert res["stats"]["sampled"] == pytest.approx(truth["frames"] / 25 * WatchOptions().rate, abs=2)
    assert res["stats"]["dropped"] == 0


def test_pipe_into_cli(stream, tmp_path):
    ffmpeg = needs_ffmpeg()
    path, truth = stream
    ref = tmp_path / "astronaut.png"
    Image.fromarray(sample_photo("astronaut")).save(ref)
    absent = tmp_path / "colorwheel.png"
    Image.fromarray(sample_photo("colorwheel")).save(absent)
    enc = subprocess.Popen([ffmpeg, "-loglevel", "error", "-i", str(path), "-c:v", "libx264", "-crf", "30",
                            "-f", "mpegts", "-"], stdout=subprocess.PIPE)
    out = subprocess.run([sys.executable, "-m", "kadr", "watch", "-", "--query", str(ref), "--query", str(absent),
                          "--json-lines", "--no-realtime"], stdin=enc.stdout, capture_output=True, text=True, cwd=ROOT,
                         timeout=300)
    enc.wait()
    assert out.returncode == 0, out.stderr
    lines = [json.loads(x) for x in out.stdout.splitlines()]
    assert "stats" in lines[-1] and lines[-1]["stats"]["frames"] == truth["frames"]
    _check_one_event(lines[:-1], truth, "astronaut.png")


def test_db_mode_looks_up_each_shot(stream, effnet, tmp_path):
    from kadr.index import Index

    path, truth = stream
    lib = tmp_path / "lib"
    lib.mkdir()
    for n in ("astronaut", "coffee", "rocket", "camera", "brick"):
        Image.fromarray(sample_photo(n)).save(lib / f"{n}.png")
    idx = Index(tmp_path / "db", effnet)
    idx.add(lib)
    from kadr.index.watch import IndexReferences

    res = watch(path, effnet, references=IndexReferences(idx))
    got = [(Path(e.name).stem, e.start) for e in res["events"]]
    # stream order: coffee, rocket, astronaut, camera, brick, hubble, coins (30 frames each);
    # hubble and coins are not in the database
    names = [g[0] for g in got]
    assert names[:5] == ["coffee", "rocket", "astronaut", "camera", "brick"], got
    starts = [g[1] for g in got[:5]]
    assert np.allclose(starts, [0.0, 1.2, 2.4, 3.6, 4.8], atol=0.25), got


def test_tracker_hysteresis_and_look_alikes():
    o = WatchOptions(threshold=0.6, release=0.5, hold=0.3)
    tr = EventTracker(["a", "b"], o)
    seq = [(0.0, [0.2, 0.1]), (0.2, [0.7, 0.65]), (0.4, [0.55, 0.62]), (0.6, [0.45, 0.3]), (0.8, [0.4, 0.3]),
           (1.0, [0.3, 0.2]), (1.2, [0.2, 0.2])]
    events = []
    for t, s in seq:
        events += tr.update(t, np.array(s))
    events += tr.flush()
    # "b" is above threshold at 0.2 s but "a" is better; at 0.4 s "b" is best → it opens then
    assert [(e.name, e.start, e.end) for e in events] == [("a", 0.2, 0.4), ("b", 0.4, 0.4)]
    assert events[0].peak_score == 0.7


def test_falling_behind_is_reported(stream, thumb_encoder):
    class Slow(type(thumb_encoder)):
        def _encode_batch(self, images):
            time.sleep(0.3)
            return super()._encode_batch(images)

    from kadr.io.video import Sampling, VideoReader

    path, _ = stream
    w = Watcher(Slow(), queries=[sample_photo("astronaut")], options=WatchOptions(rate=10, max_lag=0.5))
    with VideoReader(path, analysis_size=160, sampling=Sampling(end=2.5)) as r:
        list(w.events(r, realtime=True))
    assert w.stats.behind and w.stats.dropped > 0 and w.stats.max_lag > 0.5


def test_bad_inputs():
    with pytest.raises(InputError, match="release"):
        WatchOptions(threshold=0.5, release=0.6)
    with pytest.raises(InputError, match="--query"):
        Watcher(object(), queries=[])  # type: ignore[arg-type]
    crops = query_crops(np.zeros((100, 200, 3), np.uint8), aspect=16 / 9)
    assert len(crops) == 23 and all(c.shape[0] >= 8 and c.shape[1] >= 8 for c in crops)
