import subprocess
import warnings

import numpy as np
import pytest

from kadr.errors import DecodeError, InputError, KadrWarning, NoVideoStreamError, NotAFileError, SourceNotFoundError, UnsupportedSourceError
from kadr.io import Sampling, VideoReader, probe
from tests.conftest import needs_ffmpeg


def grey_of(frame) -> float:
    return float(frame.image[16:, :, :].mean())


def test_iterates_all_frames_in_order(counter_clip):
    with VideoReader(counter_clip) as r:
        frames = list(r)
    assert [f.index for f in frames] == list(range(60))
    np.testing.assert_allclose([f.time for f in frames], np.arange(60) / 25, atol=1e-6)
    # lossless encode: grey level encodes the index (i * 4)
    np.testing.assert_allclose([grey_of(f) for f in frames], np.arange(60) * 4, atol=1.5)
    assert r.stats.decoded == 60 and r.stats.corrupt_packets == 0


def test_analysis_size(counter_clip):
    with VideoReader(counter_clip, analysis_size=48) as r:
        f = next(iter(r))
        assert f.image.shape == (64, 96, 3)
        assert f.analysis_image.shape == (32, 48, 3)
    with VideoReader(counter_clip, analysis_size=(20, 10)) as r:
        assert next(iter(r)).analysis_image.shape == (10, 20, 3)


@pytest.mark.parametrize("target", [0, 7, 10, 33, 59])
def test_seek_by_frame_is_exact(counter_clip, target):
    with VideoReader(counter_clip) as r:
        f = r.read(frame=target)
        assert f.index == target
        assert abs(grey_of(f) - target * 4) < 1.5
        # iteration continues from there
        r.seek(frame=target)
        nxt = [g.index for _, g in zip(range(3), r)]
        assert nxt == list(range(target, min(60, target + 3)))


def test_read_by_time_returns_the_frame_displayed(counter_clip):
    """CFR 25 fps: frame i is on screen during [i/25, (i+1)/25), so the frame shown at t is
    floor(t * 25) — the last frame with PTS <= t (the "frame shown at T" of clip@T)."""
    with VideoReader(counter_clip) as r:
        f = r.read(time=1.0)  # frame 25 starts at exactly 1.0 s
        assert f.index == 25 and abs(f.time - 1.0) < 1e-6
        assert abs(grey_of(f) - 25 * 4) < 1.5
        for t, want in [(0.0, 0), (0.001, 0), (1.01, 25), (1.039, 25), (1.04, 26), (2.39, 59)]:
            assert r.read(time=t).index == want, t
        with pytest.raises(InputError, match="has no frame"):
            r.read(time=2.4)  # frame 59 leaves the screen at 60/25 = 2.4 s
        with pytest.raises(InputError, match="has no frame"):
            r.read(frame=1000)
        # seek(time=) keeps its range meaning: the first frame at or after t
        r.seek(time=1.01)
        assert next(iter(r)).index == 26


def _vfr_clip(path, pts_ms):
    import av
    from fractions import Fraction

    with av.open(str(path), "w") as c:
        s = c.add_stream("mpeg4", rate=25)
        s.width, s.height, s.pix_fmt = 32, 32, "yuv420p"
        s.time_base = Fraction(1, 1000)
        s.codec_context.time_base = Fraction(1, 1000)
        for i, t in enumerate(pts_ms):
            fr = av.VideoFrame.from_ndarray(np.full((32, 32, 3), i * 30, np.uint8), format="rgb24")
            fr.pts = t
            fr.time_base = Fraction(1, 1000)
            for pkt in s.encode(fr):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    return path


def test_read_by_time_on_vfr(tmp_path):
    """VFR: the frame displayed at t is the one with the largest PTS <= t, however long the
    gaps between PTS are (index/fps arithmetic would be wrong here)."""
    pts_ms = [0, 40, 80, 200, 240, 500, 540]
    p = _vfr_clip(tmp_path / "vfr.mkv", pts_ms)
    with VideoReader(p) as r:
        for t, want in [(0.0, 0), (0.15, 2), (0.199, 2), (0.2, 3), (0.3, 4), (0.499, 4), (0.52, 5), (0.575, 6)]:
            f = r.read(time=t)
            assert f.index == want, t
            assert abs(f.time - pts_ms[want] / 1000) < 1e-3
            assert abs(float(f.image.mean()) - want * 30) < 4  # the pixels are that frame's
        with pytest.raises(InputError, match="has no frame"):
            r.read(time=0.6)  # 540 ms + the median step (40 ms) = 580 ms


