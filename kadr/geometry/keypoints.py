"""Keypoints and homography: ORB / AKAZE / SIFT features, ratio-test matching,
RANSAC or USAC homography, sub-pixel refinement, reprojection error, overlay image.

``align(a, b)`` returns the homography ``H`` (3×3) mapping pixel coordinates of ``a``
to ``b``: ``[x_b, y_b, 1]ᵀ ~ H [x_a, y_a, 1]ᵀ``.

Detectors: ORB (Rublee et al., ICCV 2011), AKAZE (Alcantarilla et al., BMVC 2013),
SIFT (Lowe, IJCV 2004). Matching: nearest two neighbours and Lowe's ratio test.
Robust fitting: RANSAC (Fischler & Bolles 1981) or OpenCV's USAC variants (Ivashechkin,
Barath & Matas, "USAC: A universal framework...", 2021), MAGSAC++ by default.

**OpenCV 5 and AKAZE.** OpenCV 5 moved KAZE, AKAZE, AGAST and BRISK from the main
``features2d`` module to opencv_contrib's ``xfeatures2d`` (opencv/opencv PR #25292), so
``cv2.AKAZE_create`` is absent from ``opencv-python-headless`` 5.x. kadr looks for it at
``cv2.AKAZE_create`` (OpenCV 4) and ``cv2.xfeatures2d.AKAZE_create`` (OpenCV 5 with
``opencv-contrib-python-headless``); ``detector="auto"`` then falls back to SIFT (in the
main module, float descriptors like AKAZE's role), and ``detector="akaze"`` raises
:class:`~kadr.errors.BackendUnavailableError` saying what to install.

**Refinement** (``refine=True``, the default): the robust fit from descriptor matches is
limited by keypoint localisation (ORB works on a coarse pyramid). kadr then warps ``b``
into ``a``'s frame with the first homography, tracks up to ``refine_points`` of the inlier
keypoints of ``a`` into it with Lucas–Kanade to sub-pixel precision (keeping
forward–backward consistent tracks), maps them back to ``b`` and refits the homography. This gives
AKAZE/SIFT-level corner accuracy at ORB-level cost.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kadr._checks import check_positive, check_range
from kadr._options import opt
from kadr.errors import BackendUnavailableError, InputError, KadrError
from kadr.geometry.flow import to_grey

DETECTORS = ("auto", "orb", "akaze", "sift")


def _homography_methods() -> dict[str, int]:
    import cv2

    names = {"ransac": "RANSAC", "lmeds": "LMEDS", "rho": "RHO", "usac_default": "USAC_DEFAULT",
             "usac_fast": "USAC_FAST", "usac_accurate": "USAC_ACCURATE", "usac_magsac": "USAC_MAGSAC",
             "usac_prosac": "USAC_PROSAC", "usac_parallel": "USAC_PARALLEL"}
    return {k: getattr(cv2, v) for k, v in names.items() if hasattr(cv2, v)}


def homography_methods() -> list[str]:
    """Robust estimators this OpenCV build offers (``usac_*`` need OpenCV ≥ 4.5)."""
    return list(_homography_methods())


class AlignmentError(KadrError):
    """Two images could not be aligned (too few keypoints or matches, degenerate fit)."""


@dataclass
class AlignOptions:
    detector: str = opt("orb", "keypoint detector: orb, akaze (needs OpenCV 4 or opencv-contrib 5), sift, "
                        "auto (akaze if present, else sift)", choices=DETECTORS)
    method: str = opt("usac_magsac", "robust homography estimator", choices=homography_methods)
    max_features: int = opt(500, "keypoints kept per image")
    ratio: float = opt(0.8, "Lowe ratio test: keep a match when best < ratio × second best")
    threshold: float = opt(3.0, "inlier threshold of the robust fit (pixels)")
    refine: bool = opt(True, "sub-pixel refinement by Lucas-Kanade tracking of corners")
    refine_points: int = opt(500, "inlier keypoints tracked by the refinement")
    min_inliers: int = opt(12, "fewer inliers than this counts as a failed alignment")
    min_coverage: float = opt(0.05, "when the inliers span less than this fraction of A, fit a similarity "
                              "(rotation, scale, shift) instead of a homography: 8 parameters from a small "
                              "patch extrapolate badly")


def _akaze_factory():
    import cv2

    for where in (cv2, getattr(cv2, "xfeatures2d", None)):
        if where is not None and hasattr(where, "AKAZE_create"):
            return where.AKAZE_create
    return None


def available_detectors() -> list[str]:
    """Detectors usable in this OpenCV build."""
    import cv2

    out = ["orb"]
    if _akaze_factory() is not None:
        out.append("akaze")
    if hasattr(cv2, "SIFT_create"):
        out.append("sift")
    return out


def resolve_detector(name: str) -> str:
    """The concrete detector for ``name`` (``auto`` → akaze, else sift, else orb)."""
    if name not in DETECTORS:
        raise InputError(f"detector must be one of {', '.join(DETECTORS)}; got {name!r}")
    have = available_detectors()
    if name == "auto":
        return next(d for d in ("akaze", "sift", "orb") if d in have)
    if name not in have:
        import cv2

        raise BackendUnavailableError(
            f"{name.upper()} is not in this OpenCV build ({cv2.__version__}): OpenCV 5 moved it to "
            "opencv_contrib's xfeatures2d. Install opencv-contrib-python-headless in place of "
            "opencv-python-headless, or use detector 'sift' (same role, in the main module) or 'orb'")
    return name


def make_detector(name: str, max_features: int = 4000) -> tuple[Any, int]:
    """(OpenCV Feature2D, matcher norm) for a concrete detector name."""
    import cv2

    name = resolve_detector(name)
    if name == "orb":
        return cv2.ORB_create(nfeatures=int(max_features)), cv2.NORM_HAMMING
    if name == "akaze":
        return _akaze_factory()(threshold=5e-4), cv2.NORM_HAMMING
    return cv2.SIFT_create(nfeatures=int(max_features)), cv2.NORM_L2


@dataclass
class Features:
    """Keypoint coordinates (N, 2) float32 and their descriptors (N, D)."""

    points: np.ndarray
    descriptors: np.ndarray | None
    detector: str
    norm: int

    def __len__(self) -> int:
        return len(self.points)


def detect(image: np.ndarray, detector: str = "orb", *, max_features: int = 4000,
           mask: np.ndarray | None = None, name: str = "image") -> Features:
    """Keypoints and descriptors of an RGB/grey image (optionally only inside ``mask``)."""
    gray = to_grey(image, name)
    concrete = resolve_detector(detector)
    det, norm = make_detector(concrete, max_features)
    m = None if mask is None else (np.asarray(mask) > 0).astype(np.uint8) * 255
    kps, desc = det.detectAndCompute(gray, m)
    if len(kps) > max_features:  # AKAZE has no cap of its own
        order = np.argsort([-k.response for k in kps])[:max_features]
        kps = [kps[i] for i in order]
        desc = desc[order]
    pts = np.array([k.pt for k in kps], np.float32).reshape(-1, 2)
    return Features(pts, desc, concrete, norm)


def match(fa: Features, fb: Features, *, ratio: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
    """Ratio-test matches: (M, 2) points of ``a`` and the corresponding (M, 2) of ``b``.
    Each point of ``b`` is used at most once (the closest candidate keeps it)."""
    import cv2

    check_range(ratio, "ratio", 0.0, 1.0)
    empty = np.zeros((0, 2), np.float32)
    if len(fa) < 2 or len(fb) < 2 or fa.descriptors is None or fb.descriptors is None:
        return empty, empty
    knn = cv2.BFMatcher(fa.norm).knnMatch(fa.descriptors, fb.descriptors, k=2)
    good = [p[0] for p in knn if len(p) == 2 and p[0].distance < ratio * p[1].distance]
    best: dict[int, Any] = {}
    for m in good:
        if m.trainIdx not in best or m.distance < best[m.trainIdx].distance:
            best[m.trainIdx] = m
    ms = list(best.values())
    if not ms:
        return empty, empty
    qa = np.array([m.queryIdx for m in ms])
    tb = np.array([m.trainIdx for m in ms])
    return fa.points[qa], fb.points[tb]


def project(H: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Apply a homography to (N, 2) points."""
    pts = np.asarray(pts, np.float64).reshape(-1, 2)
    hom = np.c_[pts, np.ones(len(pts))] @ np.asarray(H, np.float64).T
    return hom[:, :2] / hom[:, 2:3]


