"""HOG, histograms of oriented gradients (Dalal & Triggs, CVPR 2005), as a global descriptor.

Steps, as the survey describes them:

1. gradients with the centred 1-D kernel [-1, 0, 1] in x and y (no smoothing), per
   colour channel; at each pixel the channel with the largest magnitude is kept;
2. magnitude m = sqrt(gx^2 + gy^2) and unsigned angle a = atan2(gy, gx) mod 180 degrees;
3. cells of ``cell`` x ``cell`` pixels: each pixel adds its magnitude to the bin
   floor(a / (180 / bins)) of its cell; the cell histogram is divided by the cell area;
4. overlapping blocks of ``block`` x ``block`` cells (stride one cell), each normalised
   with L2-Hys: v / sqrt(|v|^2 + eps^2), clipped at 0.2, normalised again (eps = 1e-5);
5. all block vectors concatenated (block-row, block-col, cell-row, cell-col, bin order).

This is the layout and arithmetic of ``skimage.feature.hog(..., block_norm="L2-Hys")``
(hard binning, no Gaussian block window), which the tests use as the reference.
The encoder first resizes the whole image to ``size`` x ``size`` (bilinear) so that every
image gives the same dimension: (size/cell - block + 1)^2 * block^2 * bins
(128, 16, 2, 9 → 1764).
"""

from __future__ import annotations


import numpy as np

from kadr.errors import InputError, ShapeError
from kadr.features.base import Encoder
from kadr.features.preprocess import resize_to

EPS = 1e-5
CLIP = 0.2


#: The encoder's square input side (px): images are resized to HOG_SIZE x HOG_SIZE first.
HOG_SIZE = 128
#: Cell side (px). Dalal & Triggs (and scikit-image's default) use 8-px cells on 64x128
#: pedestrian windows; on the 128-px square a 16-px cell gives an 8x8 grid of cells, a coarse
#: layout descriptor of 1764 dimensions that stays cheap to compare.
HOG_CELL = 16
#: Block side in cells (overlapping blocks, stride one cell) and unsigned orientation bins:
#: Dalal & Triggs's best values (2x2 cells, 9 bins over 0..180 degrees).
HOG_BLOCK = 2
HOG_BINS = 9


def gradients(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[-1, 0, 1] gradients (gy, gx) of a (H, W) or (H, W, C) float image; border pixels 0.
    For colour input the channel of largest magnitude is kept per pixel."""
    img = np.asarray(image, np.float32)
    if img.ndim == 2:
        img = img[:, :, None]
    gy = np.zeros_like(img)
    gx = np.zeros_like(img)
    gy[1:-1] = img[2:] - img[:-2]
    gx[:, 1:-1] = img[:, 2:] - img[:, :-2]
    if img.shape[2] == 1:
        return gy[:, :, 0], gx[:, :, 0]
    best = np.argmax(gy * gy + gx * gx, axis=2)[:, :, None]
    return np.take_along_axis(gy, best, 2)[:, :, 0], np.take_along_axis(gx, best, 2)[:, :, 0]


def hog(image: np.ndarray, *, cell: int = HOG_CELL, block: int = HOG_BLOCK, bins: int = HOG_BINS) -> np.ndarray:
    """HOG descriptor of a (H, W) or (H, W, C) image (any numeric dtype): float32 1-D vector of
    length n_blocks_y * n_blocks_x * block^2 * bins, n_blocks = floor(side / cell) - block + 1."""
    for v, n in ((cell, "cell"), (block, "block"), (bins, "bins")):
        if int(v) != v or v < 1:
            raise InputError(f"{n} must be an integer >= 1, got {v!r}")
    img = np.asarray(image)
    if img.ndim not in (2, 3):
        raise ShapeError(f"image must be (H, W) or (H, W, C), got shape {img.shape}")
    ncy, ncx = img.shape[0] // cell, img.shape[1] // cell
    if ncy < block or ncx < block:
        raise ShapeError(f"image {img.shape[1]}x{img.shape[0]} is too small for {block}x{block} blocks of "
                         f"{cell}-pixel cells; use a larger image or smaller cell/block")
    gy, gx = gradients(img)
    # float64 on purpose: integer gradients put many angles exactly on a bin edge (45 and 135
    # degrees are edges for 12 bins), and float32 atan2 (numpy >= 2 SIMD) returns 44.999996 for
    # atan2(k, k), which would drop the pixel into the bin below the mathematically correct one.
    gy64, gx64 = gy.astype(np.float64), gx.astype(np.float64)
    mag = np.hypot(gy64, gx64)
    ang = np.rad2deg(np.arctan2(gy64, gx64)) % 180.0
    b = np.minimum((ang / (180.0 / bins)).astype(np.int64), bins - 1)
    h, w = ncy * cell, ncx * cell
    rows = (np.arange(h) // cell)[:, None]
    cols = (np.arange(w) // cell)[None, :]
    idx = (rows * ncx + cols) * bins + b[:h, :w]
    hist = np.bincount(idx.ravel(), weights=mag[:h, :w].ravel(), minlength=ncy * ncx * bins)
    hist = hist.reshape(ncy, ncx, bins) / (cell * cell)
    win = np.lib.stride_tricks.sliding_window_view(hist, (block, block), axis=(0, 1))  # (by, bx, bins, block, block)
    blocks = win.transpose(0, 1, 3, 4, 2).reshape(win.shape[0], win.shape[1], -1)
    blocks = blocks / np.sqrt((blocks ** 2).sum(-1, keepdims=True) + EPS ** 2)
    blocks = np.minimum(blocks, CLIP)
    blocks = blocks / np.sqrt((blocks ** 2).sum(-1, keepdims=True) + EPS ** 2)
    return blocks.ravel().astype(np.float32)


class Hog(Encoder):
    """``hog``: HOG of the image resized to a fixed square (a layout/edge descriptor)."""

    name = "hog"
    default_batch_size = 64

    def __init__(self, size: int = HOG_SIZE, cell: int = HOG_CELL, block: int = HOG_BLOCK, bins: int = HOG_BINS):
        self.size, self.cell, self.block, self.bins = int(size), int(cell), int(block), int(bins)
        self.dim = hog(np.zeros((self.size, self.size), np.uint8), cell=cell, block=block, bins=bins).size

    def prepare(self, image: np.ndarray) -> np.ndarray:
        return resize_to(image, (self.size, self.size))

    def _encode_batch(self, images: list[np.ndarray]) -> np.ndarray:
        return np.stack([hog(self.prepare(im), cell=self.cell, block=self.block, bins=self.bins) for im in images])