def test_sampling_modes(counter_clip):
    with VideoReader(counter_clip, sampling=Sampling(step=7)) as r:
        assert [f.index for f in r] == list(range(0, 60, 7))
    with VideoReader(counter_clip, sampling=Sampling(fps=5)) as r:
        idx = [f.index for f in r]
    assert idx == list(range(0, 60, 5))
    with VideoReader(counter_clip, sampling=Sampling(keyframes_only=True)) as r:
        ks = [f.index for f in r]
    # reference: key-frame flags of the packets (the encoder may add scene-cut key frames)
    import av

    with av.open(str(counter_clip)) as c:
        pk = sorted((p.pts, p.is_keyframe) for p in c.demux(video=0) if p.size)
    assert ks == [i for i, (_, k) in enumerate(pk) if k]
    assert ks[0] == 0 and len(ks) >= 5
    with VideoReader(counter_clip, sampling=Sampling(start=1.0, end=1.2)) as r:
        assert [f.index for f in r] == [25, 26, 27, 28, 29]
    with pytest.raises(InputError):
        Sampling(step=2, fps=3)


def test_vfr_times_come_from_pts(tmp_path):
    """Frames with irregular PTS: times must follow the PTS, not index/fps."""
    pts_ms = [0, 40, 80, 200, 240, 500, 540]
    p = _vfr_clip(tmp_path / "vfr.mkv", pts_ms)
    with VideoReader(p) as r:
        times = [f.time for f in r]
    np.testing.assert_allclose(times, np.array(pts_ms) / 1000, atol=1e-3)
    info = probe(str(p))
    assert info.vfr is True and info.frame_count == 7


