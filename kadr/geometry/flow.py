"""Dense optical flow between two frames: OpenCV DIS and Farneback, and a slot for a
learned flow model loaded from a local folder.

Convention (the one OpenCV uses): ``flow[y, x] = (dx, dy)`` in pixels such that the
content at ``(x, y)`` in ``prev`` is found at ``(x + dx, y + dy)`` in ``next``.
Shapes: images (H, W, 3) RGB or (H, W) grey, ``uint8`` or ``uint16``; flow (H, W, 2)
``float32``.

Sources: DIS — Kroeger et al., "Fast Optical Flow using Dense Inverse Search", ECCV 2016;
Farneback — G. Farnebäck, "Two-Frame Motion Estimation Based on Polynomial Expansion",
SCIA 2003 (both as implemented in OpenCV).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Callable

import numpy as np

from kadr._compat import deprecated_alias
from kadr._checks import check_choice, check_same_shape
from kadr._registry import Registry
from kadr.errors import DataRangeError, InputError, ModelLoadError, ShapeError

#: A flow function: (prev, next) images → (H, W, 2) float32 flow in pixels.
FlowFn = Callable[[np.ndarray, np.ndarray], np.ndarray]

FLOW_METHODS: Registry[FlowFn] = Registry("flow method")

DIS_PRESETS = ("ultrafast", "fast", "medium")
_DIS = threading.local()


#: DIS preset used unless told otherwise: OpenCV's middle setting of its three
#: (cv2.DISOpticalFlow presets; DIS: Kroeger et al., ECCV 2016).
DIS_PRESET = "fast"


def to_grey(image: np.ndarray, name: str = "image") -> np.ndarray:
    """(H, W) ``uint8`` luma (BT.601, as OpenCV) of an RGB or grey ``uint8``/``uint16`` image."""
    import cv2

    image = np.asarray(image)
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3)):
        raise ShapeError(f"{name} must be (H, W) or (H, W, 3), got shape {image.shape}")
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise DataRangeError(f"{name} has dtype {image.dtype}; give uint8 or uint16 pixels "
                             "(convert floats with (img * 255).round().astype('uint8'))")
    if image.shape[0] < 2 or image.shape[1] < 2:
        raise ShapeError(f"{name} is {image.shape[1]}x{image.shape[0]} pixels; at least 2x2 is needed")
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)
    return np.ascontiguousarray(image.reshape(image.shape[:2]))


def _pair(prev: np.ndarray, nxt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = to_grey(prev, "prev"), to_grey(nxt, "next")
    check_same_shape(a, b, ("prev", "next"), hint="resize one frame to the other's size first")
    return a, b


def dis_flow(prev: np.ndarray, nxt: np.ndarray, *, preset: str = DIS_PRESET) -> np.ndarray:
    """Dense Inverse Search flow (OpenCV ``DISOpticalFlow``), (H, W, 2) float32 pixels."""
    import cv2

    check_choice(preset, "preset", DIS_PRESETS)
    a, b = _pair(prev, nxt)
    cache = _DIS.__dict__
    if preset not in cache:  # one instance per thread and preset: creating one costs about a frame
        code = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
                "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}[preset]
        cache[preset] = cv2.DISOpticalFlow_create(code)
    return cache[preset].calc(a, b, None)


def farneback_flow(prev: np.ndarray, nxt: np.ndarray, *, pyr_scale: float = 0.5, levels: int = 3,
                   winsize: int = 15, iterations: int = 3, poly_n: int = 5, poly_sigma: float = 1.2) -> np.ndarray:
    """Farnebäck polynomial-expansion flow (OpenCV ``calcOpticalFlowFarneback``; the
    parameters are the values of OpenCV's own sample), (H, W, 2) float32 pixels."""
    import cv2

    a, b = _pair(prev, nxt)
    return cv2.calcOpticalFlowFarneback(a, b, None, pyr_scale, levels, winsize, iterations, poly_n, poly_sigma, 0)


FLOW_METHODS.register("dis", dis_flow)
FLOW_METHODS.register("farneback", farneback_flow)


class LearnedFlow:
    """A learned flow model (RAFT-, PWC-class...) from a local folder; no download ever.

    The folder holds ``model.pt2`` (``torch.export.save``), ``model.pt`` (TorchScript) or
    ``model.onnx`` and optionally ``config.json`` with ``{"input_size": [H, W]}`` (frames are resized to it and the
    flow is scaled back). The model takes two tensors (1, 3, H, W) float32 RGB in [0, 1]
    and returns the flow (1, 2, H, W) in pixels of its input (channel 0 = dx); a model
    returning a list or tuple (iterative refinements) has its last element used.
    """

    def __init__(self, folder: str | os.PathLike):
        from kadr.geometry._local_model import LocalModel

        self.model = LocalModel(folder, what="flow model")
        self.folder = self.model.folder

    def __call__(self, prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
        import cv2

        from kadr.geometry._local_model import image_tensor

        a, b = np.asarray(prev), np.asarray(nxt)
        check_same_shape(a, b, ("prev", "next"), hint="resize one frame to the other's size first")
        to_grey(a, "prev")  # validates dtype and size
        h, w = a.shape[:2]
        mh, mw = self.model.input_size or (h, w)
        flow = np.asarray(self.model(image_tensor(a, (mh, mw)), image_tensor(b, (mh, mw))), np.float32)
        if flow.shape != (1, 2, mh, mw):
            raise ModelLoadError(f"flow model in {self.folder} returned shape {flow.shape}; "
                                 f"expected (1, 2, {mh}, {mw})")
        flow = flow[0].transpose(1, 2, 0)
        if (mh, mw) != (h, w):
            flow = cv2.resize(flow, (w, h), interpolation=cv2.INTER_LINEAR)
            flow[..., 0] *= w / mw
            flow[..., 1] *= h / mh
        return np.ascontiguousarray(flow)


def get_flow_method(method: str | FlowFn, *, preset: str = DIS_PRESET) -> FlowFn:
    """A flow function from a registered name, a folder holding a learned model, or a callable."""
    if callable(method):
        return method
    if method == "dis":
        return lambda a, b: dis_flow(a, b, preset=preset)
    if method not in FLOW_METHODS and (Path(str(method)).expanduser().is_dir() or "/" in str(method)):
        return LearnedFlow(Path(str(method)).expanduser())  # a missing folder gets ModelLoadError
    return FLOW_METHODS.get(method)


def optical_flow(prev: np.ndarray, nxt: np.ndarray, *, method: str | FlowFn = "dis", preset: str = DIS_PRESET) -> np.ndarray:
    """Dense flow (H, W, 2) float32 in pixels from ``prev`` to ``next`` (see module docstring)."""
    flow = get_flow_method(method, preset=preset)(prev, nxt)
    if not np.isfinite(flow).all():
        raise InputError("the flow method returned NaN or infinite values")
    return flow


def flow_magnitude(flow: np.ndarray) -> np.ndarray:
    """Per-pixel displacement length ``sqrt(dx² + dy²)`` in pixels, (H, W) float32."""
    flow = np.asarray(flow)
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise ShapeError(f"flow must be (H, W, 2), got shape {flow.shape}")
    return np.hypot(flow[..., 0], flow[..., 1]).astype(np.float32)


def camera_flow(flow: np.ndarray, *, step: int = 8, threshold: float = 1.0) -> np.ndarray | None:
    """The part of ``flow`` explained by one homography (camera pan/zoom/rotation), fitted
    with RANSAC on a grid of flow vectors every ``step`` px; None when it cannot be fitted."""
    import cv2

    h, w = flow.shape[:2]
    ys, xs = np.mgrid[step // 2:h:step, step // 2:w:step]
    src = np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float32)
    dst = src + flow[ys.ravel(), xs.ravel()]
    if len(src) < 8:
        return None
    H, _ = cv2.findHomography(src, dst, cv2.RANSAC, threshold)
    if H is None or not np.isfinite(H).all():
        return None
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    pts = np.stack([gx, gy], -1).reshape(-1, 1, 2)
    return (cv2.perspectiveTransform(pts, H).reshape(h, w, 2) - np.stack([gx, gy], -1)).astype(np.float32)


class FlowStream:
    """Streaming flow: ``update(image)`` returns the flow from the previous image (None
    for the first one, or after :meth:`reset`, e.g. at a shot boundary)."""

    def __init__(self, method: str | FlowFn = "dis", *, preset: str = DIS_PRESET):
        self._fn = get_flow_method(method, preset=preset)
        self._prev: np.ndarray | None = None

    def reset(self) -> None:
        self._prev = None

    def update(self, image: np.ndarray) -> np.ndarray | None:
        gray = image if isinstance(self._fn, LearnedFlow) else to_grey(image)
        prev, self._prev = self._prev, gray
        if prev is None or prev.shape != gray.shape:
            return None
        return self._fn(prev, gray)


to_gray = deprecated_alias(to_grey, "to_gray")