def image_corners(shape: tuple[int, ...]) -> np.ndarray:
    """The four pixel-corner coordinates (x, y) of an image of ``shape`` (H, W, ...)."""
    h, w = shape[:2]
    return np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float64)


def is_plausible(H: np.ndarray | None, shape_a: tuple[int, ...], shape_b: tuple[int, ...]) -> bool:
    """False for a missing, non-finite or degenerate homography (the image of ``a``'s frame
    folds over, collapses or lands far from ``b``)."""
    import cv2

    if H is None or not np.all(np.isfinite(H)) or abs(np.linalg.det(H)) < 1e-9:
        return False
    corners = image_corners(shape_a)
    hom = np.c_[corners, np.ones(4)] @ H.T
    if np.any(hom[:, 2] <= 1e-9):  # a corner crosses the horizon
        return False
    quad = (hom[:, :2] / hom[:, 2:3]).astype(np.float32)
    if not cv2.isContourConvex(quad.reshape(-1, 1, 2)):
        return False
    area_a = float(shape_a[0] * shape_a[1])
    area = abs(cv2.contourArea(quad))
    hb, wb = shape_b[:2]
    return 1e-3 < area / area_a < 1e3 and np.all(np.abs(quad) < 10 * max(hb, wb))


def fit_homography(pa: np.ndarray, pb: np.ndarray, *, method: str = "usac_magsac",
                   threshold: float = 3.0) -> tuple[np.ndarray | None, np.ndarray]:
    """Robust homography from point pairs: (H or None, inlier flags (M,) bool)."""
    import cv2

    methods = _homography_methods()
    if method not in methods:
        raise InputError(f"method must be one of {', '.join(methods)}; got {method!r}")
    check_positive(threshold, "threshold")
    if len(pa) < 4:
        return None, np.zeros(len(pa), bool)
    H, inl = cv2.findHomography(pa.astype(np.float32), pb.astype(np.float32), methods[method], float(threshold),
                                maxIters=5000, confidence=0.999)
    if H is None or inl is None:
        return None, np.zeros(len(pa), bool)
    return H, inl.ravel().astype(bool)