def test_rotation_metadata_applied(tmp_path, counter_clip):
    ffmpeg = needs_ffmpeg()
    out = tmp_path / "rot.mp4"
    subprocess.run([ffmpeg, "-v", "error", "-i", str(counter_clip), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(out)], check=True)
    # reference: ffmpeg's own autorotation
    ref = subprocess.run([ffmpeg, "-v", "error", "-i", str(out), "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         check=True, capture_output=True).stdout
    with VideoReader(out) as r:
        assert r.rotation in (90, 270)
        assert (r.width, r.height) == (64, 96)
        f = next(iter(r))
    assert f.image.shape == (96, 64, 3)
    ref = np.frombuffer(ref, np.uint8).reshape(96, 64, 3)
    assert np.abs(f.image.astype(int) - ref).mean() < 3
    assert probe(str(out)).rotation == r.rotation


def test_truncated_video_without_index(tmp_path, demo_clip):
    """An MP4 whose index (moov atom, written last) is cut off cannot be decoded at all:
    one clear error, not a crash."""
    path, _ = demo_clip
    bad = tmp_path / "trunc.mp4"
    bad.write_bytes(path.read_bytes()[: int(path.stat().st_size * 0.5)])
    with pytest.raises(DecodeError, match="truncated"):
        VideoReader(bad)


def test_truncated_faststart_video(tmp_path, demo_clip):
    ffmpeg = needs_ffmpeg()
    path, truth = demo_clip
    fs = tmp_path / "fs.mp4"
    subprocess.run([ffmpeg, "-v", "error", "-i", str(path), "-c", "copy", "-movflags", "+faststart", str(fs)], check=True)
    data = fs.read_bytes()
    bad = tmp_path / "trunc.mp4"
    bad.write_bytes(data[: int(len(data) * 0.6)])
    with VideoReader(bad) as r, pytest.warns(KadrWarning, match=r"decoded \d+ of \d+ frames \(\d+ lost\)"):
        n = sum(1 for _ in r)
    assert 0 < n < truth.frames


def test_corrupt_packets_are_skipped(tmp_path, demo_clip):
    """Garbage written into the middle of an MPEG-TS stream: decoding carries on."""
    ffmpeg = needs_ffmpeg()
    path, truth = demo_clip
    ts = tmp_path / "a.ts"
    subprocess.run([ffmpeg, "-v", "error", "-i", str(path), "-c", "copy", str(ts)], check=True)
    data = bytearray(ts.read_bytes())
    rng = np.random.default_rng(0)
    mid = len(data) // 2
    data[mid:mid + 20000] = rng.integers(0, 256, 20000, dtype=np.uint8).tobytes()
    ts.write_bytes(bytes(data))
    with VideoReader(ts) as r, warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        n = sum(1 for _ in r)
    assert n > truth.frames * 0.5
    assert r.stats.corrupt_packets + r.stats.corrupt_frames + (truth.frames - n) > 0


def test_pipe_source(demo_clip):
    ffmpeg = needs_ffmpeg()
    path, truth = demo_clip
    proc = subprocess.Popen([ffmpeg, "-v", "error", "-i", str(path), "-c", "copy", "-f", "mpegts", "-"], stdout=subprocess.PIPE)
    with VideoReader(proc.stdout) as r:
        assert r.is_live
        frames = [f.index for f in r]
    proc.wait()
    assert len(frames) == truth.frames


def test_bad_sources(tmp_path):
    (tmp_path / "zero.mp4").write_bytes(b"")
    (tmp_path / "text.mp4").write_text("this is not a video\n" * 50)
    with pytest.raises(SourceNotFoundError, match="not found"):
        VideoReader(tmp_path / "missing.mp4")
    with pytest.raises(NotAFileError, match="directory"):
        VideoReader(tmp_path)
    with pytest.raises(DecodeError, match="empty"):
        VideoReader(tmp_path / "zero.mp4")
    with pytest.raises(DecodeError, match="not a video"):
        VideoReader(tmp_path / "text.mp4")
    with pytest.raises(UnsupportedSourceError, match="ftp"):
        VideoReader("ftp://example.org/a.mp4")
    with pytest.raises(UnsupportedSourceError, match="webcam"):
        VideoReader("/dev/video97")


def test_audio_only(tmp_path):
    import av

    p = tmp_path / "a.wav"
    with av.open(str(p), "w") as c:
        s = c.add_stream("pcm_s16le", rate=8000)
        fr = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        fr.sample_rate = 8000
        for pkt in s.encode(fr):
            c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    with pytest.raises(NoVideoStreamError, match="no video stream.*audio"):
        VideoReader(p)


def test_probe(demo_clip):
    path, truth = demo_clip
    info = probe(str(path))
    assert info.codec == "h264" and (info.width, info.height) == (320, 180)
    assert info.frame_count == truth.frames and not info.vfr and not info.has_audio
    assert abs(info.avg_fps - 25) < 1e-6
    assert abs(info.duration - truth.frames / 25) < 0.05


def test_shared_clips_frame_counts(shared_truth):
    from tests.conftest import SHARED_VIDEO

    for name, gt in shared_truth.items():
        if name.startswith("_"):
            continue
        info = probe(str(SHARED_VIDEO / name))
        assert info.frame_count == gt["frames"], name
        assert (info.width, info.height) == tuple(gt["size"]), name
        assert abs(info.avg_fps - gt["fps"]) < 0.01, name
        with VideoReader(SHARED_VIDEO / name, analysis_size=64) as r:
            assert sum(1 for _ in r) == gt["frames"], name


def test_fast_decode_close_to_standard(demo_clip):
    """skip_loop_filter changes pixels a little, never the frame count or order."""
    path, truth = demo_clip
    with VideoReader(path, analysis_size=64) as a, VideoReader(path, analysis_size=64, fast=True) as b:
        std = [f.analysis_image.astype(float) for f in a]
        fast = [f.analysis_image.astype(float) for f in b]
    assert len(std) == len(fast) == truth.frames
    assert max(abs(x - y).mean() for x, y in zip(std, fast)) < 4.0


def test_http_source(demo_clip, tmp_path):
    """An http:// URL opens through the same class (server on loopback only). MPEG-TS,
    since Python's simple server has no Range requests (an MP4 with its index at the end
    needs them)."""
    import functools
    import http.server
    import threading

    ffmpeg = needs_ffmpeg()
    src, truth = demo_clip
    path = tmp_path / "demo.ts"
    subprocess.run([ffmpeg, "-v", "error", "-i", str(src), "-c", "copy", str(path)], check=True)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(path.parent))
    handler.log_message = lambda *a, **k: None
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    try:
        url = f"http://127.0.0.1:{srv.server_address[1]}/{path.name}"
        with VideoReader(url, analysis_size=32) as r:
            assert r.is_live
            n = sum(1 for _ in r)
        assert n == truth.frames
    finally:
        srv.shutdown()


def test_metadata_after_close(counter_clip):
    """Reading metadata of a closed reader must not touch freed PyAV objects (it segfaulted)."""
    r = VideoReader(counter_clip)
    r.close()
    assert r.fps == 25 and r.frame_count == 60 and (r.width, r.height) == (96, 64)
    with pytest.raises(InputError, match="closed"):
        next(iter(r))


def test_end_time_is_not_reported_as_loss(counter_clip):
    with VideoReader(counter_clip, sampling=Sampling(end=1.0)) as r, warnings.catch_warnings():
        warnings.simplefilter("error", KadrWarning)
        assert len(list(r)) == 25


@pytest.mark.shared
def test_read_by_time_on_real_clip():
    """testvideo.mp4 (29.97 fps, PTS step 1001/30000 s): 12.5 s falls inside the display
    interval of frame 374 (12.4791 s … 12.5125 s); frame 375 starts after it."""
    from tests.conftest import shared_video_dir

    with VideoReader(shared_video_dir() / "testvideo.mp4") as r:
        f = r.read(time=12.5)
        assert f.index == 374 and f.time <= 12.5 < f.time + 1001 / 30000

