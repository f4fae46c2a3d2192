"""Oriented ``xywhr`` boxes: validation, angle conventions (radians / degrees, canonical
forms) and corners. Conventions: :mod:`kadr.geometry.boxes`."""

from __future__ import annotations

import math
from typing import Any

import torch

from kadr._compat import deprecated_alias
from kadr.errors import InputError, ShapeError

__all__ = ["as_boxes", "check_boxes", "xywhd_to_xywhr", "xywhr_to_xywhd", "normalise_angle", "normalize_angle",
           "xywhr_to_corners", "corners_to_xywhr", "xyxy_to_xywhr", "box_area"]


# --------------------------------------------------------------------------- validation

def as_boxes(boxes: Any, name: str = "boxes", *, last: int = 5) -> torch.Tensor:
    """``boxes`` as a floating tensor ``(..., last)`` (no copy when already one)."""
    if not isinstance(boxes, torch.Tensor):
        try:
            boxes = torch.as_tensor(boxes)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise InputError(f"{name} must be a tensor, array or nested list of numbers ({exc})") from None
    if not boxes.is_floating_point():
        if boxes.dtype.is_complex:
            raise InputError(f"{name} must be real numbers, got {boxes.dtype}")
        boxes = boxes.to(torch.float32)
    if boxes.ndim == 0 or boxes.shape[-1] != last:
        what = {5: "(cx, cy, w, h, angle)", 4: "(x1, y1, x2, y2)", 2: "(x, y)"}.get(last, f"{last} numbers")
        raise ShapeError(f"{name} must have shape (..., {last}) = {what}, got {tuple(boxes.shape)}")
    return boxes


def _first_bad(mask: torch.Tensor) -> tuple[int, ...]:
    idx = mask.nonzero()[0]
    return tuple(int(i) for i in idx)


def check_boxes(boxes: Any, name: str = "boxes") -> torch.Tensor:
    """Validate ``xywhr`` boxes and return them as a floating tensor.

    Rules: shape ``(..., 5)``; every value finite (NaN/inf → :class:`InputError`);
    ``w > 0`` and ``h > 0`` (a zero-size box has no area, no Gaussian and no IoU → error:
    drop such boxes first, e.g. ``b[(b[..., 2] > 0) & (b[..., 3] > 0)]``). An empty batch
    ``(0, 5)`` is valid.
    """
    b = as_boxes(boxes, name)
    if b.numel() == 0:
        return b
    with torch.no_grad():
        # fast path, two reductions: NaN/inf make the sum non-finite and the minimum side
        # NaN or <= 0; the exact checks below run only when the fast one fails
        if bool(torch.isfinite(b.sum())) and bool(b[..., 2:4].amin() > 0):
            return b
        finite = torch.isfinite(b).all(dim=-1)
        if not bool(finite.all()):
            at = _first_bad(~finite)
            raise InputError(f"{name} contains NaN or infinite values (first at index {at}: "
                             f"{b[at].tolist()}); remove or repair those boxes")
        bad = (b[..., 2] <= 0) | (b[..., 3] <= 0)
        if not bool(bad.any()):
            return b                                           # the sum overflowed, all is well
        at = _first_bad(bad)
        raise InputError(f"{name} has a box with w <= 0 or h <= 0 at index {at}: {b[at].tolist()}; "
                         "a degenerate box has no area — drop it first "
                         "(b[(b[..., 2] > 0) & (b[..., 3] > 0)]) or give it a positive size")


