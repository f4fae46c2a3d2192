"""Gaussian and pixel-based similarity of oriented boxes, their losses, and heat maps.

Boxes are ``xywhr`` tensors ``(..., 5)`` (radians; conventions in :mod:`kadr.geometry.boxes`).
Pairwise functions broadcast their two arguments; all are differentiable. A box becomes a
Gaussian ``N(mu, Σ)`` with ``Σ = R diag(f w², f h²) Rᵀ`` where ``f`` is set by ``cov``:
``"uniform"`` (``f = 1/12``, ultralytics) or ``"half_extent"`` (``f = 1/4``, mmrotate).
Each metric's default ``cov`` is the convention of its reference implementation and is
stated in its docstring; pass ``cov=`` to use the other one.

Reference values of issue 8, reproduced by ``tests/geometry/test_boxes_gaussian.py``
(ProbIoU / GWD loss / KLD loss / KFIoU with the defaults below):

=======================================  =======  =====  =====  =====
pair                                     ProbIoU  GWD    KLD    KFIoU
=======================================  =======  =====  =====  =====
identical 10x10                          0.9996   0      0      0.333
10x10 and the same shifted 4 px          0.538    0.252  0.310  0.333
20x10 and itself turned 15°              0.865    0.104  0.195  0.325
100x10 at 0° and at 90° (crossed)        0.1045   0.524  0.675  0.052
=======================================  =======  =====  =====  =====
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import torch

from kadr._compat import renamed_kwarg
from kadr.errors import InputError
from kadr.geometry.boxes import _corners, _frame_size, _gauss_abc, _pair, check_boxes

__all__ = ["probiou", "probiou_loss", "gwd", "gwd_loss", "kld", "kld_loss", "kfiou", "kfiou_loss",
           "piou", "piou_loss", "soft_box_mask", "gaussian_mask"]

_FLOOR = 1e-7  # the clamp mmrotate applies inside GWD/KLD (keeps sqrt differentiable at 0)


def _safe_sqrt(x: torch.Tensor) -> torch.Tensor:
    """sqrt with a zero (not NaN) gradient where ``x <= 0``."""
    return torch.sqrt(x.clamp_min(torch.finfo(x.dtype).tiny))


def _gauss_pair(b1: Any, b2: Any, cov: str):
    p, q = _pair(b1, b2)
    a1, bb1, c1 = _gauss_abc(p, cov)
    a2, bb2, c2 = _gauss_abc(q, cov)
    dx, dy = p[..., 0] - q[..., 0], p[..., 1] - q[..., 1]
    return p, q, (a1, bb1, c1), (a2, bb2, c2), dx, dy


def _det(s):
    a, b, c = s
    return a * b - c * c


def _postprocess(d: torch.Tensor, fun: str, tau: float) -> torch.Tensor:
    """mmrotate's mapping of a distance to a loss: ``f(d)`` then ``1 - 1/(tau + f(d))``."""
    if fun == "log1p":
        d = torch.log1p(d)
    elif fun == "sqrt":
        d = torch.sqrt(d.clamp_min(_FLOOR))
    elif fun != "none":
        raise InputError(f"fun must be 'log1p', 'sqrt' or 'none', got {fun!r}")
    if tau >= 1.0:
        return 1 - 1 / (tau + d)
    if tau != 0:
        raise InputError(f"tau must be 0 (raw distance) or >= 1, got {tau!r}")
    return d


# --------------------------------------------------------------------------- ProbIoU

def _bhattacharyya(b1: Any, b2: Any, cov: str, eps: float) -> torch.Tensor:
    _, _, s1, s2, dx, dy = _gauss_pair(b1, b2, cov)
    A, B, C = s1[0] + s2[0], s1[1] + s2[1], s1[2] + s2[2]       # Σ1 + Σ2 = 2 Σ̄
    D = A * B - C * C
    quad = 0.25 * (B * dx * dx - 2 * C * dx * dy + A * dy * dy) / (D + eps)
    logdet = 0.5 * torch.log(D / (4 * _safe_sqrt(_det(s1).clamp_min(0) * _det(s2).clamp_min(0)) + eps) + eps)
    return (quad + logdet).clamp(eps, 100.0)