def refine_homography(gray_a: np.ndarray, gray_b: np.ndarray, H: np.ndarray, *, points: int | np.ndarray = 600,
                      threshold: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Sub-pixel refinement: ``b`` is warped into ``a``'s frame through ``H`` (so scale,
    rotation and perspective are undone), points of ``a`` (an (N, 2) array — e.g. the
    inlier keypoints —, or that many Shi–Tomasi corners) are tracked into it with
    Lucas–Kanade (forward–backward checked, 0.5 px), mapped back to ``b`` through ``H``, and
    the homography is refitted. Returns (H, points a, points b) of the refit's inliers, or None."""
    import cv2

    if isinstance(points, np.ndarray):
        pa = points.reshape(-1, 2).astype(np.float32)
    else:
        pts = cv2.goodFeaturesToTrack(gray_a, maxCorners=int(points), qualityLevel=0.005, minDistance=7, blockSize=7)
        if pts is None:
            return None
        pa = pts.reshape(-1, 2).astype(np.float32)
    if len(pa) < 8:
        return None
    pred = project(H, pa)
    hb, wb = gray_b.shape
    inside = (pred[:, 0] > 8) & (pred[:, 1] > 8) & (pred[:, 0] < wb - 9) & (pred[:, 1] < hb - 9)
    pa = pa[inside]
    if len(pa) < 8:
        return None
    ha, wa = gray_a.shape
    warped = cv2.warpPerspective(gray_b, np.asarray(H, np.float64), (wa, ha), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
    # after the warp the residual motion is about a pixel: one pyramid level is enough
    lk = dict(winSize=(15, 15), maxLevel=1, criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.01))
    q, st, _ = cv2.calcOpticalFlowPyrLK(gray_a, warped, pa.reshape(-1, 1, 2), None, **lk)
    back, st2, _ = cv2.calcOpticalFlowPyrLK(warped, gray_a, q, pa.reshape(-1, 1, 2).copy(),
                                            flags=cv2.OPTFLOW_USE_INITIAL_FLOW, **lk)
    ok = st.ravel().astype(bool) & st2.ravel().astype(bool) & (np.linalg.norm(back.reshape(-1, 2) - pa, axis=1) < 0.5)
    pa, pb = pa[ok], project(H, q.reshape(-1, 2)[ok]).astype(np.float32)
    if len(pa) < 8:
        return None
    H2, inl = fit_homography(pa, pb, method="usac_magsac" if "usac_magsac" in _homography_methods() else "ransac",
                             threshold=threshold)
    if H2 is None or inl.sum() < 8:
        return None
    # least-squares polish on the inliers (the robust fit's model comes from a minimal sample)
    H3, _ = cv2.findHomography(pa[inl], pb[inl], 0)
    return (H3 if H3 is not None else H2), pa[inl], pb[inl]


