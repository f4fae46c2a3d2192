"""`kadr shots`, `kadr keyframes`, `kadr compare-shots` as a user runs them."""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.conftest import needs_ffmpeg, run_cli


run = run_cli


def test_shots_json_and_human(demo_clip, capsys):
    path, truth = demo_clip
    code, out, err = run(capsys, "shots", path, "--json", "--detector", "classic")
    assert code == 0, err
    res = json.loads(out)
    assert res["frames"] == truth.frames and res["shots"][0]["keyframes"] == []
    code, out, _ = run(capsys, "shots", path, "--detector", "classic")
    assert code == 0 and f"{len(res['shots'])} shots" in out and "cut" in out


def test_shots_exports_and_thumbnails(demo_clip, tmp_path, capsys):
    otio = pytest.importorskip("opentimelineio")
    path, _ = demo_clip
    code, out, err = run(capsys, "shots", path, "--detector", "classic", "--csv", "--edl", tmp_path / "d.edl",
                         "--otio", tmp_path / "d.otio", "--thumbnails", tmp_path / "th", "--encoder", "hsv-hist")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    tl = otio.adapters.read_from_file(str(tmp_path / "d.otio"))
    clips = list(tl.tracks[0].find_clips())
    assert len(rows) == len(clips) == len(list((tmp_path / "th").glob("shot*_f*.jpg")))
    assert [int(r["start_frame"]) for r in rows] == [c.source_range.start_time.value for c in clips]
    edl = (tmp_path / "d.edl").read_text()
    assert edl.count("* FROM CLIP NAME: demo.mp4") == len(rows)
    assert all(r["keyframes"] for r in rows)  # the thumbnail frame is the shot's keyframe


def test_shots_two_stdout_formats_and_missing_ffmpeg(demo_clip, tmp_path, capsys, monkeypatch):
    path, _ = demo_clip
    code, _, err = run(capsys, "shots", path, "--csv", "--edl")
    assert code == 2 and "only one format can go to stdout" in err
    monkeypatch.setenv("PATH", str(tmp_path))
    code, _, err = run(capsys, "shots", path, "--detector", "classic", "--split", tmp_path / "s")
    assert code == 2 and "ffmpeg" in err and "install" in err


def test_shots_split(demo_clip, tmp_path, capsys):
    needs_ffmpeg()
    path, _ = demo_clip
    code, out, err = run(capsys, "shots", path, "--detector", "classic", "--split", tmp_path / "s", "--json")
    assert code == 0, err
    assert len(list((tmp_path / "s").glob("shot*.mp4"))) == len(json.loads(out)["shots"])


def test_keyframes_command(demo_clip, tmp_path, capsys):
    path, _ = demo_clip
    code, out, err = run(capsys, "shots", path, "--detector", "classic", "--json")
    (tmp_path / "shots.json").write_text(out)
    code, out, err = run(capsys, "keyframes", path, "-o", tmp_path / "kf", "--shots", tmp_path / "shots.json",
                         "--encoder", "hsv-hist", "--format", "png", "--json")
    assert code == 0, err
    res = json.loads(out)
    saved = json.loads((tmp_path / "kf" / "keyframes.json").read_text())
    assert saved["shots"] == res["shots"]
    n = sum(len(s["keyframes"]) for s in res["shots"])
    assert n >= len(res["shots"]) and len(list((tmp_path / "kf").glob("*.png"))) == n
    code, _, err = run(capsys, "keyframes", path, "-o", tmp_path / "kf2", "--shots", tmp_path / "kf")
    assert code == 2 and "directory" in err
    (tmp_path / "bad.json").write_text("{")
    code, _, err = run(capsys, "keyframes", path, "-o", tmp_path / "kf2", "--shots", tmp_path / "bad.json")
    assert code == 2 and "kadr shots" in err


def test_compare_shots_command(demo_clip, tmp_path, capsys):
    path, _ = demo_clip
    code, out, err = run(capsys, "compare-shots", path, path, "--encoder", "hsv-hist", "--detector", "classic",
                         "-o", tmp_path / "cmp", "--json")
    assert code == 0, err
    res = json.loads(out)
    n = len(res["videos"][0]["shots"])
    # the same video twice: every shot repeats across (similarity 1 with its copy) except the
    # black hold between the fades, which is content-free and never paired
    free = {m["shot"] for m in res["content_free"]}
    assert free and all(m["content"] == "solid" for m in res["content_free"])
    across = {(p["a"]["shot"], p["b"]["shot"]) for p in res["pairs"] if p["kind"] == "across"}
    assert {(i, i) for i in range(n) if i not in free} <= across
    assert not any(p["a"]["shot"] in free or p["b"]["shot"] in free for p in res["pairs"])
    html = (tmp_path / "cmp" / "contact_sheet.html").read_text()
    assert "<svg" in html and html.count("<img") >= 2 * n
    assert json.loads((tmp_path / "cmp" / "compare.json").read_text())["pairs"] == res["pairs"]
    code, _, err = run(capsys, "compare-shots", path, "--encoder", "nope")
    assert code == 2 and "unknown encoder" in err


@pytest.fixture(scope="module")
def vfr_clip(tmp_path_factory):
    """40 frames, alternately 40 and 80 ms long (VFR, base rate 25), a cut at frame 20."""
    from fractions import Fraction

    import av
    import cv2

    from kadr.io.synthetic import sample_photo

    a, b = (cv2.resize(sample_photo(n), (160, 96)) for n in ("astronaut", "coffee"))
    p = tmp_path_factory.mktemp("vfr") / "vfr.mp4"
    with av.open(str(p), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 160, 96, "yuv420p"
        s.time_base = s.codec_context.time_base = Fraction(1, 1000)
        t = 0
        for i in range(40):
            f = av.VideoFrame.from_ndarray(a if i < 20 else b, format="rgb24")
            f.pts, f.time_base = t, Fraction(1, 1000)
            for pkt in s.encode(f):
                c.mux(pkt)
            t += 40 if i % 2 == 0 else 80
        for pkt in s.encode():
            c.mux(pkt)
    return p


def test_vfr_timecodes_follow_pts(vfr_clip, tmp_path, capsys):
    otio = pytest.importorskip("opentimelineio")
    import av

    with av.open(str(vfr_clip)) as c:  # the cut frame's time, decoded independently
        t20 = [float(f.time) for f in c.decode(video=0)][20]
    assert t20 == pytest.approx(1.2)  # not 20/25 = 0.8 s: the clip is VFR
    code, _, err = run(capsys, "shots", vfr_clip, "--detector", "classic", "--edl", tmp_path / "v.edl",
                       "--otio", tmp_path / "v.otio")
    assert code == 0 and "variable frame rate" in err
    edl = otio.adapters.read_from_file(str(tmp_path / "v.edl"), "cmx_3600", rate=25)
    tl = otio.adapters.read_from_file(str(tmp_path / "v.otio"))
    for t in (edl, tl):
        starts = [c.source_range.start_time for c in t.tracks[0].find_clips()]
        assert [round(s.to_seconds() * 25) for s in starts] == [0, round(t20 * 25)]
