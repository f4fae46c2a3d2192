"""The encoder registry: names, folder kinds, caching, errors."""

from __future__ import annotations

import numpy as np
import pytest

from kadr import features
from kadr.errors import InputError, ShapeError, UnknownNameError


def test_names_list_every_encoder():
    assert features.names() == ["clip:PATH", "dhash", "dinov2:PATH", "effnet-lite0", "effnet-lite1", "effnet-lite2",
                                "hog", "hsv-hist", "minilm", "phash", "siglip:PATH"]


def test_unknown_name_lists_the_choices():
    with pytest.raises(UnknownNameError) as err:
        features.get("resnet50")
    assert "effnet-lite0" in str(err.value) and "clip:PATH" in str(err.value)


def test_folder_kinds_need_a_folder_and_plain_kinds_refuse_one(tmp_path):
    with pytest.raises(InputError, match="needs a model folder"):
        features.get("clip")
    with pytest.raises(InputError, match="takes no folder"):
        features.get(f"hog:{tmp_path}")


def test_get_caches_per_name_and_options():
    a = features.get("hog")
    assert features.get("HOG") is a
    b = features.get("hog", cell=8)
    assert b is not a and b.dim > a.dim
    assert features.get("hog", cache=False) is not a
    assert features.get(a) is a


def test_mismatched_dimensions_are_a_clear_error():
    x = features.get("phash").encode_images([np.zeros((16, 16, 3), np.uint8)])
    y = features.get("hsv-hist").encode_images([np.zeros((16, 16, 3), np.uint8)])
    with pytest.raises(ShapeError, match="dimension 64 but .* have 256"):
        features.pairwise_cosine(x, y)
    assert features.pairwise_cosine(x, x)[0, 0] == pytest.approx(1.0)


def test_empty_input_gives_an_empty_block():
    enc = features.get("dhash")
    assert enc.encode_images([]).shape == (0, 64)
    with pytest.raises(InputError):
        enc.encode_images([np.zeros((4, 4, 3), np.uint8)], batch_size=0)
