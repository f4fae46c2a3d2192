"""Exact intersection of oriented boxes (convex polygon clipping), polygon IoU and its loss,
and frame helpers (which boxes are inside a frame, the visible part of a box)."""

from __future__ import annotations

import math
from typing import Any, Sequence

import torch

from kadr.errors import InputError, ShapeError
from kadr.geometry.boxes.core import _corners, _corners_xy, _frame_size, _pair, as_boxes, check_boxes

__all__ = ["polygon_area", "clip_polygon", "intersection_area", "polygon_iou", "polygon_iou_loss",
           "inside", "clip_to_frame"]


# --------------------------------------------------------------------------- polygons

def polygon_area(poly: torch.Tensor) -> torch.Tensor:
    """Signed shoelace area of polygons ``(..., N, 2)`` (positive for the corner order of
    :func:`xywhr_to_corners`). Repeated vertices add nothing."""
    x, y = poly[..., 0], poly[..., 1]
    return 0.5 * (x * y.roll(-1, -1) - x.roll(-1, -1) * y).sum(-1)


def clip_polygon(subject: torch.Tensor, clipper: torch.Tensor) -> torch.Tensor:
    """Sutherland–Hodgman clipping of convex polygons by convex polygons, batched.

    ``subject (..., N, 2)`` and ``clipper (..., M, 2)`` (broadcast leading shapes), both
    convex with positive orientation (see :func:`polygon_area`). Returns the intersection as
    ``(..., N + M, 2)``: its vertices in order, padded with repeats of the last vertex (a
    repeated vertex is a zero-length edge, so areas and perimeters are unchanged); an empty
    intersection is all zeros. Differentiable with respect to both polygons.

    Each of the ``M`` half-planes keeps the vertices on its inner side (within a tolerance
    of a few ulps, so shared edges and coincident corners are inside) and adds the crossing
    points; a convex polygon cut by a line gains at most one vertex, hence the fixed size.
    """
    from kadr._checks import check_finite

    subject, clipper = as_boxes(subject, "subject", last=2), as_boxes(clipper, "clipper", last=2)
    for name, poly in (("subject", subject), ("clipper", clipper)):
        if poly.ndim < 2 or poly.shape[-2] < 3:
            raise ShapeError(f"{name} must be polygons (..., N >= 3, 2), got {tuple(poly.shape)}")
        check_finite(poly, name)
    try:
        shape = torch.broadcast_shapes(subject.shape[:-2], clipper.shape[:-2])
    except RuntimeError:
        raise ShapeError(f"subject {tuple(subject.shape)} and clipper {tuple(clipper.shape)} do not broadcast") from None
    dtype = torch.promote_types(subject.dtype, clipper.dtype)
    poly = subject.to(dtype).expand(*shape, *subject.shape[-2:]).reshape(-1, subject.shape[-2], 2)
    clip = clipper.to(dtype).expand(*shape, *clipper.shape[-2:]).reshape(-1, clipper.shape[-2], 2)
    m = clip.shape[1]
    # tolerance on the cross product: relative to the size of the scene
    scale = torch.cat([poly, clip], 1).detach()
    scale = (scale - scale.mean(1, keepdim=True)).abs().amax(dim=(1, 2)).clamp_min(torch.finfo(dtype).tiny)
    tol = (64 * torch.finfo(dtype).eps) * scale * scale
    for e in range(m):
        a, b = clip[:, e], clip[:, (e + 1) % m]
        poly = _clip_half_plane(poly, a, b, tol)
    return poly.reshape(*shape, poly.shape[1], 2)


def _clip_half_plane(poly: torch.Tensor, a: torch.Tensor, b: torch.Tensor, tol: torch.Tensor) -> torch.Tensor:
    """Keep the part of each polygon ``(B, n, 2)`` left of the line a→b; returns ``(B, n+1, 2)``."""
    n = poly.shape[1]
    d = (b - a)[:, None, :]
    rel = poly - a[:, None, :]
    s = d[..., 0] * rel[..., 1] - d[..., 1] * rel[..., 0]       # (B, n); >= 0: inside
    s = torch.where(s.abs() <= tol[:, None], torch.zeros_like(s), s)
    ins = s >= 0
    nxt = poly.roll(-1, 1)
    s_n, ins_n = s.roll(-1, 1), ins.roll(-1, 1)
    cross = ins != ins_n
    denom = torch.where(cross, s - s_n, torch.ones_like(s))     # never 0 where used
    t = (s / denom)[..., None]
    hit = poly + t * (nxt - poly)
    pts = torch.stack([poly, hit], 2).reshape(poly.shape[0], 2 * n, 2)
    keep = torch.stack([ins, cross], 2).reshape(poly.shape[0], 2 * n)
    count = keep.sum(1)
    pos = torch.where(keep, keep.cumsum(1) - 1, torch.full_like(count[:, None], 2 * n))
    out = torch.zeros(poly.shape[0], 2 * n + 1, 2, dtype=poly.dtype, device=poly.device)
    out = out.scatter(1, pos[..., None].expand(-1, -1, 2), pts)[:, : n + 1]
    last = out.gather(1, (count - 1).clamp_min(0)[:, None, None].expand(-1, 1, 2))
    slot = torch.arange(n + 1, device=poly.device)
    return torch.where((slot[None] < count[:, None])[..., None], out, last)


