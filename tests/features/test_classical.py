"""Classical encoders against independent references: OpenCV, scikit-image, formulas."""

from __future__ import annotations

import numpy as np
import pytest

from kadr import features
from kadr.errors import InputError, ShapeError
from kadr.features.hog import hog
from kadr.features.hsv_hist import compare_histograms, hsv_histogram
from kadr.features.phash import hamming, hash_bits, to_hex


@pytest.fixture(scope="module")
def small(photos):
    """Photos shrunk below 256 px (the histogram's analysis size), so no resampling happens."""
    return {k: v[::3, ::3] for k, v in photos.items()}


def test_hsv_histogram_matches_a_numpy_count(small):
    import cv2

    img = small["coffee"]
    bins = (8, 3, 5)
    h = hsv_histogram(img, bins)
    hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV).reshape(-1, 3)
    # reference: np.histogramdd over OpenCV's HSV ranges H [0, 180), S and V [0, 256)
    ref, _ = np.histogramdd(hsv.astype(float), bins=bins, range=[(0, 180), (0, 256), (0, 256)])
    np.testing.assert_allclose(h, (ref / ref.sum()).ravel(), atol=1e-7)
    assert h.shape == (120,) and abs(h.sum() - 1) < 1e-6


@pytest.mark.parametrize("method,flag", [("correlation", 0), ("chi-square", 1), ("intersection", 2),
                                         ("bhattacharyya", 3)])
def test_histogram_comparisons_match_opencv(small, method, flag):
    import cv2

    # cv2.HISTCMP_CORREL = 0, HISTCMP_CHISQR = 1, HISTCMP_INTERSECT = 2, HISTCMP_BHATTACHARYYA = 3
    a, b = hsv_histogram(small["coffee"]), hsv_histogram(small["chelsea"])
    for x, y in ((a, b), (b, a), (a, a)):
        ref = cv2.compareHist(x.astype(np.float32), y.astype(np.float32), flag)
        assert compare_histograms(x, y, method) == pytest.approx(ref, rel=1e-4, abs=1e-6)


def test_hsv_embedding_dot_is_bhattacharyya_coefficient(small):
    enc = features.get("hsv-hist")
    a, b = small["rocket"], small["astronaut"]
    e = enc.encode_images([a, b])
    ha, hb = enc.histograms([a, b])
    assert float(e[0] @ e[1]) == pytest.approx(float(np.sqrt(ha * hb).sum()), abs=1e-5)
    with pytest.raises(InputError):
        compare_histograms(ha, hb, "euclid")
    with pytest.raises(ShapeError):
        compare_histograms(ha, hb[:10])
    with pytest.raises(InputError):
        features.get("hsv-hist", h_bins=0)


@pytest.mark.parametrize("cell,block,bins", [(8, 2, 9), (6, 3, 12)])
def test_hog_matches_scikit_image(small, cell, block, bins):
    from skimage.feature import hog as sk_hog

    img = small["motorcycle"]
    ours = hog(img, cell=cell, block=block, bins=bins)
    ref = sk_hog(img, orientations=bins, pixels_per_cell=(cell, cell), cells_per_block=(block, block),
                 block_norm="L2-Hys", channel_axis=-1, feature_vector=True)
    assert ours.shape == ref.shape
    # same arithmetic, so only float32 output rounding is left (angles are binned in float64, as
    # scikit-image does: float32 atan2 put 45-degree pixels below the 12-bin edge at 45)
    np.testing.assert_allclose(ours, ref, atol=1e-6)
    grey = img[..., 1]
    np.testing.assert_allclose(hog(grey, cell=cell, block=block, bins=bins),
                               sk_hog(grey, orientations=bins, pixels_per_cell=(cell, cell),
                                      cells_per_block=(block, block), block_norm="L2-Hys"), atol=1e-6)


