"""Object tracking through a shot, output as oriented boxes.

Box convention (:class:`OrientedBox`): centre ``(cx, cy)``, size ``(w, h)`` in pixels,
``angle`` in degrees; the box's corners are ``centre + R(angle) · (±w/2, ±h/2)`` with
``R = [[cos, −sin], [sin, cos]]`` in image coordinates (y down), so a positive angle turns
the box clockwise on screen — the convention of OpenCV's ``RotatedRect`` and of the
``xywhr`` boxes of ultralytics (which use radians).

Algorithm (:class:`Tracker`), on grey frames scaled to ``work_size``:

1. *Follow*: Shi–Tomasi corners inside the box are tracked frame to frame with pyramidal
   Lucas–Kanade (forward–backward checked); a similarity transform (rotation, uniform
   scale, translation) is fitted with RANSAC and composed onto the box.
2. *Re-anchor*: keypoints (ORB by default) of the first frame's box are the template.
   Every ``reanchor_every`` frames they are matched in a window around the box and a
   similarity template → frame is fitted; when it disagrees with the followed box by more
   than ``drift_px`` (mean corner distance) the box is reset to it, removing drift.
3. *Lost / found*: fewer than ``min_points`` consistent tracks, a box leaving the frame,
   or a shot boundary (``update(..., boundary=True)``) set the state to ``lost`` (box
   None). While lost, the template is searched in the whole frame each frame; a match
   with ``reacquire_inliers`` inliers sets ``found`` and tracking resumes.

States per frame: ``init`` (first frame), ``tracked``, ``lost``, ``found``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from kadr._checks import check_positive
from kadr._options import opt
from kadr.errors import InputError
from kadr.geometry.flow import to_grey
from kadr.geometry.keypoints import DETECTORS, Features, detect, match

STATES = ("init", "tracked", "lost", "found")


@dataclass
class OrientedBox:
    """An oriented box (see module docstring for the angle convention)."""

    cx: float
    cy: float
    w: float
    h: float
    angle: float = 0.0

    def __post_init__(self) -> None:
        vals = (self.cx, self.cy, self.w, self.h, self.angle)
        if not all(isinstance(v, (int, float, np.floating, np.integer)) and math.isfinite(float(v)) for v in vals):
            raise InputError(f"box values must be finite numbers, got {vals}")
        if self.w <= 0 or self.h <= 0:
            raise InputError(f"box width and height must be > 0, got w={self.w}, h={self.h} "
                             "(a degenerate box has nothing to track)")

    @classmethod
    def from_xywh(cls, x: float, y: float, w: float, h: float, angle: float = 0.0) -> "OrientedBox":
        """From the top-left corner of the *unrotated* box, its size, and the angle
        (the box turns about its centre)."""
        return cls(x + w / 2.0, y + h / 2.0, w, h, angle)

    def corners(self) -> np.ndarray:
        """(4, 2) corners: top-left, top-right, bottom-right, bottom-left before rotation."""
        t = math.radians(self.angle)
        c, s = math.cos(t), math.sin(t)
        half = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float64) * [self.w / 2, self.h / 2]
        return half @ np.array([[c, s], [-s, c]]) + [self.cx, self.cy]

    def scaled(self, f: float) -> "OrientedBox":
        return OrientedBox(self.cx * f, self.cy * f, self.w * f, self.h * f, self.angle)

    def transformed(self, M: np.ndarray) -> "OrientedBox":
        """The box moved by a 2×3 similarity ``M`` (rotation, uniform scale, translation)."""
        scale = math.hypot(M[0, 0], M[1, 0])
        rot = math.degrees(math.atan2(M[1, 0], M[0, 0]))
        cx, cy = M @ [self.cx, self.cy, 1.0]
        return OrientedBox(float(cx), float(cy), self.w * scale, self.h * scale, _wrap(self.angle + rot))

    def to_dict(self) -> dict[str, Any]:
        return {"cx": round(self.cx, 3), "cy": round(self.cy, 3), "w": round(self.w, 3), "h": round(self.h, 3),
                "angle": round(self.angle, 3), "corners": np.round(self.corners(), 2).tolist()}


def _wrap(angle: float) -> float:
    return (angle + 180.0) % 360.0 - 180.0


def parse_box(text: str) -> OrientedBox:
    """``"x,y,w,h"`` or ``"x,y,w,h,angle"`` (top-left of the unrotated box, degrees)."""
    parts = [p.strip() for p in str(text).split(",")]
    if len(parts) not in (4, 5):
        raise InputError(f"--box must be x,y,w,h or x,y,w,h,angle (pixels, degrees); got {text!r}")
    try:
        vals = [float(p) for p in parts]
    except ValueError:
        raise InputError(f"--box values must be numbers; got {text!r}") from None
    return OrientedBox.from_xywh(*vals)


def polygon_iou(p: np.ndarray, q: np.ndarray) -> float:
    """Intersection over union of two convex polygons (N, 2), exact (OpenCV's
    ``intersectConvexConvex``)."""
    import cv2

    p32, q32 = (np.asarray(x, np.float32).reshape(-1, 1, 2) for x in (p, q))
    area_p, area_q = abs(cv2.contourArea(p32)), abs(cv2.contourArea(q32))
    inter, _ = cv2.intersectConvexConvex(p32, q32)
    union = area_p + area_q - inter
    return float(inter / union) if union > 0 else 0.0


def check_box_in_frame(box: OrientedBox, width: int, height: int) -> None:
    """Raise when the box does not overlap the frame at all or its centre is outside."""
    frame = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float64)
    if not (0 <= box.cx < width and 0 <= box.cy < height) or polygon_iou(box.corners(), frame) <= 0:
        raise InputError(f"the box (centre {box.cx:.1f},{box.cy:.1f}, size {box.w:.1f}x{box.h:.1f}) lies outside "
                         f"the {width}x{height} frame; give x,y,w,h in the video's pixel coordinates")


@dataclass
class TrackOptions:
    work_size: int = opt(640, "longest side (px) of the frames the tracker works on (0 = full size)")
    detector: str = opt("orb", "keypoints of the template used to re-anchor and re-acquire", choices=DETECTORS)
    points: int = opt(200, "corners followed inside the box")
    min_points: int = opt(8, "fewer consistent tracks than this means the object is lost")
    reanchor_every: int = opt(5, "frames between template checks (0 = never re-anchor)")
    drift_px: float = opt(1.5, "re-anchor when the template fit and the followed box differ by more "
                          "than this mean corner distance (px at work size)")
    reacquire_inliers: int = opt(12, "template inliers needed to declare a lost object found again")


@dataclass
class TrackPoint:
    """One frame of a track; ``box`` is None when the object is lost."""

    frame: int
    state: str
    box: OrientedBox | None
    points: int = 0
    reanchored: bool = False
    time: float | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"frame": self.frame, "time": self.time, "state": self.state,
                             "points": self.points, "reanchored": self.reanchored}
        d.update(self.box.to_dict() if self.box is not None else
                 {"cx": None, "cy": None, "w": None, "h": None, "angle": None, "corners": None})
        return d


def _similarity(src: np.ndarray, dst: np.ndarray, thresh: float) -> tuple[np.ndarray | None, np.ndarray]:
    import cv2

    if len(src) < 3:
        return None, np.zeros(len(src), bool)
    M, inl = cv2.estimateAffinePartial2D(src.astype(np.float32), dst.astype(np.float32), method=cv2.RANSAC,
                                         ransacReprojThreshold=thresh, maxIters=2000, confidence=0.995)
    if M is None or not np.isfinite(M).all():
        return None, np.zeros(len(src), bool)
    return M, inl.ravel().astype(bool)


def _box_mask(shape: tuple[int, int], box: OrientedBox, shrink: float = 0.9) -> np.ndarray:
    import cv2

    m = np.zeros(shape, np.uint8)
    b = OrientedBox(box.cx, box.cy, box.w * shrink, box.h * shrink, box.angle)
    cv2.fillConvexPoly(m, b.corners().round().astype(np.int32), 255)
    return m


class Tracker:
    """Streaming single-object tracker (see module docstring).

    ``start(image, box)`` then ``update(image)`` per frame → :class:`TrackPoint`; boxes are
    in the pixel coordinates of the images given."""

    def __init__(self, options: TrackOptions | None = None):
        self.o = options or TrackOptions()
        check_positive(self.o.points, "points")
        check_positive(self.o.min_points, "min_points")
        check_positive(self.o.drift_px, "drift_px")
        self._scale = 1.0
        self._frame = -1

    # -- helpers at work scale
    def _prep(self, image: np.ndarray) -> np.ndarray:
        import cv2

        g = to_grey(image, "frame")
        if self._scale != 1.0:
            g = cv2.resize(g, (round(g.shape[1] * self._scale), round(g.shape[0] * self._scale)),
                           interpolation=cv2.INTER_AREA)
        return g

    def _seed(self, gray: np.ndarray, box: OrientedBox) -> np.ndarray:
        import cv2

        pts = cv2.goodFeaturesToTrack(gray, maxCorners=int(self.o.points), qualityLevel=0.01, minDistance=4,
                                      blockSize=5, mask=_box_mask(gray.shape, box))
        return np.zeros((0, 2), np.float32) if pts is None else pts.reshape(-1, 2)

    def _inside(self, box: OrientedBox, shape: tuple[int, int]) -> bool:
        h, w = shape
        return 0 <= box.cx < w and 0 <= box.cy < h

    def start(self, image: np.ndarray, box: OrientedBox, *, frame: int = 0, time: float | None = None) -> TrackPoint:
        """Begin tracking ``box`` (image pixel coordinates) in ``image``."""
        h, w = np.asarray(image).shape[:2]
        check_box_in_frame(box, w, h)
        self._full_shape = (h, w)
        self._scale = 1.0 if not self.o.work_size or max(h, w) <= self.o.work_size else self.o.work_size / max(h, w)
        gray = self._prep(image)
        self._box = box.scaled(self._scale)
        if self._box.w < 4 or self._box.h < 4:
            raise InputError(f"the box is {box.w:.0f}x{box.h:.0f} px; at least {4 / self._scale:.0f} px "
                             "on each side is needed to track it")
        self._template: Features = detect(gray, self.o.detector, max_features=500, mask=_box_mask(gray.shape, self._box, 1.0))
        self._template_box = self._box
        self._prev = gray
        self._pts = self._seed(gray, self._box)
        self._state = "tracked"
        self._since_anchor = 0
        self._frame = frame
        if len(self._pts) < self.o.min_points and len(self._template) < self.o.reacquire_inliers:
            raise InputError(f"the box holds too little texture to track ({len(self._pts)} corners, "
                             f"{len(self._template)} keypoints); draw it around a detailed object")
        return TrackPoint(frame, "init", box, len(self._pts), False, time)

    def _template_fit(self, gray: np.ndarray, window: OrientedBox | None) -> tuple[OrientedBox | None, int]:
        """Template box located in ``gray`` (inside an enlarged ``window`` or anywhere)."""
        mask = None
        if window is not None:
            big = OrientedBox(window.cx, window.cy, window.w * 2.0 + 16, window.h * 2.0 + 16, window.angle)
            mask = _box_mask(gray.shape, big, 1.0)
        f = detect(gray, self.o.detector, max_features=1500 if window is None else 800, mask=mask)
        pa, pb = match(self._template, f, ratio=0.8)
        M, inl = _similarity(pa, pb, 3.0)
        if M is None:
            return None, 0
        box = self._template_box.transformed(M)
        ratio = box.w / self._template_box.w
        if not 0.2 < ratio < 5.0:
            return None, 0
        return box, int(inl.sum())

    def update(self, image: np.ndarray, *, frame: int | None = None, time: float | None = None,
               boundary: bool = False) -> TrackPoint:
        """Track into the next frame. ``boundary=True`` (a shot boundary before this
        frame) drops the followed points: the object must be re-acquired from the template."""
        import cv2

        if self._frame < 0:
            raise InputError("call start(image, box) before update()")
        self._frame = self._frame + 1 if frame is None else frame
        gray = self._prep(image)
        if gray.shape != self._prev.shape:
            raise InputError(f"frame size changed from {self._prev.shape[::-1]} to {gray.shape[::-1]} (work size)")
        prev, self._prev = self._prev, gray
        if boundary:
            self._state, self._pts = "lost", np.zeros((0, 2), np.float32)
        if self._state == "lost":
            box, n = self._template_fit(gray, None)
            if box is None or n < self.o.reacquire_inliers or not self._inside(box, gray.shape):
                return TrackPoint(self._frame, "lost", None, 0, False, time)
            self._box, self._state, self._since_anchor = box, "tracked", 0
            self._pts = self._seed(gray, box)
            return TrackPoint(self._frame, "found", box.scaled(1 / self._scale), len(self._pts), True, time)

        n_ok = 0
        if len(self._pts) >= 3:
            lk = dict(winSize=(21, 21), maxLevel=3, criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01))
            p0 = self._pts.reshape(-1, 1, 2).astype(np.float32)
            p1, st, _ = cv2.calcOpticalFlowPyrLK(prev, gray, p0, None, **lk)
            pb, st2, _ = cv2.calcOpticalFlowPyrLK(gray, prev, p1, None, **lk)
            ok = st.ravel().astype(bool) & st2.ravel().astype(bool) & \
                (np.linalg.norm((pb - p0).reshape(-1, 2), axis=1) < 1.0)
            src, dst = p0.reshape(-1, 2)[ok], p1.reshape(-1, 2)[ok]
            M, inl = _similarity(src, dst, 1.5)
            n_ok = int(inl.sum())
            if M is not None and n_ok >= self.o.min_points:
                self._box = self._box.transformed(M)
                self._pts = dst[inl]
        if n_ok < self.o.min_points or not self._inside(self._box, gray.shape):
            # the followed points gave out: one template search near the last box before giving up
            box, n = self._template_fit(gray, self._box)
            if box is None or n < self.o.reacquire_inliers:
                self._state, self._pts = "lost", np.zeros((0, 2), np.float32)
                return TrackPoint(self._frame, "lost", None, 0, False, time)
            self._box, self._pts, self._since_anchor = box, self._seed(gray, box), 0
            return TrackPoint(self._frame, "tracked", box.scaled(1 / self._scale), len(self._pts), True, time)

        reanchored = False
        self._since_anchor += 1
        if self.o.reanchor_every and self._since_anchor >= self.o.reanchor_every:
            self._since_anchor = 0
            box, n = self._template_fit(gray, self._box)
            if box is not None and n >= self.o.reacquire_inliers:
                drift = float(np.linalg.norm(box.corners() - self._box.corners(), axis=1).mean())
                if drift > self.o.drift_px:
                    self._box, reanchored = box, True
                    self._pts = self._seed(gray, box)
        if len(self._pts) < self.o.points // 2:
            self._pts = self._seed(gray, self._box)
        return TrackPoint(self._frame, "tracked", self._box.scaled(1 / self._scale), len(self._pts), reanchored, time)