def intersection_area(boxes1: Any, boxes2: Any) -> torch.Tensor:
    """Exact area of the intersection of two oriented boxes (see :func:`polygon_iou`)."""
    a, b = _pair(boxes1, boxes2)
    return _intersection(a, b)


def _intersection(a: torch.Tensor, b: torch.Tensor, chunk: int = 1 << 13) -> torch.Tensor:
    shape = a.shape[:-1]
    a2, b2 = a.reshape(-1, 5), b.reshape(-1, 5)
    # work relative to the first box's centre: smaller numbers, smaller rounding errors
    off = torch.cat([a2[:, :2].detach(), torch.zeros_like(a2[:, 2:])], 1)
    a2, b2 = a2 - off, b2 - off
    parts = []
    for i in range(0, a2.shape[0], chunk):
        pa, pb = a2[i:i + chunk], b2[i:i + chunk]
        ax, ay = _corners_xy(pa)
        bx, by = _corners_xy(pb)
        # scene size: |centre offset| + the larger half-diagonal (corners lie within it)
        size = torch.hypot(pb[:, 0], pb[:, 1]) + torch.maximum(torch.hypot(pa[:, 2], pa[:, 3]),
                                                              torch.hypot(pb[:, 2], pb[:, 3]))
        tol = ((64 * torch.finfo(a2.dtype).eps) * size.detach() ** 2)[:, None, None]
        area = _boundary_part(ax, ay, bx, by, tol, own=True) + _boundary_part(bx, by, ax, ay, tol, own=False)
        parts.append(area.clamp_min(0))
    out = torch.cat(parts) if parts else a2.new_zeros(0)
    return out.reshape(shape)


def _boundary_part(px: torch.Tensor, py: torch.Tensor, qx: torch.Tensor, qy: torch.Tensor,
                   tol: torch.Tensor, own: bool) -> torch.Tensor:
    """Green's-theorem share of polygon P's edges in ``|P ∩ Q|``: ``½ Σ (x0 y1 - x1 y0)`` over
    each edge of P clipped to the convex polygon Q (Cyrus–Beck: one parameter interval per
    edge, from Q's half-planes). Summed with the same for Q's edges in P, the pieces form
    the closed boundary of P ∩ Q. An edge lying on a line of Q counts for P (``own``) when
    both run the same way (the region is on the same side) and never for Q, so a shared
    edge is counted once and a touching one not at all. Shapes ``(B, N)``; returns ``(B,)``.
    """
    dx, dy = px.roll(-1, 1) - px, py.roll(-1, 1) - py                  # P's edges i
    ex, ey = qx.roll(-1, 1) - qx, qy.roll(-1, 1) - qy                  # Q's edges j
    # s(t) = cross(e_j, P_i + t d_i - Q_j) >= 0 inside; s0 at t = 0, ds = s(1) - s(0)
    s0 = ex[:, None, :] * (py[:, :, None] - qy[:, None, :]) - ey[:, None, :] * (px[:, :, None] - qx[:, None, :])
    ds = ex[:, None, :] * dy[:, :, None] - ey[:, None, :] * dx[:, :, None]
    par = ds.abs() <= tol
    on = s0.abs() <= tol
    same = (ex[:, None, :] * dx[:, :, None] + ey[:, None, :] * dy[:, :, None]) > 0
    blocked = par & ((s0 < -tol) | (on & ~same) | (on & (not own)))     # edge i outside half-plane j
    safe = torch.where(par, torch.ones_like(ds), ds)
    t = -s0 / safe
    inf = torch.full_like(t, math.inf)
    t_lo = torch.where(~par & (ds > 0), t, -inf).amax(-1).clamp_min(0)
    t_hi = torch.where(~par & (ds < 0), t, inf).amin(-1).clamp_max(1)
    keep = ~blocked.any(-1) & (t_hi > t_lo)
    x0, y0 = px + t_lo * dx, py + t_lo * dy
    x1, y1 = px + t_hi * dx, py + t_hi * dy
    contrib = 0.5 * (x0 * y1 - x1 * y0)
    return torch.where(keep, contrib, torch.zeros_like(contrib)).sum(-1)


def polygon_iou(boxes1: Any, boxes2: Any) -> torch.Tensor:
    """Exact IoU of oriented boxes: ``|A ∩ B| / (|A| + |B| - |A ∩ B|)`` in ``[0, 1]``.

    The intersection area is the Green's-theorem integral over its boundary: each box's
    edges are clipped to the other box (Cyrus–Beck convex clipping, a fixed 4 x 4
    half-plane test per pair — no variable-length polygons, so it vectorises), and shared
    or touching edges are counted once or not at all. :func:`clip_polygon` gives the same
    area from the intersection polygon itself (Sutherland–Hodgman). Identical boxes give 1,
    nested boxes the area ratio, boxes that only touch (shared edge or corner) or are apart
    give 0. Differentiable almost everywhere (the
    gradient is zero for disjoint boxes — use a Gaussian metric there).
    Reference values (issue 8): identical 10x10 → 1; 10x10 shifted 4 px → 0.429;
    20x10 against itself turned 15° → 0.762; crossed 100x10 at 0°/90° → 0.053.
    """
    a, b = _pair(boxes1, boxes2)
    inter = _intersection(a, b)
    union = a[..., 2] * a[..., 3] + b[..., 2] * b[..., 3] - inter
    return (inter / union).clamp(0, 1)


