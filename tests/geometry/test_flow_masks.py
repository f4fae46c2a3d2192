"""Optical flow, motion / gradient / contrast masks, channel stacking, masked comparison."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from kadr.errors import DataRangeError, InputError, ModelLoadError, ShapeError, UnknownNameError
from kadr.geometry.flow import FlowStream, LearnedFlow, flow_magnitude, optical_flow
from kadr.geometry.masks import (
    contrast_mask, gradient_mask, hog_gradients, local_contrast, masked_compare, motion_mask, pair_mask, stack_channels,
)
from kadr.io import VideoReader
from kadr.io.synthetic import sample_photo, write_video


def shifted(img, dx, dy):
    M = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(img, M, (img.shape[1], img.shape[0]), borderMode=cv2.BORDER_REFLECT)


@pytest.fixture(scope="module")
def photo():
    return cv2.resize(sample_photo("astronaut"), (256, 256), interpolation=cv2.INTER_AREA)


@pytest.mark.parametrize("method", ["dis", "farneback"])
def test_flow_recovers_a_known_shift(photo, method):
    f = optical_flow(photo, shifted(photo, 3.0, -2.0), method=method)
    assert f.shape == (256, 256, 2) and f.dtype == np.float32
    inner = f[32:-32, 32:-32].reshape(-1, 2)
    np.testing.assert_allclose(np.median(inner, axis=0), [3.0, -2.0], atol=0.15)
    assert flow_magnitude(f)[128, 128] == pytest.approx(np.hypot(*f[128, 128]))


def test_flow_errors(photo):
    with pytest.raises(ShapeError):
        optical_flow(photo, photo[:100])
    with pytest.raises(DataRangeError):
        optical_flow(photo.astype(np.float32), photo.astype(np.float32))
    with pytest.raises(UnknownNameError):
        optical_flow(photo, photo, method="raft")
    with pytest.raises(ModelLoadError):
        LearnedFlow("/nonexistent/flow-model")
    with pytest.raises(ModelLoadError, match="folder not found"):
        optical_flow(photo, photo, method="/nonexistent/flow-model")


def test_learned_flow_slot_torchscript(tmp_path, photo):
    """The local-folder slot: a TorchScript model whose flow is the mean intensity shift
    (a stand-in network); config.json asks for half-size input, so kadr resizes in and
    scales the flow back x2."""
    import json

    import torch

    class Const(torch.nn.Module):
        def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            n, _, h, w = a.shape
            out = torch.zeros(n, 2, h, w)
            out[:, 0] = 1.5
            out[:, 1] = -0.5
            return out

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit is deprecated, still loadable
        torch.jit.script(Const()).save(str(tmp_path / "model.pt"))
    (tmp_path / "config.json").write_text(json.dumps({"input_size": [128, 128]}))
    f = optical_flow(photo, photo, method=str(tmp_path))
    assert f.shape == (256, 256, 2)
    np.testing.assert_allclose(f[100, 100], [3.0, -1.0], atol=1e-5)
    stream = FlowStream(str(tmp_path))
    assert stream.update(photo) is None and stream.update(photo).shape == (256, 256, 2)


@pytest.fixture(scope="module")
def static_and_moving(tmp_path_factory):
    """A static noisy scene and the same scene with a 40x40 block moving 4 px/frame, both
    through H.264 (as real decoded frames)."""
    rng = np.random.default_rng(0)
    bg = cv2.resize(sample_photo("coffee"), (160, 120), interpolation=cv2.INTER_AREA)
    tex = cv2.resize(sample_photo("chelsea"), (40, 40), interpolation=cv2.INTER_AREA)
    static, moving = [], []
    for i in range(6):
        static.append(np.clip(bg + rng.normal(0, 2, bg.shape), 0, 255).astype(np.uint8))
        m = bg.copy()
        m[40:80, 20 + 4 * i:60 + 4 * i] = tex
        moving.append(m)
    d = tmp_path_factory.mktemp("masks")
    out = []
    for name, frames in (("static", static), ("moving", moving)):
        write_video(frames, d / f"{name}.mp4", fps=10, crf=18)
        with VideoReader(d / f"{name}.mp4") as r:
            out.append([f.image for f in r])
    return out


def test_motion_mask_empty_on_static_clip(static_and_moving):
    static, _ = static_and_moving
    for a, b in zip(static, static[1:]):
        assert motion_mask(a, b).mean() < 0.005  # issue 8: empty on a static clip


def test_motion_mask_covers_moving_object(static_and_moving):
    _, moving = static_and_moving
    a, b = moving[2], moving[3]  # block at x 28..68 then 32..72, y 40..80
    m = motion_mask(a, b)
    obj = m[44:76, 34:66]
    assert obj.mean() > 0.8
    outside = m.copy()
    outside[30:90, 18:82] = 0
    assert outside.mean() < 0.01
    soft = motion_mask(a, b, soft=True)
    assert 0 <= soft.min() and soft.max() < 1 and soft[60, 50] > 0.6


def test_camera_compensation_removes_a_pan(photo):
    a = photo
    b = shifted(photo, 2.0, 1.0)
    b[100:140, 100:140] = shifted(photo, 8.0, 1.0)[100:140, 100:140]  # one block moves against the pan
    plain = motion_mask(a, b, compensate="none")
    comp = motion_mask(a, b, compensate="camera")
    assert plain[20:80, 20:80].mean() > 0.9  # everything "moves" without compensation
    assert comp[20:80, 20:80].mean() < 0.05 and comp[110:130, 110:130].mean() > 0.8
    med = motion_mask(a, b, compensate="median")
    assert med[20:80, 20:80].mean() < 0.05


def test_hog_gradients_match_skimage_hog_histogram():
    """On a grey image only V varies; the magnitude-weighted 9-bin orientation histogram of
    the whole image must equal scikit-image's HOG cell histogram (one cell, L1 block norm)."""
    from skimage.feature import hog

    grey = sample_photo("camera")[::2, ::2, 0]
    g = hog_gradients(np.repeat(grey[..., None], 3, axis=2))
    assert (g.channel[g.magnitude > 0] == 2).all()
    v = grey.astype(np.float64) / 255
    # np.gradient's interior centred difference is (f[x+1] - f[x-1]) / 2, i.e. [-1, 0, 1] / 2
    ref = np.hypot(np.gradient(v, axis=1) * 2, np.gradient(v, axis=0) * 2)
    np.testing.assert_allclose(g.per_channel[1:-1, 1:-1, 2], ref[1:-1, 1:-1], atol=1e-5)
    mine, _ = np.histogram(g.angle, bins=9, range=(0, 180), weights=g.magnitude)
    mine /= mine.sum()
    hist = hog(grey.astype(np.float64) / 255, orientations=9, pixels_per_cell=grey.shape, cells_per_block=(1, 1),
              block_norm="L1")
    np.testing.assert_allclose(mine, hist, atol=2e-3)