def probiou(boxes1: Any, boxes2: Any, *, cov: str = "uniform", eps: float = 1e-7) -> torch.Tensor:
    """ProbIoU (Llerena et al. 2021, "Gaussian Bounding Boxes and Probabilistic IoU"):
    ``1 - H`` with the Hellinger distance ``H = sqrt(1 - exp(-B))`` and the Bhattacharyya
    distance ``B = Δμᵀ Σ̄⁻¹ Δμ / 8 + ln(|Σ̄| / sqrt(|Σ1| |Σ2|)) / 2``, ``Σ̄ = (Σ1 + Σ2)/2``.

    Range ``[0, 1)``. Default ``cov="uniform"`` (w²/12) and ``eps=1e-7`` as in ultralytics'
    ``probiou``: ``B`` is clamped to ``[eps, 100]`` and ``H = sqrt(1 - exp(-B) + eps)``, so
    identical boxes give ``1 - sqrt(2e-7) = 0.99955`` (issue value 0.9996), and pairs with
    ``B > 100`` have zero gradient (and value 0: ultralytics' ``-5e-8`` is clamped). ``eps=0`` gives the exact value 1 but an infinite
    gradient at identical boxes. A square turned about its centre keeps ProbIoU ≈ 1: its
    Gaussian is isotropic, so Gaussian metrics cannot see the angle of a square.
    """
    bd = _bhattacharyya(boxes1, boxes2, cov, eps)
    return (1 - torch.sqrt(1 - torch.exp(-bd) + eps)).clamp_min(0)


def probiou_loss(pred: Any, target: Any, *, mode: str = "l1", cov: str = "uniform", eps: float = 1e-7) -> torch.Tensor:
    """ProbIoU losses of Llerena et al.: ``"l1"`` = Hellinger distance ``1 - ProbIoU``
    (what ultralytics trains with), ``"l2"`` = Bhattacharyya distance ``B = -ln(1 - H²)``
    (clamped to ``[eps, 100]``)."""
    if mode == "l1":
        return 1 - probiou(pred, target, cov=cov, eps=eps)
    if mode == "l2":
        return _bhattacharyya(pred, target, cov, eps)
    raise InputError(f"mode must be 'l1' or 'l2', got {mode!r}")


# --------------------------------------------------------------------------- GWD

def _gwd_terms(b1: Any, b2: Any, cov: str):
    _, _, s1, s2, dx, dy = _gauss_pair(b1, b2, cov)
    xy = dx * dx + dy * dy
    tr12 = s1[0] * s2[0] + 2 * s1[2] * s2[2] + s1[1] * s2[1]     # tr(Σ1 Σ2)
    det_sqrt = _safe_sqrt(_det(s1) * _det(s2))
    whr = s1[0] + s1[1] + s2[0] + s2[1] - 2 * _safe_sqrt(tr12 + 2 * det_sqrt)
    return xy, whr, det_sqrt


def gwd(boxes1: Any, boxes2: Any, *, cov: str = "half_extent", squared: bool = False) -> torch.Tensor:
    """2-Wasserstein distance between the boxes' Gaussians (Yang et al. 2021, "Rethinking
    rotated object detection with Gaussian Wasserstein distance loss"):
    ``W² = |μ1 - μ2|² + tr(Σ1 + Σ2 - 2 (Σ1^½ Σ2 Σ1^½)^½)``; in 2-D the last trace is
    ``sqrt(tr(Σ1Σ2) + 2 sqrt(|Σ1||Σ2|))``. Pixels (``W²`` in pixels² with ``squared``).
    Default ``cov="half_extent"`` as in mmrotate."""
    xy, whr, _ = _gwd_terms(boxes1, boxes2, cov)
    w2 = (xy + whr).clamp_min(0)
    return w2 if squared else _safe_sqrt(w2)


