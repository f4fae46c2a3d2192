"""Image loading: any common source → RGB ``uint8``/``uint16`` HxWx3, bit depth kept.

Rules (one place, documented in the README):

* EXIF orientation is applied (photos from phones come out upright).
* Greyscale is replicated to 3 channels; palette images are expanded.
* Alpha is composited over **black** (= premultiplied colour), so transparent pixels
  compare equal whatever RGB junk they hold.
* CMYK / YCbCr / LAB are converted to RGB by Pillow.
* 16-bit PNG / TIFF (grey or colour) stay ``uint16`` (0..65535); everything else is ``uint8``.
* Float arrays are rejected: kadr never guesses their value range.
"""

from __future__ import annotations

import io as _io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Union

import numpy as np
from PIL import Image, UnidentifiedImageError

from kadr._checks import check_file
from kadr.errors import DecodeError, InputError, KadrWarning
from kadr.io.files import IMAGE_EXTENSIONS, walk_files

#: BT.601 luma weights of R, G, B (ITU-R BT.601-7, section 2.5.1: E'Y = 0.299 E'R + 0.587 E'G
#: + 0.114 E'B), the weights OpenCV's ``cvtColor(RGB2GRAY)`` and PIL's ``convert("L")`` use.
LUMA_BT601: tuple[float, float, float] = (0.299, 0.587, 0.114)


def luma(rgb: np.ndarray, dtype: type = np.float32) -> np.ndarray:
    """BT.601 luma (:data:`LUMA_BT601`) of an RGB image (..., 3), in ``dtype``, same range as the input."""
    r, g, b = (dtype(w) for w in LUMA_BT601)
    return rgb[..., 0] * r + rgb[..., 1] * g + rgb[..., 2] * b


ImageSource = Union[str, os.PathLike, bytes, bytearray, np.ndarray, Image.Image]

_HIGH_DEPTH_MODES = {"I;16", "I;16B", "I;16L", "I;16N", "I", "F"}


@dataclass(frozen=True)
class ImageInfo:
    """What :func:`load_image` found: ``bit_depth`` 8 or 16, the original mode, orientation."""

    bit_depth: int
    source_mode: str
    width: int
    height: int
    exif_transposed: bool
    had_alpha: bool
    path: str | None = None
    #: (width, height) in the file when the image was decoded at reduced size (``max_side``)
    original_size: tuple[int, int] | None = None


#: Most pixels kadr decodes from one file: Pillow's own bomb limit (about 179 M). A header declaring more is
#: refused before decoding (a "decompression bomb": a few KB that would expand to GBs).
MAX_PIXELS = 2 * Image.MAX_IMAGE_PIXELS


