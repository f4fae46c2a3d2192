"""Image checks and the resizing every encoder shares.

Encoders take RGB arrays of shape (H, W, 3) of any size (what :func:`kadr.io.load_image`
returns). ``uint8`` is used as is; ``uint16`` (16-bit PNG/TIFF) is mapped to 8 bit by
``round(v / 257)`` (65535 → 255, 257 → 1: the linear map that sends full scale to full
scale). Greyscale (H, W) arrays are replicated to three channels. Floats are rejected:
kadr never guesses a value range (convert with ``(x * 255).round().astype(np.uint8)``).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from kadr._compat import deprecated_alias
from kadr.errors import DataRangeError, InputError, ShapeError


def as_rgb_uint8(image: np.ndarray, name: str = "image") -> np.ndarray:
    """Check an encoder input and return it as contiguous RGB ``uint8`` (H, W, 3)."""
    if not isinstance(image, np.ndarray):
        raise InputError(f"{name} must be a numpy array (H, W, 3) RGB, got {type(image).__name__}; "
                         "load files with kadr.io.load_image")
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ShapeError(f"{name} must have shape (H, W, 3) RGB, got {tuple(image.shape)}; "
                         "kadr.io.load_image converts grey, RGBA and palette images")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ShapeError(f"{name} is empty (shape {tuple(image.shape)})")
    if image.dtype == np.uint8:
        return np.ascontiguousarray(image)
    if image.dtype == np.uint16:
        return ((image.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    if image.dtype.kind == "f":
        raise DataRangeError(f"{name} is floating point ({image.dtype}); encoders take uint8 or uint16 RGB. "
                             "Convert with (x * 255).round().astype(np.uint8) for values in [0, 1]")
    raise InputError(f"{name} has dtype {image.dtype}; encoders take uint8 or uint16 RGB")


def centre_crop_resize(image: np.ndarray, size: int, *, resample: int = Image.BICUBIC) -> np.ndarray:
    """Resize the short side to ``size`` and take the centre ``size`` x ``size`` square.

    Done in one PIL call: the centred square of side min(H, W) is resampled to
    ``size`` (bicubic, antialiased when shrinking), which equals "short side to ``size``,
    then centre crop" without rounding the long side first. Returns uint8 (size, size, 3).
    """
    img = as_rgb_uint8(image)
    h, w = img.shape[:2]
    if h == w == size:
        return img
    s = min(h, w)
    left, top = (w - s) / 2.0, (h - s) / 2.0
    pil = Image.fromarray(img)
    out = pil.resize((size, size), resample, box=(left, top, left + s, top + s))
    return np.asarray(out)


def resize_to(image: np.ndarray, size: tuple[int, int], *, resample: int = Image.BILINEAR) -> np.ndarray:
    """Resize the whole image to exactly (width, height) (aspect not kept). uint8 RGB out."""
    img = as_rgb_uint8(image)
    if img.shape[1] == size[0] and img.shape[0] == size[1]:
        return img
    return np.asarray(Image.fromarray(img).resize(size, resample))


def shrink_to(image: np.ndarray, longest: int) -> np.ndarray:
    """Downscale (area filter) so the longest side is at most ``longest``; never upscales."""
    img = as_rgb_uint8(image)
    h, w = img.shape[:2]
    scale = longest / max(h, w)
    if scale >= 1:
        return img
    import cv2

    return cv2.resize(img, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


center_crop_resize = deprecated_alias(centre_crop_resize, "center_crop_resize")
