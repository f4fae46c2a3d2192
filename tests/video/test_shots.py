"""kadr.video.shots: the API, the registry, the streaming contract and the classic detector.

Reference: the exact ground truth the synthetic generator writes (kadr.io.synthetic,
conventions of ../shared/data/video/ground_truth.json) and that file for the real clips."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kadr.errors import DecodeError, SourceNotFoundError, UnknownNameError
from kadr.io import VideoReader
from kadr.video import shots as shots_mod
from kadr.video.shots import ShotDetection, detect_shots, get, names
from tests.conftest import shared_video_dir


def spans(transitions):
    return [(t.type, t.start_frame, t.end_frame) for t in transitions]


@pytest.fixture(scope="module")
def demo_result(demo_clip):
    path, truth = demo_clip
    return detect_shots(path, detector="classic"), truth


def test_registry_names_and_unknown():
    assert {"auto", "classic", "transnetv2"} <= set(names())
    with pytest.raises(UnknownNameError, match="valid shot detectors: auto, classic"):
        get("nope")


def test_classic_is_frame_exact_on_demo_clip(demo_result):
    res, truth = demo_result
    # truth.types is what render_clip wrote: cut 40, dissolve 63-75, fade_out, fade_in, cut
    assert spans(res.transitions) == [tuple(t) for t in truth.types]
    assert res.frames == truth.frames


def test_to_dict_is_the_issue_json_format(demo_result):
    res, _ = demo_result
    d = json.loads(json.dumps(res.to_dict()))
    assert list(d) == ["video", "fps", "frames", "detector", "transitions", "shots"]
    assert d["fps"] == pytest.approx(25.0) and d["detector"] == "classic"
    assert set(d["transitions"][0]) == {"type", "start_frame", "end_frame", "start_time", "end_time", "score"}
    assert set(d["shots"][0]) == {"index", "start_frame", "end_frame", "start_time", "end_time", "keyframes"}
    shots = d["shots"]
    # contiguous cover of [0, frames), end exclusive; keyframes left empty for the keyframe picker
    assert shots[0]["start_frame"] == 0 and shots[-1]["end_frame"] == d["frames"]
    assert all(a["end_frame"] == b["start_frame"] for a, b in zip(shots, shots[1:]))
    assert all(s["keyframes"] == [] for s in shots)
    # times from PTS: 25 fps → frame 40 at 1.6 s
    cut = d["transitions"][0]
    assert cut["start_frame"] == cut["end_frame"] == 40 and cut["start_time"] == pytest.approx(1.6)
    assert ShotDetection.from_dict(d).to_dict() == d


def test_streaming_equals_file(demo_clip, demo_result):
    """update()/flush() frame by frame gives what detect_shots gives, and each transition
    is returned at most ``lookahead`` frames after its end (bounded latency) except held fade-outs."""
    path, _ = demo_clip
    det = get("classic")
    got, latency = [], []
    with VideoReader(path, analysis_size=det.analysis_size) as r:
        for f in r:
            for t in det.update(f):
                got.append(t)
                latency.append((t.type, f.index - t.end_frame))
    got += det.flush()
    assert spans(sorted(got, key=lambda t: t.start_frame)) == spans(demo_result[0].transitions)
    assert all(lag <= det.options.lookahead for kind, lag in latency if kind != "fade_out")


def test_auto_is_default_and_reports_what_ran(demo_clip):
    res = detect_shots(demo_clip[0])
    assert res.detector in names()


def test_one_frame_and_missing_file(tmp_path):
    from kadr.io.synthetic import write_video

    p = write_video([np.full((32, 48, 3), 90, np.uint8)], tmp_path / "one.mp4")
    res = detect_shots(p)
    assert res.frames == 1 and res.transitions == [] and len(res.shots) == 1
    assert (res.shots[0].start_frame, res.shots[0].end_frame) == (0, 1)
    with pytest.raises(SourceNotFoundError):
        detect_shots(tmp_path / "missing.mp4")


def test_zero_frames_gives_zero_shots(demo_clip):
    from kadr.io import Sampling

    clock = shots_mod.FrameClock(25.0)
    assert shots_mod.shots_from_transitions([], 0, clock) == []
    # an open reader that delivers no frame (starts after the end of the clip)
    with VideoReader(demo_clip[0], analysis_size=64, sampling=Sampling(start=1000.0)) as r:
        res = detect_shots(r)
    assert (res.frames, res.transitions, res.shots) == (0, [], [])


def test_non_video_file_is_refused(tmp_path):
    """Not a video (audio-only files are refused by VideoReader, tested in tests/io)."""
    p = tmp_path / "notes.mp4"
    p.write_text("these are not frames\n" * 50)
    with pytest.raises(DecodeError, match="not a video FFmpeg can read"):
        detect_shots(p)


@pytest.mark.shared
def test_every_detector_reads_the_real_clips(shared_truth):
    """The four real clips decode completely and give well-formed results (every frame in one
    shot, transitions inside the clip, in order). Accuracy on them is the benchmark's job
    (benchmarks/shots.py, held-out set); frame lists pinned here would be tuning pins."""
    root = shared_video_dir()
    for name, gt in shared_truth.items():
        if name.startswith("_"):
            continue
        for det in ("classic", "auto"):
            res = detect_shots(root / name, detector=det)
            assert res.frames == gt["frames"], name
            assert res.shots[0].start_frame == 0 and res.shots[-1].end_frame == res.frames
            starts = [t.start_frame for t in res.transitions]
            assert starts == sorted(starts) and all(0 < t.start_frame <= t.end_frame < res.frames for t in res.transitions)


@pytest.fixture(scope="module")
def hard(tmp_path_factory):
    from kadr.io.synthetic import hard_clip

    p = tmp_path_factory.mktemp("hard") / "hard.mp4"
    _, truth = hard_clip(p, size=(192, 108))
    return p, truth


def test_hard_clip_truth_records_negatives(hard):
    _, truth = hard
    kinds = {k for k, _, _ in truth.negatives}
    assert kinds == {"flash", "whip", "zoom"}
    # negatives sit inside shots, never on a boundary (ground truth of the generator)
    for _, s, e in truth.negatives:
        assert all(not (a <= e and s <= b) for _, a, b in truth.types)
    assert truth.to_dict()["negatives"] == [list(n) for n in truth.negatives]


def test_classic_ignores_flashes_whip_pans_and_zooms(hard):
    """No false boundary on any hard negative; every cut and fade frame-exact. (The 24-frame
    dissolve between two moving shots is the known miss of the classic detector, see the
    README; it is not asserted either way.)"""
    path, truth = hard
    res = detect_shots(path, detector="classic")
    for t in res.transitions:
        assert not any(s - 2 <= t.end_frame and t.start_frame <= e + 2 for _, s, e in truth.negatives), t
    got = set(spans(res.transitions))
    for kind, s, e in truth.types:
        if kind != "dissolve":
            assert (kind, s, e) in got
    assert len(got - {tuple(t) for t in truth.types}) == 0


def test_corrupt_packets_mid_stream_are_skipped_and_counted(demo_clip, tmp_path):
    """Overwrite bytes in the middle of the file: detection carries on to the end."""
    import warnings

    data = bytearray(demo_clip[0].read_bytes())
    mid = len(data) // 2
    data[mid:mid + 3000] = bytes(3000)
    p = tmp_path / "broken.mp4"
    p.write_bytes(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = detect_shots(p)
    assert res.frames > demo_clip[1].frames // 2 and res.shots and res.decode is not None
    assert res.shots[-1].end_frame == res.frames


def test_gradual_kind_rules():
    from kadr.video.shots.classic import gradual_kind

    solid = [True, False, False, True, True]
    lum = [0.0, 90.0, 80.0, 0.0, 255.0]
    assert gradual_kind(solid, lum, 1, 2) == "fade_in"      # frame 0 (before start) is black
    assert gradual_kind(solid, lum, 2, 3) == "fade_out"     # ends on black frame 3
    assert gradual_kind(solid, lum, 2, 2) == "dissolve"
    assert gradual_kind(solid, lum, 4, 4) == "fade_in"      # black (3) to white (4): brighter end


def test_times_come_from_pts_on_variable_frame_rate(tmp_path):
    """A VFR clip (frame k shown at k*40 ms for k < 20, then every 100 ms): the cut at frame
    30 must be reported at its PTS time 0.8 + 10*0.1 = 1.8 s, not at 30/fps."""
    import av
    from fractions import Fraction

    from kadr.io.synthetic import sample_photo

    a = sample_photo("astronaut")[:180:2, :320:2]
    b = sample_photo("coffee")[:180:2, :320:2]
    times = [k * 0.04 for k in range(20)] + [0.8 + (k - 20) * 0.1 for k in range(20, 45)]
    p = tmp_path / "vfr.mkv"
    with av.open(str(p), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = a.shape[1], a.shape[0], "yuv420p"
        s.time_base = Fraction(1, 1000)
        s.codec_context.time_base = Fraction(1, 1000)
        for k, t in enumerate(times):
            fr = av.VideoFrame.from_ndarray(a if k < 30 else b, format="rgb24")
            fr.pts = round(t * 1000)
            fr.time_base = Fraction(1, 1000)
            for pkt in s.encode(fr):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    res = detect_shots(p, detector="classic")
    assert spans(res.transitions) == [("cut", 30, 30)]
    assert res.transitions[0].start_time == pytest.approx(1.8, abs=1e-3)
    assert res.shots[1].start_time == pytest.approx(1.8, abs=1e-3)