@dataclass
class Alignment:
    """Result of :func:`align`. ``homography`` maps ``a`` → ``b``; ``corners`` are ``a``'s
    frame corners in ``b`` (x, y); ``reprojection_error`` is the mean distance (px) in
    ``b`` between projected and matched inlier points (median in ``reprojection_median``),
    measured on the refinement's tracked points when ``refined``. ``extra`` holds
    ``refine_points``, ``coverage`` (area of the points' convex hull / area of ``a``) and
    ``model``: ``homography``, or ``similarity`` when the coverage is below
    ``min_coverage`` (a homography fitted to a small patch extrapolates badly).
    ``ok`` False (with ``reason``) when the images could not be aligned."""

    ok: bool
    reason: str
    detector: str
    method: str
    keypoints_a: int
    keypoints_b: int
    matches: int
    inliers: int
    inlier_ratio: float
    reprojection_error: float | None
    reprojection_median: float | None
    refined: bool
    homography: list[list[float]] | None
    corners: list[list[float]] | None
    size_a: tuple[int, int]
    size_b: tuple[int, int]
    ms: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def H(self) -> np.ndarray | None:
        return None if self.homography is None else np.asarray(self.homography, np.float64)

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


def align(a: np.ndarray, b: np.ndarray, options: AlignOptions | None = None, *, strict: bool = True,
          mask_a: np.ndarray | None = None) -> Alignment:
    """Homography from ``a`` to ``b`` (see module docstring). Images may differ in size.

    ``strict``: raise :class:`AlignmentError` when the images cannot be aligned (too few
    keypoints — e.g. a textureless frame —, too few matches or inliers, degenerate fit);
    with ``strict=False`` the :class:`Alignment` comes back with ``ok=False`` and a reason."""
    import cv2

    o = options or AlignOptions()
    t0 = time.perf_counter()
    ga, gb = to_grey(a, "A"), to_grey(b, "B")
    fa = detect(ga, o.detector, max_features=o.max_features, mask=mask_a, name="A")
    fb = detect(gb, o.detector, max_features=o.max_features, name="B")
    base = dict(detector=fa.detector, method=o.method, keypoints_a=len(fa), keypoints_b=len(fb),
                size_a=(ga.shape[1], ga.shape[0]), size_b=(gb.shape[1], gb.shape[0]))

    def fail(reason: str, **kw: Any) -> Alignment:
        out = Alignment(ok=False, reason=reason, matches=kw.get("matches", 0), inliers=kw.get("inliers", 0),
                        inlier_ratio=0.0, reprojection_error=None, reprojection_median=None, refined=False,
                        homography=None, corners=None, ms=(time.perf_counter() - t0) * 1e3, **base)
        if strict:
            raise AlignmentError(reason)
        return out

    for nm, f in (("A", fa), ("B", fb)):
        if len(f) < 4:
            return fail(f"too few keypoints in {nm} ({len(f)} found, at least 4 needed): the frame is "
                        "textureless or too small; try --detector sift or a frame with more detail")
    pa, pb = match(fa, fb, ratio=o.ratio)
    if len(pa) < 4:
        return fail(f"only {len(pa)} keypoint matches passed the ratio test (at least 4 needed): the "
                    "images show different content, or raise --ratio", matches=len(pa))
    H, inl = fit_homography(pa, pb, method=o.method, threshold=o.threshold)
    n_inl = int(inl.sum())
    if H is None or n_inl < max(4, o.min_inliers) or not is_plausible(H, ga.shape, gb.shape):
        return fail(f"no consistent homography: {n_inl} inliers of {len(pa)} matches "
                    f"(at least {max(4, o.min_inliers)} needed) — different content or a non-planar change",
                    matches=len(pa), inliers=n_inl)
    ia, ib = pa[inl], pb[inl]
    refined, refine_pts = False, 0
    if o.refine:
        # the robust fit's inlier keypoints are corners already: refine those (no new detection)
        pick = ia if len(ia) <= o.refine_points else ia[np.linspace(0, len(ia) - 1, o.refine_points).astype(int)]
        r = refine_homography(ga, gb, H, points=pick)
        # keep the refinement only where it is supported as widely as the robust fit and agrees
        # with its inliers (corners of a small textured patch would extrapolate badly)
        if r is not None and is_plausible(r[0], ga.shape, gb.shape) and \
                hull_area(r[1]) >= 0.5 * hull_area(ia) and \
                np.median(np.linalg.norm(project(r[0], ia) - ib, axis=1)) <= \
                np.median(np.linalg.norm(project(H, ia) - ib, axis=1)) + 0.5:
            H, ia, ib = r
            refined, refine_pts = True, len(r[1])
    coverage = hull_area(ia) / float(ga.shape[0] * ga.shape[1])
    model = "homography"
    if coverage < o.min_coverage:
        M, _ = cv2.estimateAffinePartial2D(ia, ib, method=cv2.RANSAC, ransacReprojThreshold=1.0)
        if M is not None and np.isfinite(M).all():
            H, model = np.vstack([M, [0.0, 0.0, 1.0]]), "similarity"
    err = np.linalg.norm(project(H, ia) - ib, axis=1)
    H = H / H[2, 2]
    return Alignment(ok=True, reason="", matches=len(pa), inliers=n_inl, inlier_ratio=n_inl / len(pa),
                     reprojection_error=float(err.mean()), reprojection_median=float(np.median(err)),
                     refined=refined, homography=H.tolist(), corners=project(H, image_corners(ga.shape)).tolist(),
                     ms=(time.perf_counter() - t0) * 1e3,
                     extra={"model": model, "refine_points": refine_pts, "coverage": coverage},
                     **base)