def _pair(a: Any, b: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate two box arguments and broadcast them to one shape and dtype."""
    a, b = check_boxes(a, "boxes1"), check_boxes(b, "boxes2")
    try:
        shape = torch.broadcast_shapes(a.shape[:-1], b.shape[:-1])
    except RuntimeError:
        raise ShapeError(f"boxes1 {tuple(a.shape)} and boxes2 {tuple(b.shape)} do not broadcast; "
                         "for all pairs pass boxes1[:, None] and boxes2[None]") from None
    dtype = torch.promote_types(a.dtype, b.dtype)
    return a.to(dtype).expand(*shape, 5), b.to(dtype).expand(*shape, 5)


#: Largest H x W a frame map (masks, heat maps) may have: 2^28 px (16384²; 1 GiB of float32
#: per map), far above any video frame; a size beyond it is a unit mistake, not a frame.
MAX_FRAME_PIXELS = 1 << 28


def _frame_size(size: Any) -> tuple[int, int]:
    """``(H, W)`` from a ``(H, W)`` pair of positive integers."""
    try:
        h, w = (int(v) for v in size)
        ok = all(float(v) == int(v) for v in size)
    except (TypeError, ValueError):
        raise InputError(f"size must be (H, W), two positive integers; got {size!r}") from None
    if not ok or h <= 0 or w <= 0:
        raise InputError(f"size must be (H, W), two positive integers; got {size!r}")
    if h * w > MAX_FRAME_PIXELS:
        raise InputError(f"size {h}x{w} is {h * w / 1e6:.0f} megapixels, more than the {MAX_FRAME_PIXELS / 1e6:.0f} "
                         "allowed for a frame map; give the frame size in pixels (H, W), or downscale")
    return h, w


# --------------------------------------------------------------------------- angles

def xywhd_to_xywhr(boxes: Any) -> torch.Tensor:
    """``(cx, cy, w, h, degrees)`` → ``(cx, cy, w, h, radians)``."""
    b = as_boxes(boxes)
    return torch.cat([b[..., :4], torch.deg2rad(b[..., 4:])], dim=-1)


def xywhr_to_xywhd(boxes: Any) -> torch.Tensor:
    """``(cx, cy, w, h, radians)`` → ``(cx, cy, w, h, degrees)``."""
    b = as_boxes(boxes)
    return torch.cat([b[..., :4], torch.rad2deg(b[..., 4:])], dim=-1)


def normalise_angle(boxes: Any, mode: str = "le90") -> torch.Tensor:
    """Canonical form of the same rectangle (a box and its copy turned by 180°, or turned by
    90° with ``w``/``h`` swapped, are one rectangle).

    - ``"le90"``: ``w >= h`` and angle in ``[-pi/2, pi/2)`` (mmrotate's ``le90``; the long
      side defines the angle),
    - ``"le135"``: ``w >= h`` and angle in ``[-pi/4, 3pi/4)``,
    - ``"oc"``: angle in ``(0, pi/2]``, ``w``/``h`` swapped as needed (OpenCV >= 4.5.1
      ``minAreaRect`` style).
    """
    b = check_boxes(boxes)
    x, y, w, h, t = b.unbind(-1)
    if mode in ("le90", "le135"):
        swap = h > w
        w, h = torch.where(swap, h, w), torch.where(swap, w, h)
        t = torch.where(swap, t + math.pi / 2, t)
        lo = -math.pi / 2 if mode == "le90" else -math.pi / 4
        t = torch.remainder(t - lo, math.pi) + lo
    elif mode == "oc":
        t = torch.remainder(t, math.pi)                     # [0, pi)
        swap = t > math.pi / 2                              # (pi/2, pi): turn by -pi/2, swap
        w, h = torch.where(swap, h, w), torch.where(swap, w, h)
        t = torch.where(swap, t - math.pi / 2, t)           # now [0, pi/2]
        zero = t == 0                                       # 0 → pi/2 with w/h swapped
        w, h = torch.where(zero, h, w), torch.where(zero, w, h)
        t = torch.where(zero, torch.full_like(t, math.pi / 2), t)
    else:
        raise InputError(f"mode must be 'le90', 'le135' or 'oc', got {mode!r}")
    return torch.stack([x, y, w, h, t], dim=-1)


normalize_angle = deprecated_alias(normalise_angle, "normalize_angle")


# --------------------------------------------------------------------------- corners


def xywhr_to_corners(boxes: Any) -> torch.Tensor:
    """Corners ``(..., 4, 2)`` of ``xywhr`` boxes.

    Order: the box-frame points ``(-w/2, -h/2), (w/2, -h/2), (w/2, h/2), (-w/2, h/2)``
    rotated by ``angle`` and moved to the centre. In (x, y) coordinates this order has a
    positive shoelace area (counter-clockwise in a y-up drawing, clockwise on screen).
    """
    b = check_boxes(boxes)
    return _corners(b)


def _corners(b: torch.Tensor) -> torch.Tensor:
    return torch.stack(_corners_xy(b), dim=-1)


def _corners_xy(b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Corner x and y coordinates, each ``(..., 4)``."""
    cx, cy, w, h, t = b.unbind(-1)
    c, s = torch.cos(t), torch.sin(t)
    sx = torch.tensor([-0.5, 0.5, 0.5, -0.5], dtype=b.dtype, device=b.device)
    sy = torch.tensor([-0.5, -0.5, 0.5, 0.5], dtype=b.dtype, device=b.device)
    dx = w[..., None] * sx
    dy = h[..., None] * sy
    px = cx[..., None] + dx * c[..., None] - dy * s[..., None]
    py = cy[..., None] + dx * s[..., None] + dy * c[..., None]
    return px, py


def corners_to_xywhr(corners: Any) -> torch.Tensor:
    """``xywhr`` boxes from corners ``(..., 4, 2)`` given in order around the box.

    Centre = mean of the corners; ``w`` = mean length of edges 0→1 and 3→2, ``h`` = mean
    length of edges 1→2 and 0→3; angle = direction of the mean of edges 0→1 and 3→2. Exact
    (and the inverse of :func:`xywhr_to_corners`) for rectangles; a slightly noisy
    quadrilateral gets the averaged rectangle. Differentiable.
    """
    p = as_boxes(corners, "corners", last=2)
    if p.ndim < 2 or p.shape[-2] != 4:
        raise ShapeError(f"corners must have shape (..., 4, 2), got {tuple(p.shape)}")
    from kadr._checks import check_finite

    check_finite(p, "corners")
    e01, e32 = p[..., 1, :] - p[..., 0, :], p[..., 2, :] - p[..., 3, :]
    e12, e03 = p[..., 2, :] - p[..., 1, :], p[..., 3, :] - p[..., 0, :]
    w = 0.5 * (torch.linalg.vector_norm(e01, dim=-1) + torch.linalg.vector_norm(e32, dim=-1))
    h = 0.5 * (torch.linalg.vector_norm(e12, dim=-1) + torch.linalg.vector_norm(e03, dim=-1))
    d = e01 + e32
    t = torch.atan2(d[..., 1], d[..., 0])
    c = p.mean(dim=-2)
    out = torch.stack([c[..., 0], c[..., 1], w, h, t], dim=-1)
    return check_boxes(out, "boxes from corners")


def xyxy_to_xywhr(boxes: Any) -> torch.Tensor:
    """Axis-aligned ``(x1, y1, x2, y2)`` → ``xywhr`` with angle 0."""
    b = as_boxes(boxes, last=4)
    x1, y1, x2, y2 = b.unbind(-1)
    out = torch.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1, torch.zeros_like(x1)], dim=-1)
    return check_boxes(out, "boxes (x2 must exceed x1 and y2 must exceed y1)")


def box_area(boxes: Any) -> torch.Tensor:
    """``w * h``."""
    b = check_boxes(boxes)
    return b[..., 2] * b[..., 3]
