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

from typing import Any

import torch

from kadr._compat import renamed_kwarg
from kadr.errors import InputError, ShapeError
from kadr.geometry.boxes.core import _pair, as_boxes, check_boxes

__all__ = ["xywhr_to_gaussian", "gaussian_to_xywhr", "COVARIANCE_CONVENTIONS",
           "probiou", "probiou_loss", "gwd", "gwd_loss", "kld", "kld_loss", "kfiou", "kfiou_loss"]

# --------------------------------------------------------------------------- Gaussians

#: Variance of the Gaussian along a box side of length ``s``, per convention.
COVARIANCE_CONVENTIONS = {
    # variance of the uniform distribution over the box: ultralytics (ProbIoU, Llerena et al. 2021)
    "uniform": 1.0 / 12.0,
    # the inscribed ellipse is the 1-sigma contour: mmrotate (GWD, KLD, KFIoU; Yang et al.)
    "half_extent": 1.0 / 4.0,
}
_COV_ALIASES = {"ultralytics": "uniform", "mmrotate": "half_extent"}


def _cov_factor(cov: str) -> float:
    key = _COV_ALIASES.get(cov, cov)
    if key not in COVARIANCE_CONVENTIONS:
        raise InputError(f"cov must be 'uniform' (w^2/12, alias 'ultralytics') or 'half_extent' ((w/2)^2, "
                         f"alias 'mmrotate'); got {cov!r}")
    return COVARIANCE_CONVENTIONS[key]


def _gauss_abc(b: torch.Tensor, cov: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Entries ``(a, b, c)`` of Σ = [[a, c], [c, b]] of validated boxes."""
    f = _cov_factor(cov)
    w2, h2 = b[..., 2] * b[..., 2], b[..., 3] * b[..., 3]
    mean, half = (w2 + h2) * (f / 2), (w2 - h2) * (f / 2)
    t2 = 2 * b[..., 4]
    dc = half * torch.cos(t2)          # a = f(w² cos² + h² sin²) = mean + half cos 2t, ...
    return mean + dc, mean - dc, half * torch.sin(t2)


def xywhr_to_gaussian(boxes: Any, *, cov: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Gaussian ``(mu (..., 2), sigma (..., 2, 2))`` of ``xywhr`` boxes.

    ``Σ = R diag(f w², f h²) Rᵀ`` with ``R`` the rotation by ``angle`` and ``f`` chosen by
    ``cov`` (no default on purpose — the two conventions in use differ by a factor 3):

    - ``"uniform"``: ``f = 1/12``, the covariance of the uniform distribution over the box
      (ultralytics, ProbIoU of Llerena et al. 2021);
    - ``"half_extent"``: ``f = 1/4``, i.e. standard deviations ``w/2``, ``h/2`` (mmrotate's
      ``xy_wh_r_2_xy_sigma``; GWD, KLD, KFIoU of Yang et al.).
    """
    b = check_boxes(boxes)
    a, bb, c = _gauss_abc(b, cov)
    sigma = torch.stack([torch.stack([a, c], -1), torch.stack([c, bb], -1)], -2)
    return b[..., :2], sigma


def gaussian_to_xywhr(mu: Any, sigma: Any, *, cov: str) -> torch.Tensor:
    """Inverse of :func:`xywhr_to_gaussian`: the box whose Gaussian is ``(mu, sigma)``.

    Closed-form eigen-decomposition of the 2x2 ``sigma``: ``w`` goes with the larger
    eigenvalue, so the result has ``w >= h`` and angle in ``(-pi/2, pi/2]`` (an isotropic
    ``sigma`` has no direction: angle 0). ``sigma`` must be symmetric positive definite.
    """
    m = as_boxes(mu, "mu", last=2)
    s = as_boxes(sigma, "sigma", last=2)
    if s.ndim < 2 or s.shape[-2] != 2:
        raise ShapeError(f"sigma must have shape (..., 2, 2), got {tuple(s.shape)}")
    from kadr._checks import check_finite

    check_finite(m, "mu")
    check_finite(s, "sigma")
    f = _cov_factor(cov)
    a, b, c = s[..., 0, 0], s[..., 1, 1], 0.5 * (s[..., 0, 1] + s[..., 1, 0])
    with torch.no_grad():
        if bool(((a <= 0) | (a * b - c * c <= 0)).any()):
            raise InputError("sigma must be positive definite (a zero-size box has a singular covariance)")
    half = 0.5 * (a - b)
    root = torch.sqrt(half * half + c * c + torch.finfo(s.dtype).tiny)
    l1, l2 = 0.5 * (a + b) + root, 0.5 * (a + b) - root
    t = 0.5 * torch.atan2(2 * c, a - b)
    w, h = torch.sqrt(l1 / f), torch.sqrt(l2.clamp_min(torch.finfo(s.dtype).tiny) / f)
    mb = torch.broadcast_to(m, (*a.shape, 2))
    return torch.stack([mb[..., 0], mb[..., 1], w, h, t], dim=-1)


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