def test_hue_is_circular_and_grey_hue_is_ignored():
    img = np.zeros((8, 8, 3), np.uint8)
    img[:, :4] = cv2.cvtColor(np.uint8([[[175, 255, 255]]]), cv2.COLOR_HSV2RGB)  # hue 350°
    img[:, 4:] = cv2.cvtColor(np.uint8([[[5, 255, 255]]]), cv2.COLOR_HSV2RGB)    # hue 10°
    g = hog_gradients(img)
    # 20° apart across the 0/360 seam = 0.0556 turn, not 0.944
    assert g.per_channel[4, 3:5, 0].max() == pytest.approx(20 / 360, abs=0.01)
    noisy_grey = np.random.default_rng(0).integers(120, 124, (16, 16, 1)).repeat(3, 2).astype(np.uint8)
    assert hog_gradients(noisy_grey).per_channel[..., 0].max() == 0  # S = 0: hue is undefined


def test_local_contrast_matches_scipy_formula():
    from scipy.ndimage import gaussian_filter

    img = sample_photo("coins")[::3, ::3]
    mine = local_contrast(img, sigma=3.0)
    luma = (img.astype(np.float64) / 255) @ [0.299, 0.587, 0.114]
    mu = gaussian_filter(luma, 3.0, mode="mirror", truncate=4.0)
    ref = np.sqrt(np.maximum(gaussian_filter(luma ** 2, 3.0, mode="mirror", truncate=4.0) - mu ** 2, 0))
    np.testing.assert_allclose(mine, ref, atol=2e-3)
    assert local_contrast(np.full((20, 20, 3), 77, np.uint8)).max() < 1e-3
    cm = contrast_mask(img)
    assert cm.dtype == np.float32 and cm.min() >= 0 and cm.max() == 1
    assert gradient_mask(np.full((20, 20, 3), 5, np.uint8)).max() == 0