def _reduce_for(img: Image.Image, max_side: int | None) -> Image.Image:
    """``img`` decoded at reduced size when its longest side is at least twice ``max_side``:
    JPEG through ``draft`` (the DCT decodes at 1/2, 1/4 or 1/8 scale, much less work and
    memory), other formats by an integer ``reduce`` (box filter) after decoding. The result
    stays >= ``max_side`` on its longest side, so a consumer that downsizes to ``max_side``
    sees the same picture, resampled once more."""
    if not max_side or max(img.size) < 2 * max_side:
        return img
    factor = max(img.size) // int(max_side)
    if img.format == "JPEG":
        img.draft(img.mode if img.mode in ("RGB", "L") else "RGB",
                  (img.size[0] // factor, img.size[1] // factor))
        factor = max(img.size) // int(max_side)
    if factor >= 2:
        img.load()
        img = img.reduce(factor)
    return img


def _to_rgb(arr: np.ndarray, name: str) -> tuple[np.ndarray, bool]:
    """HxW, HxWx1, HxWx3, HxWx4 integer array → HxWx3 (alpha composited over black)."""
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8) * 255
    if arr.dtype not in (np.uint8, np.uint16):
        if arr.dtype.kind == "f":
            raise InputError(
                f"{name} is a float array ({arr.dtype}); convert it to uint8 (0..255) or uint16 "
                "(0..65535) first — kadr never guesses the value range of floats"
            )
        raise InputError(f"{name} has dtype {arr.dtype}; expected uint8 or uint16")
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 2, 3, 4):
        raise InputError(f"{name} must be HxW, HxWx3 or HxWx4; got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InputError(f"{name} is empty (shape {arr.shape})")
    had_alpha = arr.shape[2] in (2, 4)
    if had_alpha:
        colour, alpha = arr[..., :-1], arr[..., -1:]
        maxv = np.iinfo(arr.dtype).max
        colour = (colour.astype(np.uint32) * alpha + maxv // 2) // maxv
        arr = colour.astype(arr.dtype)
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    return np.ascontiguousarray(arr), had_alpha


def _exif_orientation(img: Image.Image) -> int:
    try:
        return int(img.getexif().get(0x0112, 1) or 1)
    except Exception:  # broken EXIF must not make the image unreadable
        return 1


def _orient(arr: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation tag (1..8) to an HxWxC array."""
    ops = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: np.swapaxes(a, 0, 1),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: np.rot90(a, 1)[::-1],  # transverse
        8: lambda a: np.rot90(a, 1),
    }
    fn = ops.get(orientation)
    return np.ascontiguousarray(fn(arr)) if fn else arr


def _decode_16bit(data: bytes) -> np.ndarray | None:
    """Decode with OpenCV keeping depth; returns RGB(A) uint16 or None if not 16-bit."""
    import cv2

    buf = np.frombuffer(data, np.uint8)
    arr = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED | cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR)
    if arr is None or arr.dtype != np.uint16:
        return None
    if arr.ndim == 3 and arr.shape[2] == 3:
        arr = arr[..., ::-1]
    elif arr.ndim == 3 and arr.shape[2] == 4:
        arr = arr[..., [2, 1, 0, 3]]
    return arr


def _is_16bit(img: Image.Image, raw: bytes) -> bool:
    """True for 16-bit-per-sample PNG (IHDR bit depth) and TIFF (BitsPerSample)."""
    fmt = (img.format or "").upper()
    if fmt == "PNG":
        return len(raw) > 24 and raw[24] == 16
    if fmt == "TIFF":
        bits = getattr(img, "tag_v2", {}).get(258, (8,))
        bits = bits if isinstance(bits, tuple) else (bits,)
        return 16 in bits
    return False


def _from_pil(img: Image.Image, raw: bytes | None, name: str, *,
              orientation: int | None = None) -> tuple[np.ndarray, ImageInfo]:
    mode = img.mode
    orientation = _exif_orientation(img) if orientation is None else orientation
    arr16 = None
    if raw is not None and _is_16bit(img, raw):
        # Pillow reduces 48/64-bit PNG/TIFF to 8 bits; OpenCV keeps 16.
        arr16 = _decode_16bit(raw)
    if arr16 is not None:
        arr = arr16
    elif mode in _HIGH_DEPTH_MODES:
        a = np.asarray(img)
        if mode == "F":
            raise InputError(f"{name} is a 32-bit float image; convert it to 8 or 16 bits first")
        arr = np.clip(a, 0, 65535).astype(np.uint16)
    else:
        try:
            img.load()
        except (OSError, SyntaxError) as exc:
            raise DecodeError(f"cannot decode image {name}: {exc}") from None
        if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info):
            arr = np.asarray(img.convert("RGBA"))
        elif mode == "L":
            arr = np.asarray(img)
        else:
            arr = np.asarray(img.convert("RGB"))
    arr, had_alpha = _to_rgb(arr, name)
    arr = _orient(arr, orientation)
    info = ImageInfo(
        bit_depth=16 if arr.dtype == np.uint16 else 8, source_mode=mode, width=arr.shape[1],
        height=arr.shape[0], exif_transposed=orientation != 1, had_alpha=had_alpha,
    )
    return arr, info


def read_image(src: ImageSource, *, max_side: int | None = None) -> tuple[np.ndarray, ImageInfo]:
    """Like :func:`load_image` but also returns an :class:`ImageInfo` (bit depth etc.)."""
    if isinstance(src, np.ndarray):
        arr, had_alpha = _to_rgb(src, "array")
        return arr, ImageInfo(16 if arr.dtype == np.uint16 else 8, "array", arr.shape[1], arr.shape[0], False, had_alpha)
    if isinstance(src, Image.Image):
        arr, info = _from_pil(src, None, "PIL image")
        return arr, info
    if isinstance(src, (bytes, bytearray)):
        raw, name, path = bytes(src), "<bytes>", None
        if not raw:
            raise DecodeError("image bytes are empty")
    elif isinstance(src, (str, os.PathLike)):
        path = check_file(src, what="image")
        name = str(path)
        try:
            raw = path.read_bytes()
        except PermissionError:
            raise DecodeError(f"cannot read {name}: permission denied") from None
    else:
        raise InputError(
            f"cannot load an image from {type(src).__name__}; give a path, bytes, numpy array or PIL image"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit below
            img = Image.open(_io.BytesIO(raw))
    except Image.DecompressionBombError as exc:
        raise _bomb(name, str(exc)) from None
    except UnidentifiedImageError:
        arr = _decode_16bit(raw)  # formats Pillow lacks but OpenCV has
        if arr is None:
            raise DecodeError(f"{name} is not a readable image (unknown or corrupt format)") from None
        arr, had_alpha = _to_rgb(arr, name)
        return arr, ImageInfo(16, "cv2", arr.shape[1], arr.shape[0], False, had_alpha, None if path is None else str(path))
    except OSError as exc:
        raise DecodeError(f"cannot decode image {name}: {exc}") from None
    w, h = img.size
    if w * h > MAX_PIXELS:
        img.close()
        raise _bomb(name, f"{w}x{h}")
    with img:
        orientation = _exif_orientation(img)
        small = _reduce_for(img, max_side)
        reduced = small.size != (w, h)
        arr, info = _from_pil(small, None if reduced else raw, name, orientation=orientation)
    extra = {"path": str(path)} if path is not None else {}
    if reduced:
        extra["original_size"] = (h, w) if orientation in (5, 6, 7, 8) else (w, h)
    if extra:
        info = ImageInfo(**{**info.__dict__, **extra})
    return arr, info


def _bomb(name: str, detail: str) -> DecodeError:
    import re

    m = re.search(r"\((\d+) pixels\)", detail)  # Pillow's DecompressionBombError text
    size = f"{int(m.group(1)) / 1e6:.0f} megapixels" if m else detail
    return DecodeError(f"{name} declares {size}, more than the {MAX_PIXELS / 1e6:.0f} megapixels kadr decodes: "
                       "a damaged file or a decompression bomb; downscale it with an image tool if it is real")


def load_image(src: ImageSource, *, max_side: int | None = None) -> np.ndarray:
    """Load an image as RGB ``uint8`` or ``uint16`` array of shape (H, W, 3).

    ``src``: a path, encoded bytes, a numpy array (HxW / HxWx3 / HxWx4, uint8/uint16/bool)
    or a PIL image. See the module docstring for the conversion rules. The bit depth is
    the dtype (``uint16`` = 16 bit); :func:`read_image` returns it explicitly.

    ``max_side``: the caller downsizes to about this many pixels anyway (an encoder's input,
    a thumbnail), so a file at least twice as large is decoded at reduced size (JPEG draft
    mode, else an integer box reduce), never below ``max_side``. A file declaring more than
    :data:`MAX_PIXELS` is refused with ``DecodeError`` before decoding.

    Raises ``SourceNotFoundError``, ``NotAFileError``, ``DecodeError`` (empty / corrupt /
    not an image / too many pixels) or ``InputError`` (float arrays, wrong shapes).
    """
    return read_image(src, max_side=max_side)[0]


def iter_image_paths(paths: Iterable[str | os.PathLike] | str | os.PathLike, *, recursive: bool = True,
                     extensions: Iterable[str] = IMAGE_EXTENSIONS) -> Iterator[Path]:
    """Yield image files: files given directly (any extension), folders walked in sorted
    order keeping files whose lower-case suffix is in ``extensions`` (:func:`walk_files`)."""
    return walk_files(paths, extensions, recursive=recursive)


@dataclass
class SkippedFile:
    path: str
    reason: str


def iter_images(paths, *, recursive: bool = True, extensions: Iterable[str] = IMAGE_EXTENSIONS,
                skipped: list[SkippedFile] | None = None) -> Iterator[tuple[Path, np.ndarray]]:
    """Yield ``(path, image)`` for every readable image; unreadable files are skipped,
    appended to ``skipped`` (if given) and reported with a :class:`KadrWarning`."""
    for p in iter_image_paths(paths, recursive=recursive, extensions=extensions):
        try:
            yield p, load_image(p)
        except (DecodeError, InputError) as exc:
            if skipped is not None:
                skipped.append(SkippedFile(str(p), str(exc)))
            warnings.warn(f"skipped {p}: {exc}", KadrWarning, stacklevel=2)
