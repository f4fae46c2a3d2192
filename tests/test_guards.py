"""Python API guards found by the hostile sweep (issue 16): each bad input gives the typed
KadrError the rest of the API gives, never NaN, 0.0, [] or a raw cv2/AttributeError/OOM."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import kadr.metrics.functional as F
from kadr import features
from kadr.errors import InputError, ShapeError

RNG = np.random.default_rng(0)
X = RNG.random((20, 5))
XNAN = X.copy()
XNAN[3, 2] = np.nan


def test_cka_of_nan_input_is_an_error_not_zero():
    with pytest.raises(InputError, match="NaN"):
        F.cka(XNAN, X)
    with pytest.raises(InputError, match="NaN"):
        F.cka(torch.tensor(X), torch.tensor(XNAN))
    assert F.cka(X, X) == pytest.approx(1.0)  # CKA(X, X) = 1 (Kornblith et al. 2019, eq. 4)


def test_cosine_similarities_of_nan_embeddings_are_errors():
    with pytest.raises(InputError, match="NaN"):
        features.pairwise_cosine(np.array([np.nan, 1.0]), np.array([1.0, 1.0]))
    with pytest.warns(Warning, match="deprecated"), pytest.raises(InputError, match="NaN"):
        features.cosine_similarity(np.array([[1.0, np.inf]]), np.array([[1.0, 1.0]]))
    from kadr.metrics.streaming import CentredSimilarity

    with pytest.raises(InputError, match="NaN"):
        CentredSimilarity().score(np.array([[np.nan, 1.0, 2.0]]), RNG.random((4, 3)))
    with pytest.raises(InputError, match="NaN"):
        F.vit_score(np.full((4, 8), np.nan), RNG.random((4, 8)))


@pytest.mark.parametrize("shape", [(0, 0), (0, 12), (12, 0, 3)])
def test_ssim_of_empty_images_is_a_shape_error(shape):
    with pytest.raises(ShapeError, match="non-empty"):
        F.ssim(np.zeros(shape, np.uint8), np.zeros(shape, np.uint8))


def test_evaluate_needs_boundaries_not_dicts():
    from kadr.video.evaluate import Boundary, evaluate

    with pytest.raises(InputError, match="list of Boundary"):
        evaluate({}, {})
    with pytest.raises(InputError, match="Boundary"):
        evaluate([{"start": 1, "end": 1}], [Boundary(1, 1)])
    assert evaluate([Boundary(5, 5)], [Boundary(5, 5)]).all.tp_pred == 1


def test_gaussian_mask_refuses_a_size_that_is_not_a_frame():
    from kadr.geometry.boxes import gaussian_mask

    box = np.array([[5, 5, 4, 4, 0]], np.float32)
    with pytest.raises(InputError, match="megapixels"):
        gaussian_mask(box, size=(1e5, 1e5), cov="uniform")
    assert gaussian_mask(box, size=(10, 10), cov="uniform").shape == (1, 10, 10)


def test_torch_threads_are_set_once_not_around_every_call(monkeypatch):
    from kadr.features import runtime

    calls = []
    real = torch.set_num_threads
    monkeypatch.setattr(torch, "set_num_threads", lambda n: (calls.append(n), real(n)))
    monkeypatch.setattr(runtime, "_THREADS", __import__("threading").local())
    before = torch.get_num_threads()
    try:
        runner = runtime.TorchRunner(torch.nn.Conv2d(3, 4, 3), threads=1)
        for _ in range(5):
            (out,) = runner(np.zeros((1, 3, 8, 8), np.float32))
        assert out.shape == (1, 4, 6, 6)
        assert calls == ([1] if before != 1 else [])  # once, and never put back and forth
        assert torch.get_num_threads() == 1
    finally:
        real(before)
