"""SSIM / MS-SSIM / PSNR / MSE / MAE against independent references.

References: scikit-image 0.26 ``structural_similarity`` (gaussian_weights=True, sigma=1.5,
use_sample_covariance=False = Wang et al. 2004 ``ssim_index.m``) and
``peak_signal_noise_ratio``; pytorch-msssim 1.0 ``ms_ssim``; numpy formulas written here.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from kadr.errors import DataRangeError, InputError, ShapeError
from kadr.metrics import functional as F
from kadr.metrics.functional import structural
from tests.metrics.conftest import jpeg, noisy


def sk_ssim(a, b, data_range=255, **kw):
    return structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                 data_range=data_range, channel_axis=2 if a.ndim == 3 else None, **kw)


def to_t(img: np.ndarray, dtype=torch.float32) -> torch.Tensor:
    t = torch.from_numpy(img)
    t = t[None, None] if img.ndim == 2 else t.permute(2, 0, 1)[None]
    return t.to(dtype)


@pytest.mark.parametrize("backend", ["opencv", "torch"])
def test_ssim_matches_scikit_image(distorted, backend):
    # issue 4: within 1e-6 of scikit-image on grey and colour photos with noise/blur/JPEG
    for name, a, b in (distorted if backend == "opencv" else distorted[::2]):
        ref = sk_ssim(a, b)
        got = F.ssim(a, b, backend=backend)
        assert isinstance(got, float)
        assert abs(got - ref) < 1e-6, (name, got, ref)


def test_ssim_same_padding_matches_scikit_image_full_map(photos):
    # scikit-image filters with scipy mode='reflect' (= symmetric); its full map is 'same'
    a = photos["camera"]
    b = noisy(a, 15, seed=3)
    _, smap = sk_ssim(a, b, full=True)
    got = F.ssim(a, b, padding="same", full=True)
    assert got.map.shape == smap.shape
    assert np.abs(got.map - smap).max() < 1e-9
    assert abs(got.ssim - smap.mean()) < 1e-9
    got_t = F.ssim(a, b, padding="same", backend="torch")
    assert abs(got_t - smap.mean()) < 1e-9


def test_ssim_float_input_needs_data_range(photos):
    a = photos["camera"].astype(np.float64) / 255
    b = noisy(photos["camera"], 10).astype(np.float64) / 255
    with pytest.raises(DataRangeError, match="data_range"):
        F.ssim(a, b)
    assert abs(F.ssim(a, b, data_range=1.0) - sk_ssim(a, b, data_range=1.0)) < 1e-6


def test_ssim_uint16_range_from_dtype(photos):
    a = photos["camera"].astype(np.uint16) * 257
    b = noisy(photos["camera"], 10).astype(np.uint16) * 257
    assert abs(F.ssim(a, b) - sk_ssim(a, b, data_range=65535)) < 1e-6


def test_ssim_terms_and_map(photos):
    a = photos["astronaut"]
    b = jpeg(a, 10)
    r = F.ssim(a, b, full=True, backend="torch")
    _, smap = sk_ssim(a, b, full=True)
    # scikit-image's full map is 'same'-sized; its valid part is ours
    assert r.map.shape == (a.shape[0] - 10, a.shape[1] - 10, 3)
    assert np.abs(r.map - smap[5:-5, 5:-5]).max() < 1e-9
    assert abs(r.ssim - r.map.mean()) < 1e-12
    # l·c·s = SSIM per pixel (C3 = C2/2), checked on one plane with a numpy transcription
    x = a[..., 0].astype(np.float64) / 255
    y = b[..., 0].astype(np.float64) / 255
    g = np.exp(-((np.arange(11) - 5) ** 2) / (2 * 1.5 ** 2))
    g /= g.sum()
    w2 = np.outer(g, g)

    def filt(z):
        from numpy.lib.stride_tricks import sliding_window_view

        return (sliding_window_view(z, (11, 11)) * w2).sum((-2, -1))

    mx, my = filt(x), filt(y)
    vx, vy, cxy = filt(x * x) - mx ** 2, filt(y * y) - my ** 2, filt(x * y) - mx * my
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    lum = (2 * mx * my + c1) / (mx ** 2 + my ** 2 + c1)
    sx, sy = np.sqrt(np.maximum(vx, 0)), np.sqrt(np.maximum(vy, 0))
    con = (2 * sx * sy + c2) / (vx + vy + c2)
    st = (cxy + c2 / 2) / (sx * sy + c2 / 2)
    assert np.abs(lum * con * st - r.map[..., 0]).max() < 1e-9
    full = F.ssim(torch.from_numpy(x)[None, None], torch.from_numpy(y)[None, None], data_range=1.0, full=True)
    assert float(full.luminance[0]) == pytest.approx(lum.mean(), abs=1e-9)
    # sqrt of near-zero variances amplifies rounding: 1e-7
    assert float(full.contrast[0]) == pytest.approx(con.mean(), abs=1e-7)
    assert float(full.structure[0]) == pytest.approx(st.mean(), abs=1e-7)


def test_weighted_ssim(photos):
    a = photos["coffee"]
    b = noisy(a, 20)
    h, w = a.shape[:2]
    assert abs(F.ssim(a, b, weights=np.ones((h, w))) - F.ssim(a, b)) < 1e-12
    # a 0/1 mask = mean of the scikit-image map over the window centres inside the mask
    mask = np.zeros((h, w))
    mask[40:120, 60:150] = 1
    _, smap = sk_ssim(a, b, full=True)
    ref = smap[40:120, 60:150].mean()
    for backend in ("opencv", "torch"):
        assert abs(F.ssim(a, b, weights=mask, backend=backend) - ref) < 1e-9
    # general weights: Σ w·S / Σ w over the valid region
    wt = np.random.default_rng(0).random((h, w))
    ref = (smap.mean(2) * wt)[5:-5, 5:-5].sum() / wt[5:-5, 5:-5].sum()  # channel mean is linear
    assert abs(F.ssim(a, b, weights=wt) - ref) < 1e-9
    with pytest.raises(InputError, match="zero everywhere"):
        F.ssim(a, b, weights=np.pad(np.ones((h - 10, w - 10)), 5)[:, ::-1] * 0)
    with pytest.raises(ShapeError, match="weights"):
        F.ssim(a, b, weights=np.ones((10, 10)))
    with pytest.raises(InputError, match=">= 0"):
        F.ssim(a, b, weights=-np.ones((h, w)))


def test_constant_and_tiny_images_never_nan():
    c = np.full((64, 64), 77, np.uint8)
    assert F.ssim(c, c) == 1.0
    assert F.ms_ssim(c, c) == 1.0
    z = np.zeros((64, 64, 3), np.uint8)
    assert F.ssim(z, z) == 1.0
    assert np.isinf(F.psnr(z, z))  # scikit-image also returns inf for identical images
    tiny_a = np.array([[0, 255], [255, 0]], np.uint8)
    tiny_b = tiny_a[::-1].copy()
    v = F.ssim(tiny_a, tiny_b)  # smaller than the window: computed with 'same' padding
    assert np.isfinite(v) and v < 0.5
    assert F.ssim(tiny_a, tiny_a) == pytest.approx(1.0)
    assert np.isfinite(F.ms_ssim(tiny_a, tiny_b))


def test_ssim_batch_and_chunking(photos, monkeypatch):
    imgs = [photos["astronaut"], noisy(photos["astronaut"], 30), jpeg(photos["astronaut"], 5)]
    x = torch.stack([to_t(imgs[0], torch.uint8)[0]] * 3)
    y = torch.stack([to_t(i, torch.uint8)[0] for i in imgs])
    ref = torch.tensor([sk_ssim(imgs[0], i) for i in imgs])
    for backend in ("opencv", "torch"):
        got = F.ssim(x, y, backend=backend)
        assert got.shape == (3,)
        assert torch.allclose(got.double(), ref, atol=2e-5)  # float32 maths on uint8 tensors
    monkeypatch.setattr(structural, "CHUNK_BYTES", 1)  # one item per chunk
    assert torch.allclose(F.ssim(x, y, backend="torch").double(), ref, atol=2e-5)
    assert torch.allclose(F.ms_ssim(x, y), F.ms_ssim(x, y, backend="torch"), atol=1e-5)


def test_ssim_errors(photos):
    a = photos["camera"]
    with pytest.raises(ShapeError, match="resize"):
        F.ssim(a, a[:-1])
    with pytest.raises(InputError, match="win_size"):
        F.ssim(a, a, win_size=4)
    with pytest.raises(InputError, match="padding"):
        F.ssim(a, a, padding="full")
    with pytest.raises(InputError, match="both"):
        F.ssim(a, torch.from_numpy(a))
    with pytest.raises(InputError, match="NaN"):
        F.ssim(np.full((20, 20), np.nan), np.zeros((20, 20)), data_range=1.0)


@pytest.mark.parametrize("size", [256, 400])
def test_ms_ssim_matches_pytorch_msssim(size):
    # issue 4: within 1e-4 of pytorch-msssim on 256x256 and larger
    from pytorch_msssim import ms_ssim as ref_ms_ssim
    from skimage import data

    base = data.astronaut()[:size, :size]
    others = (noisy(base, 20), jpeg(base, 10), (base * 0.7).astype(np.uint8)) if size == 256 else (jpeg(base, 10),)
    for other in others:
        x, y = to_t(base), to_t(other)
        ref = float(ref_ms_ssim(x, y, data_range=255, size_average=False)[0])
        assert abs(F.ms_ssim(x, y, data_range=255)[0].item() - ref) < 1e-4
        assert abs(F.ms_ssim(x, y, data_range=255, backend="torch")[0].item() - ref) < 1e-4
        assert abs(F.ms_ssim(base, other) - ref) < 1e-4  # numpy, float64


def test_ms_ssim_small_image_rule(photos):
    a = photos["camera"][:100, :90]  # 100x90 → 50x45 → 25x23 → 13x12 → (7x6 too small): 4 scales
    b = noisy(a, 20)
    assert F.ms_ssim_scales(100, 90) == 4
    assert F.ms_ssim_scales(161, 161) == 5 and F.ms_ssim_scales(160, 200) == 4
    assert F.ms_ssim_scales(12, 12) == 1 and F.ms_ssim_scales(5, 5) == 1
    # transcription: renormalised first 4 weights, cs at scales 1..3, ssim at scale 4
    beta = np.array(F.MS_SSIM_WEIGHTS[:4]) / sum(F.MS_SSIM_WEIGHTS[:4])
    x, y = a.astype(np.float64), b.astype(np.float64)
    factors = []
    for s in range(4):
        if s == 3:
            factors.append(sk_ssim(x, y))
        else:
            ssim_map = F.ssim(x, y, data_range=255, full=True).map
            factors.append(float(np.mean(ssim_map / _lum_map(x, y))))  # cs = SSIM / luminance

            def down(z):
                z = np.pad(z, ((0, z.shape[0] % 2), (0, z.shape[1] % 2)), mode="edge")
                return z.reshape(z.shape[0] // 2, 2, z.shape[1] // 2, 2).mean((1, 3))
            x, y = down(x), down(y)
    ref = float(np.prod(np.array(factors) ** beta))
    assert abs(F.ms_ssim(a, b) - ref) < 1e-9
    # one scale = plain SSIM
    a1, b1 = a[:20, :20], b[:20, :20]
    assert abs(F.ms_ssim(a1, b1) - max(F.ssim(a1, b1), 0)) < 1e-12


def _lum_map(x, y):
    """Luminance term of Wang et al. 2004 on the valid region, by direct 11x11 window sums."""
    from numpy.lib.stride_tricks import sliding_window_view

    g = np.exp(-((np.arange(11) - 5) ** 2) / (2 * 1.5 ** 2))
    w2 = np.outer(g, g) / g.sum() ** 2
    mx = (sliding_window_view(x / 255, (11, 11)) * w2).sum((-2, -1))
    my = (sliding_window_view(y / 255, (11, 11)) * w2).sum((-2, -1))
    c1 = 0.01 ** 2
    return (2 * mx * my + c1) / (mx ** 2 + my ** 2 + c1)


def test_psnr_mse_mae(distorted):
    for name, a, b in distorted[:6]:
        assert F.psnr(a, b) == pytest.approx(peak_signal_noise_ratio(a, b, data_range=255), abs=1e-10), name
        d = a.astype(np.float64) - b
        assert F.mse(a, b) == pytest.approx((d ** 2).mean(), rel=1e-12)
        assert F.mae(a, b) == pytest.approx(np.abs(d).mean(), rel=1e-12)
    a = distorted[0][1].astype(np.float32) / 255
    with pytest.raises(DataRangeError):
        F.psnr(a, a)
    assert F.mse(a, a) == 0.0  # mse needs no data_range


def test_gradients_flow():
    # torch.autograd.gradcheck in double precision through every differentiable image metric
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 1, 13, 13, dtype=torch.float64, generator=g, requires_grad=True)
    y = torch.rand(1, 1, 13, 13, dtype=torch.float64, generator=g)
    wt = torch.rand(13, 13, dtype=torch.float64, generator=g)
    for fn in (lambda a: F.ssim(a, y, data_range=1.0), lambda a: F.psnr(a, y, data_range=1.0),
               lambda a: F.mse(a, y), lambda a: F.mae(a, y),
               lambda a: F.ssim(a, y, data_range=1.0, weights=wt),
               lambda a: F.ssim(a, y, data_range=1.0, padding="same")):
        assert torch.autograd.gradcheck(fn, (x,), eps=1e-6, atol=1e-5, fast_mode=True)
    x2 = torch.rand(1, 1, 24, 24, dtype=torch.float64, generator=g, requires_grad=True)
    y2 = (x2.detach() + 0.1 * torch.rand(1, 1, 24, 24, dtype=torch.float64, generator=g)).clamp(0, 1)
    assert torch.autograd.gradcheck(lambda a: F.ms_ssim(a, y2, data_range=1.0), (x2,), eps=1e-6, atol=1e-5,
                                     fast_mode=True)