@renamed_kwarg(normalize="normalise")
def gwd_loss(pred: Any, target: Any, *, cov: str = "half_extent", fun: str = "log1p", tau: float = 1.0,
             alpha: float = 1.0, normalise: bool = True) -> torch.Tensor:
    """GWD loss in mmrotate's form (its ``gwd_loss`` defaults), which produced the issue's
    reference values (0 / 0.252 / 0.104 / 0.524):

    ``d = sqrt(max(|Δμ|² + alpha² · trace term, 1e-7))``; with ``normalise`` ``d`` is divided
    by ``2 (|Σ1||Σ2|)^(1/8)`` (for two boxes of equal size under ``half_extent`` that is
    ``sqrt(w h)``, which makes the loss scale invariant); then ``f = log1p`` (or ``sqrt``,
    ``none``) and ``loss = 1 - 1/(tau + f(d))`` (``tau = 0`` returns ``f(d)``). Range
    ``[0, 1)`` for ``tau = 1``. The paper's own form ``1 - 1/(tau + f(W²))`` is
    ``1 - 1 / (tau + torch.log1p(gwd(pred, target, squared=True)))``; ``normalise=False,
    fun="none", tau=0`` returns the plain distance ``W``.
    """
    xy, whr, det_sqrt = _gwd_terms(pred, target, cov)
    d = torch.sqrt((xy + alpha * alpha * whr).clamp_min(_FLOOR))
    if normalise:
        d = d / (2 * det_sqrt.clamp_min(_FLOOR).sqrt().sqrt())
    return _postprocess(d, fun, tau)


# --------------------------------------------------------------------------- KLD

def _kl(p: Any, q: Any, cov: str, alpha: float = 1.0) -> torch.Tensor:
    """KL(N_p ‖ N_q), centre term divided by alpha²."""
    _, _, sp, sq, dx, dy = _gauss_pair(p, q, cov)
    dq = _det(sq)
    # Σq⁻¹ = [[bq, -cq], [-cq, aq]] / |Σq|
    quad = (sq[1] * dx * dx - 2 * sq[2] * dx * dy + sq[0] * dy * dy) / dq
    tr = (sq[1] * sp[0] - 2 * sq[2] * sp[2] + sq[0] * sp[1]) / dq
    return 0.5 * (quad / (alpha * alpha) + tr - 2 + torch.log(dq / _det(sp)))


def kld(boxes1: Any, boxes2: Any, *, cov: str = "half_extent") -> torch.Tensor:
    """Kullback–Leibler divergence ``KL(N1 ‖ N2)`` of the boxes' Gaussians (Yang et al.
    2021, "Learning high-precision bounding box for rotated object detection via
    Kullback-Leibler divergence"): ``½ [tr(Σ2⁻¹Σ1) + Δμᵀ Σ2⁻¹ Δμ - 2 + ln(|Σ2|/|Σ1|)]``.
    Not symmetric; ``>= 0``; nats. Default ``cov="half_extent"`` as in mmrotate."""
    return _kl(boxes1, boxes2, cov).clamp_min(0)


def kld_loss(pred: Any, target: Any, *, cov: str = "half_extent", fun: str = "log1p", tau: float = 1.0,
             alpha: float = 1.0, sqrt: bool = True) -> torch.Tensor:
    """KLD loss in mmrotate's form (its ``kld_loss`` defaults), which produced the issue's
    reference values (0 / 0.310 / 0.195 / 0.675): ``D = KL(N_target ‖ N_pred)`` (centre
    term divided by ``alpha²``), ``d = sqrt(max(D, 1e-7))`` (with ``sqrt``), then
    ``loss = 1 - 1/(tau + log1p(d))`` (``fun``/``tau`` as in :func:`gwd_loss`)."""
    d = _kl(target, pred, cov, alpha)
    d = torch.sqrt(d.clamp_min(_FLOOR)) if sqrt else d.clamp_min(0)
    return _postprocess(d, fun, tau)