def polygon_iou_loss(pred: Any, target: Any, *, mode: str = "linear", eps: float = 1e-6) -> torch.Tensor:
    """``1 - IoU`` (``mode="linear"``) or ``-ln(IoU + eps)`` (``"log"``) of the exact IoU."""
    iou = polygon_iou(pred, target)
    if mode == "linear":
        return 1 - iou
    if mode == "log":
        return -torch.log(iou + eps)
    raise InputError(f"mode must be 'linear' or 'log', got {mode!r}")


# --------------------------------------------------------------------------- frames

def _frame_polygon(h: int, w: int, like: torch.Tensor) -> torch.Tensor:
    return torch.tensor([[0.0, 0.0], [w, 0.0], [w, h], [0.0, h]], dtype=like.dtype, device=like.device)


def inside(boxes: Any, size: Sequence[int], *, mode: str = "all") -> torch.Tensor:
    """Which boxes lie in a frame of ``size = (H, W)`` (the frame is ``[0, W] x [0, H]``).

    - ``"all"``: every corner is inside or on the border (the whole box is visible),
    - ``"centre"``: the centre is inside or on the border (``"center"``: deprecated spelling),
    - ``"any"``: the box overlaps the frame with positive area (touching is not enough).

    Returns a ``bool`` tensor of the boxes' leading shape.
    """
    b = check_boxes(boxes)
    h, w = _frame_size(size)
    if mode == "all":
        p = _corners(b)
        eps = 1e-6 * max(h, w)
        ok = (p[..., 0] >= -eps) & (p[..., 0] <= w + eps) & (p[..., 1] >= -eps) & (p[..., 1] <= h + eps)
        return ok.all(-1)
    if mode == "center":
        from kadr._compat import warn_renamed

        warn_renamed('mode="center"', 'mode="centre"')
        mode = "centre"
    if mode == "centre":
        return (b[..., 0] >= 0) & (b[..., 0] <= w) & (b[..., 1] >= 0) & (b[..., 1] <= h)
    if mode == "any":
        return _visible_area(b, h, w) > 0
    raise InputError(f"mode must be 'all', 'centre' or 'any', got {mode!r}")


def _visible_polygon(b: torch.Tensor, h: int, w: int) -> torch.Tensor:
    frame = _frame_polygon(h, w, b).expand(*b.shape[:-1], 4, 2)
    return clip_polygon(_corners(b), frame)


def _visible_area(b: torch.Tensor, h: int, w: int) -> torch.Tensor:
    return polygon_area(_visible_polygon(b, h, w)).clamp_min(0)


def clip_to_frame(boxes: Any, size: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Clip oriented boxes to a frame of ``size = (H, W)``; returns ``(clipped, visible)``.

    Rule: the part of the box inside ``[0, W] x [0, H]`` is computed exactly (polygon
    clipping); ``clipped`` is the tightest box **with the same angle** that contains that
    part (for axis-aligned boxes: the usual clamp of the edges to the frame), and
    ``visible`` is the fraction of the original area inside the frame, in ``[0, 1]``.
    A box entirely outside (or only touching the border) has ``visible == 0`` and is
    returned **unchanged** — test ``visible > 0`` before using it; nothing becomes NaN or
    zero-sized.
    """
    b = check_boxes(boxes)
    h, w = _frame_size(size)
    poly = _visible_polygon(b, h, w)
    vis = (polygon_area(poly).clamp_min(0) / (b[..., 2] * b[..., 3])).clamp(0, 1)
    t = b[..., 4]
    c, s = torch.cos(t)[..., None], torch.sin(t)[..., None]
    rel = poly - b[..., None, :2]
    u = rel[..., 0] * c + rel[..., 1] * s          # coordinates along the box's own axes
    v = -rel[..., 0] * s + rel[..., 1] * c
    u0, u1, v0, v1 = u.amin(-1), u.amax(-1), v.amin(-1), v.amax(-1)
    um, vm = (u0 + u1) / 2, (v0 + v1) / 2
    cx = b[..., 0] + um * c[..., 0] - vm * s[..., 0]
    cy = b[..., 1] + um * s[..., 0] + vm * c[..., 0]
    clipped = torch.stack([cx, cy, u1 - u0, v1 - v0, t], dim=-1)
    ok = (vis > 0) & (clipped[..., 2] > 0) & (clipped[..., 3] > 0)
    clipped = torch.where(ok[..., None], clipped, b)
    vis = torch.where(ok, vis, torch.zeros_like(vis))
    return clipped, vis
