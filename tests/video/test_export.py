"""Exports: timecodes, CSV, CMX3600 EDL, OTIO, ffmpeg split, thumbnails."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from kadr.errors import ExternalToolError, InputError, KadrWarning
from kadr.video.export import (ShotList, otio_json, split_commands, split_video, timecode, to_csv, to_edl,
                               to_otio, write_thumbnails)
from kadr.video.types import Keyframe, Shot, Transition
from tests.conftest import needs_ffmpeg
from tests.tiny_encoder import TinyEncoder

otio = pytest.importorskip("opentimelineio")


def _truth_shotlist(path, truth, fps=25.0) -> ShotList:
    """The demo clip's ground truth as a shot list: boundaries at cut frames and at the
    settled end of each gradual transition (the part-A convention for shot starts)."""
    starts = sorted({0, *[e for _, _, e in truth.types]})
    ends = starts[1:] + [truth.frames]
    shots = [Shot(i, a, b, a / fps, b / fps) for i, (a, b) in enumerate(zip(starts, ends))]
    trans = [Transition(t, s, e, s / fps, e / fps, 1.0) for t, s, e in truth.types]
    return ShotList(str(path), fps, truth.frames, shots, trans, "truth")


@pytest.mark.parametrize("fps,drop", [(25.0, False), (24.0, False), (30000 / 1001, True), (60000 / 1001, True),
                                      (30000 / 1001, False)])
def test_timecode_matches_opentimelineio(fps, drop):
    # reference: opentimelineio.opentime.to_timecode (SMPTE ST 12-1 drop-frame rules)
    for f in [0, 1, 2, 1799, 1800, 1801, 3597, 17981, 17982, 17983, 107891, 107892, 123456]:
        ref = otio.opentime.to_timecode(otio.opentime.RationalTime(f, fps), fps, drop)
        assert timecode(f, fps, drop_frame=drop) == ref, f
    with pytest.raises(InputError, match="drop-frame"):
        timecode(10, 25.0, drop_frame=True)


def test_csv_rows(demo_clip):
    path, truth = demo_clip
    sl = _truth_shotlist(path, truth)
    sl.shots[1].keyframes = [Keyframe(50, 2.0), Keyframe(60, 2.4)]
    rows = list(csv.DictReader(io.StringIO(to_csv(sl))))
    assert len(rows) == len(sl.shots)
    for r, s in zip(rows, sl.shots):
        assert int(r["start_frame"]) == s.start_frame and int(r["end_frame"]) == s.end_frame
        assert int(r["frames"]) == s.end_frame - s.start_frame
        # 25 fps non-drop: HH:MM:SS:FF = frame // 25 s + frame % 25
        assert r["start_timecode"] == f"00:00:{s.start_frame // 25:02d}:{s.start_frame % 25:02d}"
    assert rows[1]["keyframes"] == "50;60"


@pytest.mark.parametrize("fps", [25.0, 30000 / 1001])
def test_edl_round_trips_through_the_otio_cmx_reader(demo_clip, fps):
    adapter = pytest.importorskip("otio_cmx3600_adapter")  # the reference CMX3600 parser
    path, truth = demo_clip
    sl = _truth_shotlist(path, truth, fps)
    text = to_edl(sl)
    fcm = "NON-DROP FRAME" if fps == 25.0 else "DROP FRAME"
    assert text.startswith(f"TITLE: demo\nFCM: {fcm}\n")
    tl = otio.adapters.read_from_string(text, "cmx_3600", rate=fps)
    clips = list(tl.tracks[0].find_clips())
    assert len(clips) == len(sl.shots)
    for c, s in zip(clips, sl.shots):
        assert c.source_range.start_time.to_frames() == s.start_frame
        assert c.source_range.duration.to_frames() == s.frames
        assert c.name == "demo.mp4"
    assert adapter is not None


def test_edl_uses_pts_times_on_vfr():
    # a VFR stream: frame 10 sits at 0.8 s although 10/25 = 0.4 s; the EDL follows the times
    sl = ShotList("vfr.mp4", 25.0, 20, [Shot(0, 0, 10, 0.0, 0.8), Shot(1, 10, 20, 0.8, 1.2)], [])
    tl = otio.adapters.read_from_string(to_edl(sl), "cmx_3600", rate=25)
    starts = [c.source_range.start_time.to_frames() for c in tl.tracks[0].find_clips()]
    assert starts == [0, 20]  # round(0.8 s * 25)


def test_otio_timeline(demo_clip, tmp_path):
    path, truth = demo_clip
    sl = _truth_shotlist(path, truth)
    sl.shots[0].keyframes = [Keyframe(12, 0.48)]
    p = tmp_path / "x.otio"
    p.write_text(otio_json(sl))
    tl = otio.adapters.read_from_file(str(p))
    track = tl.tracks[0]
    clips = list(track.find_clips())
    assert [(c.source_range.start_time.value, c.source_range.duration.value) for c in clips] == \
        [(s.start_frame, s.frames) for s in sl.shots]
    assert all(c.source_range.start_time.rate == 25 for c in clips)
    assert clips[0].media_reference.target_url == path.resolve().as_uri()
    assert clips[0].metadata["kadr"]["keyframes"][0]["frame"] == 12
    # the clips fill the whole video, the transitions are markers at their frames
    assert track.duration().value == truth.frames
    marks = [(m.name, m.marked_range.start_time.value, m.marked_range.duration.value) for m in track.markers]
    assert marks == [(t, s, e - s) for t, s, e in truth.types]
    assert to_otio(sl).tracks[0].kind == otio.schema.TrackKind.Video


def test_shotlist_json_round_trip_and_errors(demo_clip):
    path, truth = demo_clip
    sl = _truth_shotlist(path, truth)
    again = ShotList.from_dict(json.loads(json.dumps(sl.to_dict())))
    assert again.to_dict() == sl.to_dict()
    with pytest.raises(InputError, match="kadr shots --json"):
        ShotList.from_dict({"video": "x"})
    with pytest.raises(InputError, match="frame rate"):
        to_edl(ShotList("x.mp4", 0.0, 0, [], []))


def _frames_of(p):
    from kadr.io.video import VideoReader

    with VideoReader(p) as r:
        return [f.image.astype(np.int16) for f in r]


def test_split_reencode_is_frame_exact(demo_clip, tmp_path):
    needs_ffmpeg()
    path, truth = demo_clip
    sl = _truth_shotlist(path, truth)
    sl.shots = sl.shots[:3]
    outs = split_video(sl, tmp_path / "split", mode="reencode")
    original = _frames_of(path)
    for s, p in zip(sl.shots, outs):
        piece = _frames_of(p)
        assert len(piece) == s.frames, p
        # the first frame of each piece is the shot's first frame (re-encoding error only),
        # not its neighbour before the boundary
        err = [np.abs(piece[0] - original[i]).mean() for i in (s.start_frame, max(0, s.start_frame - 1))]
        assert err[0] < 3.0 and (s.start_frame == 0 or err[0] < err[1]), err


def test_split_copy_and_missing_ffmpeg(demo_clip, tmp_path, monkeypatch):
    needs_ffmpeg()
    path, truth = demo_clip
    sl = _truth_shotlist(path, truth)
    # stream copy warns about the boundaries that are not key frames (decoded independently here)
    from kadr.io.video import Sampling, VideoReader

    with VideoReader(path, sampling=Sampling(keyframes_only=True)) as r:
        keys = {f.index for f in r}
    off = sum(s.start_frame not in keys for s in sl.shots[1:])
    assert 0 < off < len(sl.shots) - 1  # x264 put key frames on some cuts only
    with pytest.warns(KadrWarning, match=f"{off} of {len(sl.shots) - 1} shot boundaries are not on key"):
        outs = split_video(sl, tmp_path / "copy", mode="copy")
    assert len(outs) == len(sl.shots) and all(p.stat().st_size > 0 for p in outs)
    cmd = split_commands(sl, tmp_path, mode="copy")[0][1]
    assert "-c" in cmd and cmd[cmd.index("-c") + 1] == "copy"
    with pytest.raises(InputError, match="split mode"):
        split_commands(sl, tmp_path, mode="fast")
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    with pytest.raises(ExternalToolError, match="apt-get install ffmpeg"):
        split_video(sl, tmp_path / "nope")


def test_thumbnails_one_per_shot(demo_clip, tmp_path):
    from PIL import Image

    path, truth = demo_clip
    sl = _truth_shotlist(path, truth)
    paths = write_thumbnails(sl, tmp_path / "th", size=100, encoder=TinyEncoder())
    assert len(paths) == len(sl.shots)
    for p, s in zip(paths, sl.shots):
        assert p.name.startswith(f"shot{s.index:04d}_f") and max(Image.open(p).size) == 100
        assert s.start_frame <= s.keyframes[0].frame < s.end_frame