# --------------------------------------------------------------------------- KFIoU

def kfiou(boxes1: Any, boxes2: Any, *, eps: float = 1e-6) -> torch.Tensor:
    """KFIoU (Yang et al. 2022, "The KFIoU loss for rotated object detection"), as in
    mmrotate: the Kalman-filter product of the two Gaussians ``Σ = Σ1 - K Σ1``,
    ``K = Σ1 (Σ1 + Σ2)⁻¹`` (so ``|Σ| = |Σ1||Σ2| / |Σ1 + Σ2|``), volumes ``V = 4 sqrt|Σ|``
    and ``KFIoU = V / (V1 + V2 - V + eps)``.

    Ignores the centres (the loss adds a centre term). Its maximum is 1/3 (identical
    boxes: ``|Σ| = |Σ1|/4``). Invariant to the covariance convention up to ``eps`` (the
    ``half_extent`` one is used, as in mmrotate).
    """
    _, _, s1, s2, _, _ = _gauss_pair(boxes1, boxes2, "half_extent")
    d1, d2 = _det(s1), _det(s2)
    ds = (s1[0] + s2[0]) * (s1[1] + s2[1]) - (s1[2] + s2[2]) ** 2
    v1, v2 = 4 * _safe_sqrt(d1), 4 * _safe_sqrt(d2)
    v = 4 * _safe_sqrt(d1 * d2 / ds)
    return v / (v1 + v2 - v + eps)


def _smooth_l1(x: torch.Tensor, beta: float) -> torch.Tensor:
    x = x.abs()
    return torch.where(x < beta, 0.5 * x * x / beta, x - 0.5 * beta)


def kfiou_loss(pred: Any, target: Any, *, fun: str = "none", beta: float = 1.0 / 9.0,
               center_weight: float = 1.0, eps: float = 1e-6) -> torch.Tensor:
    """KFIoU loss: centre term + ``1 - KFIoU`` (``fun="none"``), ``-ln(KFIoU + eps)``
    (``"ln"``) or ``exp(1 - KFIoU) - 1`` (``"exp"``), clamped at 0 (mmrotate's choices).

    The centre term is smooth-L1 (``beta``, default 1/9 as mmrotate) of
    ``(Δx / w_target, Δy / h_target)`` summed over x and y, times ``center_weight``.
    mmrotate applies it to anchor-relative box deltas; dividing by the target's size is the
    anchor-free equivalent (scale invariant, 0 for coincident centres).
    """
    p, t = _pair(pred, target)
    k = kfiou(p, t, eps=eps)
    if fun == "none":
        kf = 1 - k
    elif fun == "ln":
        kf = -torch.log(k + eps)
    elif fun == "exp":
        kf = torch.exp(1 - k) - 1
    else:
        raise InputError(f"fun must be 'none', 'ln' or 'exp', got {fun!r}")
    dx = (p[..., 0] - t[..., 0]) / t[..., 2]
    dy = (p[..., 1] - t[..., 1]) / t[..., 3]
    center = _smooth_l1(dx, beta) + _smooth_l1(dy, beta)
    return (center_weight * center + kf).clamp_min(0)


# --------------------------------------------------------------------------- pixel IoU

def _soft_box(b: torch.Tensor, X: torch.Tensor, Y: torch.Tensor, k: float) -> torch.Tensor:
    """PIoU's pixel weight: ``σ(k (w/2 - |u|)) σ(k (h/2 - |v|))`` with ``(u, v)`` the point
    in the box's own axes. ``b (..., 5)`` broadcasts against ``X, Y``."""
    cx, cy, w, h, t = (v[..., None, None] for v in b.unbind(-1))
    dx, dy = X - cx, Y - cy
    c, s = torch.cos(t), torch.sin(t)
    u = dx * c + dy * s
    v = -dx * s + dy * c
    return torch.sigmoid(k * (w / 2 - u.abs())) * torch.sigmoid(k * (h / 2 - v.abs()))