def hull_area(pts: np.ndarray) -> float:
    """Area (px²) of the convex hull of (N, 2) points (0 for fewer than 3)."""
    import cv2

    if len(pts) < 3:
        return 0.0
    return float(cv2.contourArea(cv2.convexHull(np.asarray(pts, np.float32).reshape(-1, 1, 2))))


def overlay(a: np.ndarray, b: np.ndarray, H: np.ndarray) -> np.ndarray:
    """RGB ``uint8`` overlay in ``b``'s frame: red and blue = ``a`` warped by ``H``, green =
    ``b``. Where the alignment is right the result is grey; misalignment shows as magenta
    and green fringes. ``a``'s frame outline is drawn in yellow."""
    import cv2

    ga, gb = to_grey(a, "A"), to_grey(b, "B")
    h, w = gb.shape
    warped = cv2.warpPerspective(ga, np.asarray(H, np.float64), (w, h), flags=cv2.INTER_LINEAR)
    out = np.stack([warped, gb, warped], axis=2)
    quad = project(H, image_corners(ga.shape)).round().astype(np.int32).reshape(-1, 1, 2)
    cv2.polylines(out, [quad], True, (255, 255, 0), max(1, round(max(h, w) / 400)), cv2.LINE_AA)
    return out


def random_homography(shape: tuple[int, ...], rng: np.random.Generator, *, strength: float = 0.08) -> np.ndarray:
    """A random perspective warp of an image of ``shape``: each corner moves by up to
    ``strength`` × the image size in x and y (for tests and benchmarks)."""
    import cv2

    h, w = shape[:2]
    src = image_corners(shape).astype(np.float32)
    dst = src + rng.uniform(-strength, strength, (4, 2)).astype(np.float32) * np.float32([w, h])
    return cv2.getPerspectiveTransform(src, dst)


def corner_error(H_est: np.ndarray, H_true: np.ndarray, shape: tuple[int, ...]) -> float:
    """Mean distance (px) between the image corners mapped by two homographies."""
    c = image_corners(shape)
    return float(np.linalg.norm(project(H_est, c) - project(H_true, c), axis=1).mean())
