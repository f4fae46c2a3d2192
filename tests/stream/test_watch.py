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

from kadr.errors import InputError, KadrWarning
from kadr.stream import EventTracker, QueryBank, WatchOptions, Watcher, query_crops, watch
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
    started = [x for x in lines if "started" in x]
    events = [x for x in lines[:-1] if "started" not in x]
    _check_one_event(events, truth, "astronaut.png")
    # the event was announced when it opened, before its full line
    assert [x["started"] for x in started] == ["astronaut.png"]
    assert lines.index(started[0]) < lines.index(events[0])
    assert started[0]["detected_at"] == events[0]["detected_at"] and 0 < started[0]["probability"] <= 1


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


def _tracker(names, **kw):
    from kadr.stream import Calibration

    o = WatchOptions(**{"threshold": 0.5, "release": 0.2, "hold": 0.3, "rate": 5, **kw})
    # a = 20, c = 0.6: p = 0.5 at cosine 0.6, p(0.53) = 0.2 (the release)
    return EventTracker(names, o, Calibration(a=20.0, c=0.6))


def test_tracker_hysteresis_and_look_alikes():
    tr = _tracker(["a", "b"])
    seq = [(0.0, [0.2, 0.1]), (0.2, [0.7, 0.65]), (0.4, [0.55, 0.62]), (0.6, [0.45, 0.3]), (0.8, [0.4, 0.3]),
           (1.0, [0.3, 0.2]), (1.2, [0.2, 0.2])]
    events = []
    for t, s in seq:
        events += tr.update(t, np.array(s))
    events += tr.flush()
    # "b" is above threshold at 0.2 s but "a" is better; at 0.4 s "b" is best → it opens then
    assert [(e.name, e.start, e.end) for e in events] == [("a", 0.2, 0.4), ("b", 0.4, 0.4)]
    assert events[0].peak_score == 0.7
    assert events[0].peak_probability == pytest.approx(1 / (1 + np.exp(-20 * 0.1)), abs=1e-4)


def test_tracker_skips_unscored_samples_and_snaps_to_cuts():
    tr = _tracker(["a"])
    tr.note_cut(0.95)                     # a cut between the samples at 0.8 and 1.0 s
    assert tr.update(0.8, np.array([0.3])) == []
    assert tr.update(1.0, np.array([0.8])) == [] and tr.open[0].start == 0.95  # starts at the cut
    tr.update(1.2, np.array([0.8]))
    tr.note_cut(1.33)                     # the matched shot ends between 1.2 and 1.4 s
    tr.update(1.4, np.array([-np.inf]))   # a content-free sample: no evidence
    closed = tr.update(1.6, np.array([0.1]))
    assert [(e.start, e.end) for e in closed] == [(0.95, 1.33)]
    # bounded state: a few recent cuts, a smooth-long ring, one open event per reference
    for i in range(1000):
        tr.note_cut(2 + i * 0.01)
        tr.update(2 + i * 0.01, np.array([0.1]))
    assert len(tr._cuts) <= 8 and len(tr._ring) == 1 and not tr.open


def test_calibration_per_encoder():
    from kadr.stream import CALIBRATIONS, calibration_for

    cal = calibration_for("effnet-lite0")
    assert cal is CALIBRATIONS["effnet-lite0"]
    # p = σ(a (s − c − b ln n)): 0.5 at the decision cosine, which rises with the bank size
    assert cal.probability(cal.c) == pytest.approx(0.5)
    assert cal.cosine_at(0.5, 3) == pytest.approx(cal.c + cal.b * np.log(3))
    assert float(cal.probability(cal.c, 3)) < 0.5
    with pytest.raises(InputError, match="min-cosine"):
        calibration_for("test-thumb")
    assert calibration_for("test-thumb", 0.8).cosine_at(0.5) == pytest.approx(0.8)


def test_falling_behind_is_reported(stream, thumb_encoder):
    class Slow(type(thumb_encoder)):
        def _encode_batch(self, images):
            time.sleep(0.3)
            return super()._encode_batch(images)

    from kadr.io.video import Sampling, VideoReader

    path, _ = stream
    w = Watcher(Slow(), queries=[sample_photo("astronaut")], options=WatchOptions(rate=10, max_lag=0.5, min_cosine=0.9))
    with VideoReader(path, analysis_size=160, sampling=Sampling(end=2.5)) as r:
        list(w.events(r, realtime=True))
    assert w.stats.behind and w.stats.dropped > 0 and w.stats.max_lag > 0.5


def test_bad_inputs():
    with pytest.raises(InputError, match="release"):
        WatchOptions(threshold=0.5, release=0.6)
    with pytest.raises(InputError, match="threshold"):
        WatchOptions(threshold=1.5)
    with pytest.raises(InputError, match="--query"):
        Watcher(object(), queries=[])  # type: ignore[arg-type]
    crops = query_crops(np.zeros((100, 200, 3), np.uint8), aspect=16 / 9)
    assert len(crops) == 23 and all(c.shape[0] >= 8 and c.shape[1] >= 8 for c in crops)