@pytest.mark.parametrize("sign,edge", [(1, 3), (-1, 9)])
def test_hog_angle_on_a_bin_edge_goes_to_the_upper_bin(sign, edge):
    # f = x + y has gx = gy = 2: angle exactly 45 degrees; f = x - y: -45 = 135 mod 180.
    # With 12 bins of 15 degrees, floor(45 / 15) = 3 and floor(135 / 15) = 9 (Dalal & Triggs hard
    # binning; skimage's cell_hog tests start <= angle < end, the same rule).
    yy, xx = np.mgrid[:24, :24]
    img = (xx + sign * yy + 30).astype(np.uint8)
    cells = hog(img, cell=6, block=1, bins=12).reshape(4, 4, 12)[1:3, 1:3].reshape(-1, 12)  # off the border
    assert (cells[:, edge] > 0).all()
    assert np.delete(cells, edge, axis=1).max() == 0


def test_hog_gradient_is_centred_difference():
    from kadr.features.hog import gradients

    ramp = np.tile(np.arange(10, dtype=np.float32) ** 2, (5, 1))  # f(x) = x^2
    gy, gx = gradients(ramp)
    # [-1, 0, 1]: f(x+1) - f(x-1) = 4x; borders 0
    np.testing.assert_array_equal(gx[2, 1:-1], 4 * np.arange(1, 9))
    assert (gx[:, [0, -1]] == 0).all() and (gy == 0).all()


def test_hog_encoder_dim_and_errors(small):
    enc = features.get("hog")
    assert enc.dim == 7 * 7 * 2 * 2 * 9  # 128 px / 16 px cells = 8 cells, 7 blocks per side
    e = enc.encode_images([small["rocket"], small["coffee"]])
    assert e.shape == (2, enc.dim)
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1, atol=1e-5)
    with pytest.raises(ShapeError, match="too small"):
        hog(np.zeros((10, 10)), cell=8, block=2)
    with pytest.raises(InputError):
        hog(np.zeros((64, 64)), cell=0)


def _phash_reference(img: np.ndarray) -> np.ndarray:
    """pHash transcribed (Zauner 2010 / imagehash.phash): grey, 32x32 Lanczos, 2-D DCT-II,
    top-left 8x8 block, bit = coefficient > median."""
    from PIL import Image
    from scipy.fft import dct

    g = np.asarray(Image.fromarray(img).convert("L").resize((32, 32), Image.LANCZOS), float)
    d = dct(dct(g, axis=0), axis=1)[:8, :8]
    return (d > np.median(d)).ravel()


def _dhash_reference(img: np.ndarray) -> np.ndarray:
    """dHash transcribed (Krawetz 2013 / imagehash.dhash): grey 9x8, bit = right pixel brighter."""
    from PIL import Image

    g = np.asarray(Image.fromarray(img).convert("L").resize((9, 8), Image.LANCZOS), float)
    return (g[:, 1:] > g[:, :-1]).ravel()


def test_hashes_match_transcribed_algorithms(small):
    imgs = [small["chelsea"], small["rocket"], small["astronaut"]]
    np.testing.assert_array_equal(hash_bits(imgs, "phash"), np.stack([_phash_reference(i) for i in imgs]))
    np.testing.assert_array_equal(hash_bits(imgs, "dhash"), np.stack([_dhash_reference(i) for i in imgs]))


def test_hex_and_hamming_agree_with_imagehash(small):
    import imagehash
    from PIL import Image

    a, b = small["chelsea"], small["coffee"]
    bits = hash_bits([a, b], "phash")
    ha, hb = (imagehash.phash(Image.fromarray(x)) for x in (a, b))
    assert to_hex(bits) == [str(ha), str(hb)]
    assert hamming(bits[:1], bits[1:])[0, 0] == ha - hb  # imagehash's "-" is the Hamming distance


def test_hash_embedding_dot_is_one_minus_twice_normalised_hamming(small):
    enc = features.get("dhash")
    imgs = [small["chelsea"], small["coffee"], small["chelsea"][:, ::-1]]
    e = enc.encode_images(imgs)
    d = hamming(enc.hashes(imgs), enc.hashes(imgs))
    np.testing.assert_allclose(e @ e.T, 1 - 2 * d / 64, atol=1e-6)
    with pytest.raises(ShapeError):
        hamming(np.zeros((1, 64), bool), np.zeros((1, 16), bool))
