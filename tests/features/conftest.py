"""Fixtures of the encoder tests: scikit-image sample photos and encoders loaded once."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="session")
def chelsea() -> np.ndarray:
    from skimage import data

    return data.chelsea()  # 300 x 451 RGB photo of a tabby cat


@pytest.fixture(scope="session")
def photos() -> dict[str, np.ndarray]:
    """Colour sample photos of scikit-image (distinct sources)."""
    from skimage import data

    return {"astronaut": data.astronaut(), "chelsea": data.chelsea(), "coffee": data.coffee(),
            "rocket": data.rocket(), "motorcycle": data.stereo_motorcycle()[0],
            "immunohistochemistry": data.immunohistochemistry(), "hubble": data.hubble_deep_field(),
            "retina": data.retina(), "cat": data.cat(), "colorwheel": data.colorwheel()[..., :3]}


@pytest.fixture(scope="session")
def effnet():
    """The default effnet-lite0 (onnxruntime when installed: the fast path users get)."""
    from kadr import features

    return features.get("effnet-lite0")


@pytest.fixture(scope="session")
def effnet_torch():
    from kadr.features.effnet import EffNetLite0

    return EffNetLite0(backend="torch")


@pytest.fixture(scope="session")
def effnet_onnx():
    pytest.importorskip("onnxruntime")
    from kadr.features.effnet import EffNetLite0

    return EffNetLite0(backend="onnx")