def _check_k(k: float, samples: int) -> None:
    if not (isinstance(k, (int, float)) and math.isfinite(k) and k > 0):
        raise InputError(f"k must be a finite number > 0 (sharpness of the pixel kernel; 10 in the paper), got {k!r}")
    if not (isinstance(samples, int) and samples >= 1):
        raise InputError(f"samples must be an integer >= 1 (sub-samples per pixel side), got {samples!r}")


def piou(boxes1: Any, boxes2: Any, *, k: float = 10.0, samples: int = 1, budget: int = 1 << 22) -> torch.Tensor:
    """Pixel IoU (Chen et al. 2020, "PIoU Loss: Towards accurate oriented object detection
    in complex environments"): each pixel centre ``p`` gets a soft membership
    ``F(p|b) = K(d_w, w) K(d_h, h)``, ``K(d, s) = 1 - 1/(1 + exp(-k (d - s/2)))`` where
    ``d_w, d_h`` are the distances of ``p`` from the box centre along the box's axes, and
    ``PIoU = Σ F1 F2 / Σ (F1 + F2 - F1 F2)``.

    Pixel centres are at ``(j + 0.5, i + 0.5)`` of the image's pixel lattice, as in the
    authors' code (``grid = arange + 0.5``), so the value depends on where the boxes sit
    on that lattice (that is the point of a pixel IoU). ``samples = s`` sums over an
    ``s x s`` sub-pixel grid instead (``s → ∞``: the continuous integral). Only the
    pixels within the boxes' joint bounding rectangle plus a margin of ``ceil(16/k) + 1``
    pixels are visited (weights beyond it are below ``e⁻¹⁶``); ``budget`` bounds the
    number of pixel evaluations held in memory at once.

    Issue 8 lists 0.971 / 0.427 / 0.761 / 0.053 for k = 10; the authors' lattice
    reproduces 0.427 (shift) and 0.053 (crossed) but gives 0.989 for identical 10x10
    boxes with integer centres and 0.764 for the 15° pair: no lattice offset or sampling
    density reproduces all four values together (see the tests).
    """
    _check_k(k, samples)
    p, q = _pair(boxes1, boxes2)
    shape = p.shape[:-1]
    p, q = p.reshape(-1, 5), q.reshape(-1, 5)
    n = p.shape[0]
    if n == 0:
        return p.new_zeros(shape)
    margin = math.ceil(16.0 / k) + 1
    with torch.no_grad():
        pts = torch.cat([_corners(p), _corners(q)], 1)
        lo = torch.floor(pts.amin(1)) - margin            # (n, 2) integer pixel origin
        hi = torch.ceil(pts.amax(1)) + margin
        ext = (hi - lo).to(torch.int64)                   # window size in pixels (x, y)
        order = torch.argsort(ext[:, 0] * ext[:, 1])
        ext_sorted = ext[order]
    offs = (torch.arange(samples, dtype=p.dtype, device=p.device) + 0.5) / samples
    out = p.new_zeros(n)
    start = 0
    while start < n:
        # grow the chunk while the padded window of its largest member fits the budget
        gx, gy = int(ext_sorted[start, 0]), int(ext_sorted[start, 1])
        end = start + 1
        step = 1
        while end < n:
            nxt = min(n, end + step)
            mx, my = (int(v) for v in ext_sorted[start:nxt].amax(0))
            if (nxt - start) * mx * my * samples * samples > budget:
                break
            gx, gy, end, step = mx, my, nxt, step * 2
        idx = order[start:end]
        xs = (torch.arange(gx, dtype=p.dtype, device=p.device)[:, None] + offs).reshape(-1)
        ys = (torch.arange(gy, dtype=p.dtype, device=p.device)[:, None] + offs).reshape(-1)
        X = lo[idx, 0, None, None] + xs[None, None, :]
        Y = lo[idx, 1, None, None] + ys[None, :, None]
        f1, f2 = _soft_box(p[idx], X, Y, k), _soft_box(q[idx], X, Y, k)
        inter = (f1 * f2).sum((-1, -2))
        union = (f1 + f2).sum((-1, -2)) - inter
        out = out.index_put((idx,), inter / union)
        start = end
    return out.reshape(shape)


