"""Input normalisation shared by the functional metrics.

Images: numpy ``HxW`` / ``HxWxC`` (one pair → a Python float) or torch ``(N,C,H,W)``
(a batch → a tensor of N values; ``(C,H,W)`` and ``(H,W)`` tensors count as one pair and
give a 0-d tensor, so gradients survive).
Vectors: ``(D,)`` (one pair) or ``(N, D)`` (row-wise → N values); numpy in → float / numpy
array out, torch in → tensor out.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from kadr._checks import check_finite, dtype_max, resolve_data_range
from kadr.errors import DataRangeError, InputError, ShapeError


@dataclass
class ImagePair:
    """Two image batches (N,C,H,W) in their original dtype, ready for per-chunk conversion."""

    x: torch.Tensor
    y: torch.Tensor
    data_range: float
    dtype: torch.dtype        # compute dtype
    single: bool              # one pair given → return floats
    numpy_layout: str | None  # "HW" / "HWC" for numpy input (to lay maps out the same way)


def _is_tensor(v: Any) -> bool:
    return isinstance(v, torch.Tensor)


def from_numpy(v: np.ndarray) -> torch.Tensor:
    """Zero-copy tensor view of an array (read-only arrays too: kadr never writes to inputs)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.from_numpy(np.ascontiguousarray(v))


def _to_nchw(v: Any, name: str) -> tuple[torch.Tensor, bool, str | None]:
    if isinstance(v, np.ndarray):
        if v.ndim == 2:
            return from_numpy(v)[None, None], True, "HW"
        if v.ndim == 3:
            return from_numpy(v.transpose(2, 0, 1))[None], True, "HWC"
        raise ShapeError(f"{name} must be an HxW or HxWxC numpy image, got shape {v.shape}")
    if _is_tensor(v):
        if v.ndim == 4:
            return v, False, None
        if v.ndim == 3:
            return v[None], True, None
        if v.ndim == 2:
            return v[None, None], True, None
        raise ShapeError(f"{name} must be a (N,C,H,W) tensor (or (C,H,W)/(H,W) for one image), "
                         f"got shape {tuple(v.shape)}")
    if hasattr(v, "__array__"):  # PIL images and array-likes
        return _to_nchw(np.asarray(v), name)
    raise InputError(f"{name} must be a numpy array or a torch tensor, got {type(v).__name__}")


def image_pair(a: Any, b: Any, data_range: float | None, *, need_range: bool = True,
               hint: str = "resize one of them first (kadr compare --resize)") -> ImagePair:
    """Validate two images/batches and resolve ``data_range`` (from integer dtypes; required for floats)."""
    if _is_tensor(a) != _is_tensor(b):
        raise InputError("a and b must both be numpy arrays or both torch tensors")
    x, single, layout = _to_nchw(a, "a")
    y, _, _ = _to_nchw(b, "b")
    if 0 in tuple(x.shape) or 0 in tuple(y.shape):
        raise ShapeError(f"a and b must be non-empty images, got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    if tuple(x.shape) != tuple(y.shape):
        raise ShapeError(f"a and b have different shapes {tuple(a.shape)} vs {tuple(b.shape)}; {hint}")
    if x.dtype == torch.bool or y.dtype == torch.bool:
        x, y = x.to(torch.uint8), y.to(torch.uint8)
    if x.is_complex() or y.is_complex():
        raise InputError("complex images are not supported")
    check_finite(x, "a")
    check_finite(y, "b")
    dr = 0.0
    if need_range:
        if data_range is None:
            ra, rb = dtype_max(x.dtype), dtype_max(y.dtype)
            if ra is not None and rb is not None and ra != rb:
                raise DataRangeError(f"a ({x.dtype}) and b ({y.dtype}) imply different data ranges "
                                     f"({ra:g} vs {rb:g}); convert one or pass data_range")
            # the float one (if any) decides: it raises the actionable error
            dr = resolve_data_range(y if ra is not None else x, None, "b" if ra is not None else "a")
        else:
            dr = resolve_data_range(x, data_range)
    if x.is_floating_point() and y.is_floating_point():
        dtype = torch.promote_types(x.dtype, y.dtype)
    elif x.is_floating_point() or y.is_floating_point():
        dtype = x.dtype if x.is_floating_point() else y.dtype
    else:
        dtype = torch.float32
    if not _is_tensor(a):
        dtype = torch.float64  # numpy in → float64 maths (matches scikit-image to ~1e-12)
    if dtype in (torch.float16, torch.bfloat16):
        dtype = torch.float32
    return ImagePair(x, y, dr, dtype, single, layout)


def finish(values: torch.Tensor, pair: ImagePair):
    """Per-item tensor (N,) → float for one numpy pair, a 0-d tensor for one tensor pair
    (keeps gradients), the (N,) tensor for a batch."""
    if pair.single:
        return float(values.reshape(-1)[0]) if pair.numpy_layout else values.reshape(-1)[0]
    return values


@dataclass
class VectorPair:
    x: torch.Tensor  # (N, D)
    y: torch.Tensor  # (N, D)
    single: bool
    numpy: bool


def as_matrix(v: Any, name: str, *, dtype: torch.dtype | None = None) -> tuple[torch.Tensor, bool, bool]:
    """(N, D) float tensor from numpy/torch (D,) or (N, D); returns (tensor, was_1d, was_numpy)."""
    was_numpy = not _is_tensor(v)
    if was_numpy:
        v = np.asarray(v)
        if v.dtype.kind not in "fiub":
            raise InputError(f"{name} must be numeric, got dtype {v.dtype}")
        t = from_numpy(v)
    else:
        t = v
    if t.ndim not in (1, 2):
        raise ShapeError(f"{name} must be a vector (D,) or a matrix (N, D), got shape {tuple(t.shape)}")
    if not t.is_floating_point():
        t = t.to(torch.float32)
    if dtype is not None:
        t = t.to(dtype)
    check_finite(t, name)
    was_1d = t.ndim == 1
    return (t[None] if was_1d else t), was_1d, was_numpy


def vector_pair(a: Any, b: Any) -> VectorPair:
    x, s1, n1 = as_matrix(a, "a")
    y, s2, n2 = as_matrix(b, "b")
    if x.shape[-1] != y.shape[-1]:
        raise ShapeError(f"a and b have different dimensions {x.shape[-1]} vs {y.shape[-1]}")
    if x.shape[0] != y.shape[0]:
        if x.shape[0] == 1:
            x = x.expand_as(y)
        elif y.shape[0] == 1:
            y = y.expand_as(x)
        else:
            raise ShapeError(f"a and b must have the same number of rows (or one row), got "
                             f"{x.shape[0]} vs {y.shape[0]}; use pairwise_* for all pairs")
    dtype = torch.promote_types(x.dtype, y.dtype)
    return VectorPair(x.to(dtype), y.to(dtype), s1 and s2, n1 and n2)


def vector_out(values: torch.Tensor, pair: VectorPair):
    """Row-wise result: numpy in → float (one pair) or array; torch in → 0-d or (N,) tensor."""
    if pair.numpy:
        return float(values.reshape(-1)[0]) if pair.single else values.detach().numpy()
    return values.reshape(-1)[0] if pair.single else values
