"""Oriented boxes: conversions, exact polygon IoU, frame helpers, bad input.

Independent references: OpenCV's ``rotatedRectangleIntersection`` + ``contourArea`` and
``boxPoints`` (degrees, same rotation sense), and areas worked out by hand (noted inline).
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch

from kadr.errors import InputError, KadrError, ShapeError
from kadr.geometry import boxes as B


def _random_pairs(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)

    def one():
        xy = torch.rand(n, 2, generator=g, dtype=torch.float64) * 40 + 30
        wh = torch.rand(n, 2, generator=g, dtype=torch.float64) * 40 + 2
        t = (torch.rand(n, 1, generator=g, dtype=torch.float64) - 0.5) * 2 * math.pi
        return torch.cat([xy, wh, t], 1)

    return one(), one()


def _cv2_iou(a, b) -> float:
    ra = ((a[0], a[1]), (a[2], a[3]), math.degrees(a[4]))
    rb = ((b[0], b[1]), (b[2], b[3]), math.degrees(b[4]))
    kind, pts = cv2.rotatedRectangleIntersection(ra, rb)
    inter = 0.0 if pts is None or kind == cv2.INTERSECT_NONE else float(cv2.contourArea(pts.reshape(-1, 2)))
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


# ------------------------------------------------------------------ conversions

def test_corners_match_opencv_boxpoints_and_round_trip():
    b = torch.tensor([[30.0, 40.0, 20.0, 10.0, math.radians(30)], [5.0, -3.0, 4.0, 9.0, -1.2]], dtype=torch.float64)
    c = B.xywhr_to_corners(b)
    for box, corners in zip(b.tolist(), c.numpy()):
        ref = cv2.boxPoints(((box[0], box[1]), (box[2], box[3]), math.degrees(box[4])))
        # same set of 4 points (OpenCV starts elsewhere in the cycle)
        dist = np.linalg.norm(corners[:, None, :] - ref[None, :, :], axis=-1)
        assert dist.min(1).max() < 1e-4
    assert (B.polygon_area(c) > 0).all()
    torch.testing.assert_close(B.polygon_area(c), b[:, 2] * b[:, 3])
    torch.testing.assert_close(B.corners_to_xywhr(c), b)


def test_degrees_helpers_and_xyxy():
    b = torch.tensor([[1.0, 2.0, 3.0, 4.0, 90.0]])
    r = B.xywhd_to_xywhr(b)
    assert r[0, 4].item() == pytest.approx(math.pi / 2)
    torch.testing.assert_close(B.xywhr_to_xywhd(r), b)
    torch.testing.assert_close(B.xyxy_to_xywhr([[0.0, 0.0, 4.0, 2.0]]), torch.tensor([[2.0, 1.0, 4.0, 2.0, 0.0]]))
    with pytest.raises(InputError, match="w <= 0"):
        B.xyxy_to_xywhr([[4.0, 0.0, 0.0, 2.0]])


@pytest.mark.parametrize("cov,f", [("uniform", 1 / 12), ("half_extent", 1 / 4), ("ultralytics", 1 / 12), ("mmrotate", 1 / 4)])
def test_gaussian_conventions_and_round_trip(cov, f):
    b = torch.tensor([[10.0, 20.0, 30.0, 6.0, 0.4], [0.0, 0.0, 5.0, 9.0, -0.3]], dtype=torch.float64)
    mu, sigma = B.xywhr_to_gaussian(b, cov=cov)
    for box, s in zip(b.tolist(), sigma.numpy()):
        r = np.array([[math.cos(box[4]), -math.sin(box[4])], [math.sin(box[4]), math.cos(box[4])]])
        ref = r @ np.diag([f * box[2] ** 2, f * box[3] ** 2]) @ r.T     # Σ = R diag(f w², f h²) Rᵀ
        np.testing.assert_allclose(s, ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(mu, b[:, :2])
    back = B.gaussian_to_xywhr(mu, sigma, cov=cov)
    # same rectangle (the inverse returns w >= h, angle in (-pi/2, pi/2])
    torch.testing.assert_close(B.polygon_iou(back, b), torch.ones(2, dtype=torch.float64))
    assert (back[:, 2] >= back[:, 3]).all()


def test_covariance_convention_is_never_silent():
    with pytest.raises(TypeError):
        B.xywhr_to_gaussian([[0.0, 0.0, 1.0, 1.0, 0.0]])           # cov is required
    with pytest.raises(InputError, match="uniform"):
        B.xywhr_to_gaussian([[0.0, 0.0, 1.0, 1.0, 0.0]], cov="w/2")
    with pytest.raises(InputError, match="positive definite"):
        B.gaussian_to_xywhr(torch.zeros(2), torch.zeros(2, 2), cov="uniform")


@pytest.mark.parametrize("mode", ["le90", "le135", "oc"])
def test_normalize_angle_keeps_the_rectangle(mode):
    a, _ = _random_pairs(64, seed=3)
    a[:, 4] *= 3                                                        # angles well outside any range
    n = B.normalise_angle(a, mode)
    torch.testing.assert_close(B.polygon_iou(n, a), torch.ones(64, dtype=torch.float64), atol=1e-9, rtol=0)
    t = n[:, 4]
    if mode == "le90":
        assert ((t >= -math.pi / 2) & (t < math.pi / 2)).all() and (n[:, 2] >= n[:, 3]).all()
    elif mode == "le135":
        assert ((t >= -math.pi / 4) & (t < 3 * math.pi / 4)).all() and (n[:, 2] >= n[:, 3]).all()
    else:
        assert ((t > 0) & (t <= math.pi / 2 + 1e-12)).all()


# ------------------------------------------------------------------ polygon IoU

def test_reference_values_of_the_issue():
    # issue 8: identical 10x10 → 1; shifted 4 px → 60/140 = 0.429; 20x10 vs itself at 15° →
    # 0.762 (OpenCV gives 172.981/227.019 = 0.76197); crossed 100x10 → 100/1900 = 0.053
    a = torch.tensor([[50, 50, 10, 10, 0], [50, 50, 10, 10, 0], [50, 50, 20, 10, 0], [50, 50, 100, 10, 0]], dtype=torch.float64)
    b = torch.tensor([[50, 50, 10, 10, 0], [54, 50, 10, 10, 0], [50, 50, 20, 10, math.radians(15)],
                      [50, 50, 100, 10, math.pi / 2]], dtype=torch.float64)
    iou = B.polygon_iou(a, b)
    for got, ref in zip(iou.tolist(), [1.0, 0.429, 0.762, 0.053]):
        assert round(got, 3) == ref
    assert iou[0].item() == pytest.approx(1.0, abs=1e-12)
    assert iou[1].item() == pytest.approx(60 / 140, abs=1e-12)
    assert iou[3].item() == pytest.approx(100 / 1900, abs=1e-12)
    assert iou[2].item() == pytest.approx(_cv2_iou(a[2].tolist(), b[2].tolist()), abs=1e-5)


def test_polygon_iou_matches_opencv_on_random_pairs():
    a, b = _random_pairs(400, seed=1)
    got = B.polygon_iou(a, b).numpy()
    ref = np.array([_cv2_iou(x, y) for x, y in zip(a.tolist(), b.tolist())])
    assert (ref > 0).sum() > 100                                       # enough overlapping pairs
    np.testing.assert_allclose(got, ref, atol=2e-5)                    # OpenCV works in float32
    got32 = B.polygon_iou(a.float(), b.float()).double().numpy()
    np.testing.assert_allclose(got32, ref, atol=1e-4)


def test_degenerate_configurations():
    sq = [0.0, 0.0, 10.0, 10.0, 0.0]
    cases = {
        "identical": ([sq], [sq], 1.0),
        "identical turned 90°": ([sq], [[0, 0, 10, 10, math.pi / 2]], 1.0),
        "identical turned 180° (rectangle)": ([[0, 0, 20, 4, 0.3]], [[0, 0, 20, 4, 0.3 + math.pi]], 1.0),
        "nested": ([sq], [[1, 2, 4, 2, 0.7]], 8 / 100),                 # area ratio
        "touching edge": ([sq], [[10, 0, 10, 10, 0]], 0.0),
        "touching corner": ([sq], [[10, 10, 10, 10, 0]], 0.0),
        "corner touching edge": ([sq], [[5 + 5 * math.sqrt(2), 0, 10, 10, math.pi / 4]], 0.0),
        "disjoint": ([sq], [[100, 0, 10, 10, 0.2]], 0.0),
        "shared edge, half overlap": ([sq], [[0, 5, 10, 20, 0]], 100 / 200),
        # square and the same square at 45°: a regular octagon of area 2(√2-1)·s²
        "octagon": ([sq], [[0, 0, 10, 10, math.pi / 4]], (2 * (math.sqrt(2) - 1)) / (2 - 2 * (math.sqrt(2) - 1))),
        "cross": ([[0, 0, 30, 2, 0]], [[0, 0, 30, 2, math.pi / 2]], 4 / 116),
        "tiny in huge": ([[0, 0, 1e4, 1e4, 0.1]], [[3, 4, 1e-2, 2e-2, 1.0]], 2e-4 / 1e8),
    }
    for name, (a, b, ref) in cases.items():
        for dtype, tol in [(torch.float64, 1e-9), (torch.float32, 2e-6)]:
            got = B.polygon_iou(torch.tensor(a, dtype=dtype), torch.tensor(b, dtype=dtype)).item()
            assert got == pytest.approx(ref, rel=1e-4, abs=tol), (name, dtype, got, ref)
            assert 0.0 <= got <= 1.0


def test_broadcasting_and_batch_shapes():
    a, b = _random_pairs(6, seed=2)
    m = B.polygon_iou(a[:, None], b[None])
    assert m.shape == (6, 6)
    for i in range(6):
        for j in range(6):
            assert m[i, j].item() == pytest.approx(B.polygon_iou(a[i], b[j]).item(), abs=1e-12)
    assert B.polygon_iou(torch.zeros(0, 5), torch.zeros(0, 5)).shape == (0,)
    assert B.polygon_iou(a.reshape(2, 3, 5), b.reshape(2, 3, 5)).shape == (2, 3)
    with pytest.raises(ShapeError, match="broadcast"):
        B.polygon_iou(a, b[:4])


def test_polygon_iou_gradcheck_and_loss():
    a = torch.tensor([[30.0, 40.0, 20.0, 12.0, 0.3], [10.0, 10.0, 8.0, 8.0, 0.0]], dtype=torch.float64, requires_grad=True)
    b = torch.tensor([[33.0, 41.5, 18.0, 9.0, -0.4], [13.0, 12.0, 7.0, 5.0, 0.6]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(B.polygon_iou, (a, b))
    loss = B.polygon_iou_loss(a, b, mode="log").sum()
    loss.backward()
    assert torch.isfinite(a.grad).all() and a.grad.abs().sum() > 0
    with pytest.raises(InputError, match="mode"):
        B.polygon_iou_loss(a, b, mode="square")


def test_clip_polygon_general_convex():
    tri = torch.tensor([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]])           # area 8
    sq = torch.tensor([[1.0, 1.0], [3.0, 1.0], [3.0, 3.0], [1.0, 3.0]])
    # inside the triangle (x + y <= 4) part of the square [1,3]²: 4 - 0.5·2·2 = 2
    out = B.clip_polygon(tri, sq)
    assert out.shape == (7, 2)
    assert B.polygon_area(out).item() == pytest.approx(2.0)
    assert B.polygon_area(B.clip_polygon(tri, sq + 10)).item() == 0.0          # apart
    with pytest.raises(ShapeError, match="N >= 3"):
        B.clip_polygon(tri[:2], sq)
    with pytest.raises(InputError, match="NaN"):
        B.clip_polygon(tri, sq * float("nan"))


# ------------------------------------------------------------------ frame helpers

def test_clip_to_frame_rules():
    size = (60, 100)                                                   # H, W
    boxes = torch.tensor([
        [50.0, 30.0, 20.0, 10.0, 0.0],       # fully inside
        [95.0, 30.0, 20.0, 10.0, 0.0],       # right part outside: x in [85, 105] → [85, 100]
        [-50.0, -50.0, 10.0, 10.0, 0.3],     # fully outside
        [100.0, 30.0, 20.0, 20.0, math.pi / 4],  # rotated, half outside
        [105.0, 30.0, 10.0, 10.0, 0.0],      # touches the border only
    ])
    clipped, vis = B.clip_to_frame(boxes, size)
    torch.testing.assert_close(clipped[0], boxes[0])
    assert vis[0].item() == pytest.approx(1.0)
    torch.testing.assert_close(clipped[1], torch.tensor([92.5, 30.0, 15.0, 10.0, 0.0]))
    assert vis[1].item() == pytest.approx(0.75)
    torch.testing.assert_close(clipped[2], boxes[2])                   # unchanged, visible 0
    assert vis[2].item() == 0.0 and vis[4].item() == 0.0
    assert vis[3].item() == pytest.approx(0.5, abs=1e-6)
    # the clipped box has the same angle and contains the visible part: its polygon IoU with
    # the frame-clipped part equals visible area / clipped area
    assert clipped[3, 4].item() == pytest.approx(math.pi / 4)
    frame = torch.tensor([50.0, 30.0, 100.0, 60.0, 0.0])
    inter = B.intersection_area(clipped[3], frame).item()
    assert inter == pytest.approx(0.5 * 400, rel=1e-5)
    assert torch.isfinite(clipped).all()


def test_inside_modes():
    size = (60, 100)
    boxes = torch.tensor([[50.0, 30, 20, 10, 0.5], [95, 30, 20, 10, 0], [-50, -50, 10, 10, 0], [105, 30, 10, 10, 0]])
    assert B.inside(boxes, size, mode="all").tolist() == [True, False, False, False]
    assert B.inside(boxes, size, mode="centre").tolist() == [True, True, False, False]
    assert B.inside(boxes, size, mode="any").tolist() == [True, True, False, False]
    with pytest.raises(InputError, match="mode"):
        B.inside(boxes, size, mode="some")
    with pytest.raises(InputError, match="size"):
        B.inside(boxes, (0, 10))
    with pytest.raises(InputError, match="size"):
        B.clip_to_frame(boxes, (10.5, 10))


# ------------------------------------------------------------------ bad input

@pytest.mark.parametrize("bad,match", [
    ([[0.0, 0.0, 0.0, 5.0, 0.0]], "w <= 0"),
    ([[0.0, 0.0, 5.0, 0.0, 0.0]], "w <= 0"),
    ([[0.0, 0.0, -5.0, 2.0, 0.0]], "w <= 0"),
    ([[0.0, float("nan"), 5.0, 2.0, 0.0]], "NaN"),
    ([[0.0, 0.0, 5.0, 2.0, float("inf")]], "NaN"),
])
def test_bad_boxes_raise_clear_errors(bad, match):
    good = [[0.0, 0.0, 4.0, 4.0, 0.0]]
    for fn in (B.polygon_iou, B.probiou, B.gwd_loss, B.kld_loss, B.kfiou, B.piou):
        with pytest.raises(InputError, match=match):
            fn(good, bad)
    for fn in (B.xywhr_to_corners, B.box_area):
        with pytest.raises(KadrError, match=match):
            fn(bad)
    with pytest.raises(InputError, match="index"):
        B.check_boxes(torch.tensor([[1.0, 1, 1, 1, 0], [1.0, 1, 0, 1, 0]]))


def test_bad_shapes_and_types():
    with pytest.raises(ShapeError, match=r"\(\.\.\., 5\)"):
        B.polygon_iou(torch.zeros(3, 4), torch.zeros(3, 4))
    with pytest.raises(ShapeError):
        B.corners_to_xywhr(torch.zeros(3, 2))
    with pytest.raises(InputError):
        B.check_boxes("not boxes")
    # integers are accepted (as float32)
    assert B.box_area([[0, 0, 3, 4, 0]]).dtype == torch.float32


def test_two_clipping_algorithms_agree_on_adversarial_pairs():
    # polygon_iou (Green's theorem over Cyrus–Beck-clipped edges) against the area of the
    # Sutherland–Hodgman polygon of clip_polygon, on pairs built to hit the special cases:
    # shared edges, coincident corners, the same rectangle written 4 ways, tiny turns, far
    # from the origin.
    g = torch.Generator().manual_seed(7)
    a, _ = _random_pairs(200, seed=11)
    a[:, :2] += 1e4
    k = torch.randint(0, 4, (200,), generator=g).double()
    same = a.clone()
    same[:, 4] += k * math.pi / 2
    odd = k % 2 == 1
    same[odd, 2], same[odd, 3] = a[odd, 3], a[odd, 2]
    slide = a.clone()                                   # slid along its own w axis: shared edge lines
    d = torch.rand(200, generator=g, dtype=torch.float64) * a[:, 2] * 1.5
    slide[:, 0] += d * torch.cos(a[:, 4])
    slide[:, 1] += d * torch.sin(a[:, 4])
    tiny = a.clone()
    tiny[:, 4] += torch.randn(200, generator=g, dtype=torch.float64) * 1e-7
    for b in (same, slide, tiny):
        got = B.polygon_iou(a, b)
        off = torch.cat([a[:, :2], torch.zeros(200, 3, dtype=torch.float64)], 1)
        inter = B.polygon_area(B.clip_polygon(B.xywhr_to_corners(a - off), B.xywhr_to_corners(b - off))).clamp_min(0)
        ref = inter / (a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - inter)
        torch.testing.assert_close(got, ref, atol=1e-9, rtol=0)
        torch.testing.assert_close(B.polygon_iou(a.float(), b.float()).double(), got, atol=2e-4, rtol=0)
    torch.testing.assert_close(B.polygon_iou(a, same), torch.ones(200, dtype=torch.float64), atol=1e-9, rtol=0)
    ref_slide = ((a[:, 2] - d).clamp_min(0) / (a[:, 2] + d).clamp_min(1e-300))
    torch.testing.assert_close(B.polygon_iou(a, slide), ref_slide, atol=1e-9, rtol=0)
