"""HSV colour histogram: a classical, training-free global colour descriptor.

Swain & Ballard, "Color indexing", IJCV 1991 (histogram intersection); the HSV variant
as in OpenCV's histogram-comparison tutorial. The image (shrunk to at most 256 px on
the longest side, area filter — the histogram of a shrunk image is the same up to
resampling noise) is converted to HSV (OpenCV convention: H in [0, 180), S, V in
[0, 256)) and counted into ``h_bins x s_bins x v_bins`` equal bins; the histogram is
divided by the pixel count so it sums to 1.

The embedding is the element-wise square root of that histogram (the Hellinger map),
which has unit L2 norm; the dot product of two embeddings is therefore the
Bhattacharyya coefficient sum_i sqrt(h1_i h2_i) in [0, 1].

:func:`compare_histograms` gives the four classic comparisons with OpenCV's formulas
(``cv2.compareHist`` documentation): correlation, chi-square, intersection and
Bhattacharyya distance.
"""

from __future__ import annotations


import numpy as np

from kadr.errors import InputError
from kadr.features.base import Encoder, check_same_dim
from kadr.features.preprocess import as_rgb_uint8, shrink_to

#: Longest side the image is shrunk to before counting.
ANALYSIS_SIDE = 256
COMPARISONS = ("correlation", "chi-square", "intersection", "bhattacharyya")


#: Hue, saturation and value bins (hue spans 0..180 in OpenCV units): hue carries most of a
#: shot's colour identity, so it gets the most bins; 16 x 4 x 4 = 256 dimensions.
HSV_BINS: tuple[int, int, int] = (16, 4, 4)


def hsv_histogram(image: np.ndarray, bins: tuple[int, int, int] = HSV_BINS) -> np.ndarray:
    """Normalised HSV histogram of an RGB image: float32 (h*s*v,), sums to 1 (H-major order)."""
    import cv2

    if len(bins) != 3 or any(int(b) != b or b < 1 or b > 256 for b in bins):
        raise InputError(f"bins must be three integers in 1..256 (hue, saturation, value), got {bins!r}")
    hsv = cv2.cvtColor(shrink_to(as_rgb_uint8(image), ANALYSIS_SIDE), cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1, 2], None, [int(b) for b in bins], [0, 180, 0, 256, 0, 256])
    hist = hist.ravel().astype(np.float64)
    return (hist / hist.sum()).astype(np.float32)


def compare_histograms(h1: np.ndarray, h2: np.ndarray, method: str = "correlation") -> float:
    """Compare two histograms with OpenCV's formulas (N = number of bins):

    * ``correlation``: sum (h1-m1)(h2-m2) / sqrt(sum (h1-m1)^2 sum (h2-m2)^2), m = mean; 1 = identical
    * ``chi-square``: sum over h1_i != 0 of (h1_i - h2_i)^2 / h1_i; 0 = identical
    * ``intersection``: sum min(h1_i, h2_i); 1 = identical for histograms summing to 1
    * ``bhattacharyya``: sqrt(1 - sum sqrt(h1_i h2_i) / sqrt(m1 m2 N^2)); 0 = identical
    """
    a = np.asarray(h1, np.float64).ravel()
    b = np.asarray(h2, np.float64).ravel()
    check_same_dim(a, b, ("the first histogram", "the second histogram"))
    if method == "correlation":
        da, db = a - a.mean(), b - b.mean()
        den = np.sqrt((da * da).sum() * (db * db).sum())
        return float((da * db).sum() / den) if den > 0 else 1.0
    if method == "chi-square":
        nz = a != 0
        return float((((a - b) ** 2)[nz] / a[nz]).sum())
    if method == "intersection":
        return float(np.minimum(a, b).sum())
    if method == "bhattacharyya":
        den = np.sqrt(a.mean() * b.mean()) * a.size
        bc = np.sqrt(a * b).sum() / den if den > 0 else 0.0
        return float(np.sqrt(max(0.0, 1.0 - bc)))
    raise InputError(f"method must be one of {', '.join(COMPARISONS)}; got {method!r}")


class HsvHist(Encoder):
    """``hsv-hist``: Hellinger-mapped HSV histogram (dot product = Bhattacharyya coefficient)."""

    name = "hsv-hist"
    default_batch_size = 64

    def __init__(self, h_bins: int = HSV_BINS[0], s_bins: int = HSV_BINS[1], v_bins: int = HSV_BINS[2]):
        self.bins = (h_bins, s_bins, v_bins)
        hsv_histogram(np.zeros((1, 1, 3), np.uint8), self.bins)  # validates the bins
        self.dim = int(np.prod(self.bins))

    def prepare(self, image: np.ndarray) -> np.ndarray:
        return shrink_to(image, ANALYSIS_SIDE)

    def histograms(self, images) -> np.ndarray:
        """Raw normalised histograms (N, dim), each summing to 1 (for :func:`compare_histograms`)."""
        hists = [hsv_histogram(im, self.bins) for im in images]
        return np.stack(hists) if hists else np.zeros((0, self.dim), np.float32)

    def _encode_batch(self, images: list[np.ndarray]) -> np.ndarray:
        return np.sqrt(self.histograms(images))