def test_stack_channels(photo):
    g, c = gradient_mask(photo), contrast_mask(photo)
    st = stack_channels(photo, {"gradient": g, "contrast": c})
    assert st.shape == (256, 256, 5) and st.dtype == np.float32
    np.testing.assert_allclose(st[..., :3], photo / 255.0, atol=1e-6)
    np.testing.assert_array_equal(st[..., 3], g)
    with pytest.raises(ShapeError):
        stack_channels(photo, [g[:10]])
    with pytest.raises(InputError):
        stack_channels(photo, [g * 2])
    with pytest.raises(InputError):
        pair_mask(photo, photo, "depth")
    with pytest.raises(ShapeError):
        pair_mask(photo, photo[:10], "gradient")


def test_masked_compare_weights_the_changed_region(photo):
    """Weighted SSIM against scikit-image's SSIM map averaged with the same weights
    (window centres, valid region: scikit-image crops (win-1)/2 = 5 px of border)."""
    from skimage.metrics import structural_similarity

    b = photo.copy()
    b[100:150, 100:150] = 255 - b[100:150, 100:150]
    w = np.zeros(photo.shape[:2], np.float32)
    w[90:160, 90:160] = 1
    res = masked_compare(photo, b, mask=w)
    _, smap = structural_similarity(photo, b, data_range=255, channel_axis=2, gaussian_weights=True, sigma=1.5,
                                    use_sample_covariance=False, full=True)
    crop = (slice(5, -5), slice(5, -5))
    ref = float((smap[crop].mean(axis=2) * w[crop]).sum() / w[crop].sum())
    assert res["ssim_masked"] == pytest.approx(ref, abs=1e-3)
    assert res["ssim"] == pytest.approx(float(smap[crop].mean()), abs=1e-3)
    assert res["ssim_masked"] < res["ssim"]
    assert res["mask_coverage"] == pytest.approx(w.mean())
    small, small_b = photo[::2, ::2], b[::2, ::2]
    static = masked_compare(small, small, mask="motion")
    assert static["ssim_masked"] is None and static["ssim"] == pytest.approx(1.0)  # nothing moves: reported, not NaN
    grad = masked_compare(small, small_b, mask="gradient")
    assert grad["mask"] == "gradient" and -1 <= grad["ssim_masked"] <= 1


def test_float_frames_need_a_data_range(photo):
    f = photo.astype(np.float64) / 255
    with pytest.raises(DataRangeError):
        pair_mask(f, f, "gradient")
    np.testing.assert_array_equal(pair_mask(f, f, "gradient", data_range=1.0), pair_mask(photo, photo, "gradient"))
    grey = photo @ np.array([0.299, 0.587, 0.114])  # float luma in [0, 255], as `kadr compare --grey` passes it
    assert pair_mask(grey, grey, "contrast", data_range=255.0).shape == photo.shape[:2]


def test_masked_token_similarity_pools_under_the_mask():
    """A stand-in patch encoder (mean colour of each cell of a 4x4 grid, plus a CLS token):
    with the mask on one cell, the pooled embeddings are that cell's mean colours."""
    from kadr.geometry.masks import masked_token_similarity

    def tokens(images):
        out = []
        for im in images:
            s = im.shape[0] // 4
            cells = im[:4 * s, :4 * s].reshape(4, s, 4, s, 3).mean((1, 3)).reshape(16, 3)
            out.append(np.vstack([np.full((1, 3), 9.0), cells]))  # CLS first, dropped by kadr
        return out

    rng = np.random.default_rng(0)
    a = rng.integers(0, 255, (64, 96, 3), dtype=np.uint8)  # centre square: columns 16..80
    b = a.copy()
    b[:, 16:32] = 255 - b[:, 16:32]  # column 0 of the grid changes
    w = np.zeros((64, 96), np.float32)
    w[16:32, 48:64] = 1  # grid cell (1, 2): unchanged
    assert masked_token_similarity(a, b, w, tokens) == pytest.approx(1.0)
    w2 = np.zeros((64, 96), np.float32)
    w2[0:16, 16:32] = 1  # grid cell (0, 0): inverted
    ca = a[0:16, 16:32].reshape(-1, 3).mean(0)
    cb = b[0:16, 16:32].reshape(-1, 3).mean(0)
    ref = ca @ cb / np.linalg.norm(ca) / np.linalg.norm(cb)
    assert masked_token_similarity(a, b, w2, tokens) == pytest.approx(ref, abs=1e-6)
    with pytest.raises(InputError):
        masked_token_similarity(a, b, np.zeros((64, 96)), tokens)
    res = masked_compare(a, b, mask=w2, tokens=tokens)
    assert res["embedding_masked"] == pytest.approx(ref, abs=1e-6) and res["ssim_masked"] < res["ssim"]
    with pytest.raises(ShapeError):
        masked_token_similarity(a, b, w, lambda ims: [np.zeros((15, 3))] * 2)
