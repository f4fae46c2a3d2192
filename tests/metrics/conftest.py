"""Shared images for the metric tests: scikit-image sample photos with distortions."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image


def jpeg(img: np.ndarray, quality: int = 20) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())))


def noisy(img: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(img + rng.normal(0, sigma, img.shape), 0, 255).astype(np.uint8)


def blurred(img: np.ndarray, sigma: float = 2.0) -> np.ndarray:
    import cv2

    return cv2.GaussianBlur(img, (0, 0), sigma)


@pytest.fixture(scope="session")
def photos() -> dict[str, np.ndarray]:
    """Crops of scikit-image sample images (uint8), grey and colour, kept small for speed."""
    from skimage import data

    return {
        "camera": data.camera()[100:292, 140:332],
        "moon": data.moon()[:120, :200],
        "astronaut": data.astronaut()[:160, 160:352],
        "coffee": data.coffee()[50:210, 150:350],
    }


@pytest.fixture(scope="session")
def distorted(photos) -> list[tuple[str, np.ndarray, np.ndarray]]:
    out = []
    for name, img in photos.items():
        out.append((f"{name}-noise", img, noisy(img, 25)))
        out.append((f"{name}-blur", img, blurred(img)))
        out.append((f"{name}-jpeg", img, jpeg(img)))
    return out
