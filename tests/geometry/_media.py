"""Media shared by the geometry tests (made on the fly, no files needed)."""

from __future__ import annotations

import numpy as np


def moving_patch_frames(n: int = 200, size: tuple[int, int] = (320, 240), *, hide: range = range(0), seed: int = 1):
    """Frames of a textured patch (a crop of skimage's 'chelsea') moving along a sine path,
    turning 90° and growing 30 % over a darkened 'brick' background, with sensor noise;
    frames in ``hide`` show the background only. Returns (frames, true OrientedBoxes)."""
    import cv2

    from kadr.geometry.tracking import OrientedBox
    from kadr.io.synthetic import sample_photo

    w, h = size
    rng = np.random.default_rng(seed)
    bg = (cv2.resize(sample_photo("brick"), size) * 0.6).astype(np.uint8)
    patch = cv2.resize(sample_photo("chelsea")[50:250, 100:380], (70, 50))
    src = np.float32([[0, 0], [70, 0], [70, 50]])
    frames, boxes = [], []
    for i in range(n):
        t = i / n
        s = 1.0 + 0.3 * t
        box = OrientedBox(80 + 160 * t, h / 2 + 50 * np.sin(2 * np.pi * t), 70 * s, 50 * s, 90 * t)
        M = cv2.getAffineTransform(src, box.corners()[:3].astype(np.float32))
        warped = cv2.warpAffine(patch, M, size)
        inside = cv2.warpAffine(np.full((50, 70), 255, np.uint8), M, size)[..., None] > 127
        img = bg if i in hide else np.where(inside, warped, bg)
        frames.append(np.clip(img + rng.normal(0, 2, img.shape), 0, 255).astype(np.uint8))
        boxes.append(box)
    return frames, boxes


def photos_640() -> dict[str, np.ndarray]:
    """Three scikit-image photos resized to 640x480."""
    import cv2

    from kadr.io.synthetic import sample_photo

    return {name: cv2.resize(sample_photo(name), (640, 480), interpolation=cv2.INTER_AREA)
            for name in ("astronaut", "coffee", "chelsea")}


def jpeg(img: np.ndarray, quality: int = 80) -> np.ndarray:
    """``img`` after a JPEG round trip (OpenCV encoder)."""
    import cv2

    ok, enc = cv2.imencode(".jpg", np.ascontiguousarray(img[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
    return np.ascontiguousarray(cv2.imdecode(enc, cv2.IMREAD_COLOR)[..., ::-1])
