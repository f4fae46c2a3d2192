"""The content-free rule on generated pictures: flat colours, cards with text, near-uniform
pictures, and real photos (bright and dimmed) that must keep counting as content."""

from __future__ import annotations

import numpy as np
import pytest

from kadr.errors import InputError
from kadr.features.content import ContentOptions, content_free, content_stats, is_content_free, is_solid
from kadr.io.synthetic import SAMPLE_PHOTOS, sample_photo


def _card(bg, fg, text="Copyright 2013 Someone", scale=0.6, size=(360, 640)):
    import cv2

    img = np.full((*size, 3), bg, np.uint8)
    cv2.putText(img, text, (40, size[0] - 40), cv2.FONT_HERSHEY_SIMPLEX, scale, fg, 1, cv2.LINE_AA)
    return img


@pytest.mark.parametrize("colour", [(0, 0, 0), (255, 255, 255), (128, 128, 128), (200, 30, 40)])
def test_flat_colours_are_solid(colour):
    img = np.full((120, 200, 3), colour, np.uint8)
    noisy = np.clip(img.astype(int) + np.random.default_rng(0).normal(0, 2, img.shape).round(), 0, 255).astype(np.uint8)
    assert content_free(img) == "solid" and content_free(noisy) == "solid"
    assert is_solid(img) and is_content_free(img)


def test_cards_with_a_line_of_text_are_title_cards():
    assert content_free(_card(0, (200, 200, 200))) == "title card"        # a black copyright card
    assert content_free(_card(255, (0, 0, 0), "THE END", 1.5)) == "title card"
    assert content_free(_card((20, 40, 160), (255, 255, 255), "Chapter 2", 1.0)) == "title card"


def test_near_uniform_without_text():
    img = np.full((180, 320, 3), 120, np.uint8)
    img[:, :24] = 160  # a soft band on 7.5 % of the picture, 40 levels: not solid, not text
    st = content_stats(img)
    assert st.background >= 0.9 and st.std >= ContentOptions().solid_std and st.text == 0
    assert content_free(img) == "near-uniform"


@pytest.mark.parametrize("name", SAMPLE_PHOTOS)
@pytest.mark.parametrize("gain", [1.0, 0.3])
def test_photos_have_content_also_when_dark(name, gain):
    img = (sample_photo(name).astype(np.float32) * gain).round().astype(np.uint8)
    assert content_free(img) is None, content_stats(img)


def test_title_card_on_a_photo_is_content():
    img = sample_photo("chelsea").copy()
    import cv2

    cv2.putText(img, "subtitle", (20, img.shape[0] - 20), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (255, 255, 255), 2)
    assert content_free(img) is None


def test_inputs_and_options():
    grey = np.full((50, 60), 3, np.uint8)  # greyscale
    assert content_free(grey) == "solid"
    assert content_free(np.full((20, 20, 3), 40000, np.uint16)) == "solid"
    with pytest.raises(InputError, match="value range"):
        content_free(np.zeros((10, 10, 3), np.float32))
    with pytest.raises(InputError, match="shape"):
        content_free(np.zeros((10, 10, 5), np.uint8))
    with pytest.raises(InputError, match="min_background"):
        ContentOptions(min_background=1.5)
    # a stricter background share lets a sparse card count as content
    assert content_free(_card(0, (200, 200, 200)), ContentOptions(min_background=0.999)) is None