def piou_loss(pred: Any, target: Any, *, k: float = 10.0, samples: int = 1, eps: float = 1e-9) -> torch.Tensor:
    """PIoU loss of Chen et al. 2020: ``-ln(PIoU + eps)`` per pair (average it over the
    positive pairs for the paper's ``L_piou``)."""
    return -torch.log(piou(pred, target, k=k, samples=samples) + eps)


# --------------------------------------------------------------------------- heat maps

def _pixel_grid(size: Sequence[int], like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    h, w = _frame_size(size)
    ys = torch.arange(h, dtype=like.dtype, device=like.device)[:, None] + 0.5
    xs = torch.arange(w, dtype=like.dtype, device=like.device)[None, :] + 0.5
    return xs, ys


def _reduce(maps: torch.Tensor, reduce: str | None, nbatch: int) -> torch.Tensor:
    if reduce is None:
        return maps
    dims = tuple(range(nbatch))
    if reduce == "max":
        return maps.amax(dim=dims) if dims else maps
    if reduce == "sum":
        return maps.sum(dim=dims) if dims else maps
    raise InputError(f"reduce must be None, 'max' or 'sum', got {reduce!r}")


def soft_box_mask(boxes: Any, size: Sequence[int], *, k: float = 10.0, reduce: str | None = None) -> torch.Tensor:
    """PIoU's soft membership ``F(p|b)`` of every pixel of an ``H x W`` frame: ``(..., H, W)``
    in ``[0, 1]`` (``reduce="max"``/``"sum"`` merges the boxes into one ``(H, W)`` map)."""
    _check_k(k, 1)
    b = check_boxes(boxes)
    xs, ys = _pixel_grid(size, b)
    return _reduce(_soft_box(b, xs, ys, k), reduce, b.ndim - 1)


@renamed_kwarg(normalize="normalise")
def gaussian_mask(boxes: Any, size: Sequence[int], *, cov: str, normalise: str = "peak",
                  reduce: str | None = None) -> torch.Tensor:
    """Gaussian heat map of each box on an ``H x W`` frame: ``(..., H, W)``.

    Value at pixel centre ``p = (j + 0.5, i + 0.5)``: ``exp(-½ (p - μ)ᵀ Σ⁻¹ (p - μ))``
    (``normalise="peak"``: 1 at the box centre) or that divided by ``2π sqrt|Σ|``
    (``"density"``: integrates to 1 over the plane, so the frame's sum is the visible
    probability mass). ``cov`` is required: ``"uniform"`` (w²/12) or ``"half_extent"``
    ((w/2)², whose 1-sigma ellipse is the box's inscribed ellipse). ``reduce="max"`` or
    ``"sum"`` merges all boxes into one ``(H, W)`` map. Differentiable.
    """
    b = check_boxes(boxes)
    a, bb, c = _gauss_abc(b, cov)
    det = a * bb - c * c
    xs, ys = _pixel_grid(size, b)
    dx = xs - b[..., 0, None, None]
    dy = ys - b[..., 1, None, None]
    a, bb, c, det = (v[..., None, None] for v in (a, bb, c, det))
    q = (bb * dx * dx - 2 * c * dx * dy + a * dy * dy) / det
    g = torch.exp(-0.5 * q)
    if normalise == "density":
        g = g / (2 * math.pi * torch.sqrt(det))
    elif normalise != "peak":
        raise InputError(f"normalise must be 'peak' or 'density', got {normalise!r}")
    return _reduce(g, reduce, b.ndim - 1)