def test_reference_checks(thumb_encoder):
    """One line each: a solid reference warns (it could only match solid frames, which are
    never scored), a tiny one is refused, an extreme aspect ratio warns; references of
    different sizes and aspects make one bank."""
    o = WatchOptions(min_cosine=0.9)
    with pytest.warns(KadrWarning, match="reference black.png is a solid frame: it can only match solid frames"):
        Watcher(thumb_encoder, queries=[np.zeros((90, 160, 3), np.uint8)], names=["black.png"], options=o)
    with pytest.raises(InputError, match="10x12 px: too small"):
        Watcher(thumb_encoder, queries=[sample_photo("coffee")[:12, :10]], names=["tiny"], options=o)
    with pytest.warns(KadrWarning, match="aspect 8.0:1"):
        Watcher(thumb_encoder, queries=[sample_photo("coffee")[:40, :320]], names=["strip"], options=o)
    bank = QueryBank(thumb_encoder, [sample_photo("coffee"), sample_photo("rocket")[:200, :120],
                                     [sample_photo("astronaut"), sample_photo("chelsea")[:150]]], ["a", "b", "c"])
    assert bank.frames.tolist() == [1, 1, 2] and bank.bank.shape[0] == 3
    s = bank.score(thumb_encoder.encode_images([sample_photo("chelsea")]))
    assert int(np.argmax(s[0])) == 2  # the multi-frame reference holds a crop of chelsea


def test_multi_frame_reference_finds_what_one_frame_misses(stream, effnet):
    """The reference given as two pictures of one thing (another photo that never appears, and
    the photo itself): one event at the appearance, named after the reference."""
    path, truth = stream
    res = watch(path, effnet, queries=[[sample_photo("coffee")[:100, :100], sample_photo("astronaut")]],
                names=["astro"])
    _check_one_event([e.to_dict() for e in res["events"]], truth, "astro")


def test_content_free_samples_are_not_scored(tmp_path, thumb_encoder):
    """A stream of black frames with a black reference: no event (and no embedding)."""
    from kadr.io.synthetic import write_video

    p = write_video([np.zeros((72, 128, 3), np.uint8)] * 20, tmp_path / "black.mp4")
    with pytest.warns(KadrWarning, match="solid frame"):
        w = Watcher(thumb_encoder, queries=[np.zeros((72, 128, 3), np.uint8)], options=WatchOptions(min_cosine=0.5))
    assert list(w.events(p)) == []
    assert w.stats.sampled == 0 and w.stats.content_free == 8


def test_stalled_stream_times_out(tmp_path):
    """A pipe that sends a few frames and then nothing: one line, non-zero exit, after --timeout."""
    ffmpeg = needs_ffmpeg()
    from kadr.io.synthetic import write_video

    rng = np.random.default_rng(0)
    base = sample_photo("coffee")[:180, :320].astype(np.int16)
    frames = [np.clip(base + rng.integers(-20, 20, base.shape), 0, 255).astype(np.uint8) for _ in range(150)]
    clip = write_video(frames, tmp_path / "c.mp4")  # 6 s: more than FFmpeg probes before the first frame
    ref = tmp_path / "ref.png"
    Image.fromarray(sample_photo("rocket")).save(ref)
    script = (f"{ffmpeg} -loglevel error -i {clip} -c:v libx264 -f mpegts - ; sleep 120")
    src = subprocess.Popen(["bash", "-c", script], stdout=subprocess.PIPE)
    out = subprocess.run([sys.executable, "-m", "kadr", "watch", "-", "--query", str(ref), "--timeout", "2",
                          "--min-cosine", "0.99"], stdin=src.stdout, capture_output=True, text=True, cwd=ROOT,
                         timeout=110)
    still_open = src.poll() is None  # the writer still holds the pipe: kadr did not wait for its end
    src.kill()
    assert out.returncode == 2, out.stderr
    assert still_open
    err = [x for x in out.stderr.splitlines() if x.strip()]
    assert err[-1].startswith("kadr: error: <stdin>: no decodable"), out.stderr
    assert "for 2 s" in err[-1] or "after 2 s" in err[-1]  # (a loaded machine may not finish probing in 2 s)
    # nothing at all on the pipe: the open itself times out
    src = subprocess.Popen(["sleep", "120"], stdout=subprocess.PIPE)
    out = subprocess.run([sys.executable, "-m", "kadr", "watch", "-", "--query", str(ref), "--timeout", "2",
                          "--min-cosine", "0.99"], stdin=src.stdout, capture_output=True, text=True, cwd=ROOT,
                         timeout=120)
    src.kill()
    assert out.returncode == 2, out.stderr
    assert out.stderr.splitlines()[-1].startswith("kadr: error: <stdin>: no decodable video after 2 s"), out.stderr


def test_query_syntax():
    from kadr.cli.watch import parse_queries

    names, files = parse_queries(["a.png", "goal=f1.jpg,f2.jpg", "goal=f3.jpg", "x/b.jpg,c.jpg"])
    assert names == ["a.png", "goal", "b.jpg"]
    assert files == [["a.png"], ["f1.jpg", "f2.jpg", "f3.jpg"], ["x/b.jpg", "c.jpg"]]
