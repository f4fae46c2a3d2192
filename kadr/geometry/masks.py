"""Masks as extra channels: motion (optical-flow magnitude), HOG-style gradients on the
HSV channels, local contrast; stacking them onto a frame; masked comparison.

Every mask is an (H, W) ``float32`` map in [0, 1] at the frame's size; images are RGB
``uint8``/``uint16`` (H, W, 3).

Gradient channels follow HOG (Dalal & Triggs, "Histograms of Oriented Gradients for Human
Detection", CVPR 2005): centred ``[-1, 0, 1]`` derivatives without smoothing, per channel
``magnitude = sqrt(gx² + gy²)`` and unsigned ``angle = atan2(gy, gx) mod 180°``; of
several colour channels the one with the largest magnitude wins at each pixel. Here the
channels are H, S, V (all scaled to [0, 1], hue in turns). Hue is circular, so its
difference is wrapped to [-0.5, 0.5) turn; it is undefined where saturation is 0, so by
default (``hue_weight=True``) the hue derivative is multiplied by the smaller saturation
of the two pixels it compares (otherwise sensor noise on grey areas reads as strong hue
edges). Border pixels get 0 derivatives (as scikit-image's ``hog``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from kadr._compat import renamed_kwarg
from kadr._checks import check_choice, check_positive, check_same_shape
from kadr._options import opt
from kadr.errors import DataRangeError, InputError, ShapeError
from kadr.io.images import LUMA_BT601
from kadr.geometry.flow import camera_flow, flow_magnitude, optical_flow

MASK_KINDS = ("motion", "gradient", "contrast")
NORMALISATIONS = ("p99", "max", "none")
COMPENSATIONS = ("none", "median", "camera")


@dataclass
class MaskOptions:
    flow: str = opt("dis", "optical-flow method for the motion mask (dis, farneback, or a model folder)",
                    metavar="NAME|DIR")
    motion_threshold: float = opt(1.0, "motion in pixels that counts as moving (soft mask = 0.5 there)")
    compensate: str = opt("camera", "remove camera motion before the motion mask: none, median flow, "
                          "or a homography fitted to the flow", choices=COMPENSATIONS)
    contrast_sigma: float = opt(4.0, "Gaussian window (sigma, px) of the local-contrast mask")
    normalise: str = opt("p99", "how gradient and contrast maps are scaled to [0, 1]", choices=NORMALISATIONS)


def _unit_rgb(image: np.ndarray, name: str) -> np.ndarray:
    """RGB float32 in [0, 1] from uint8/uint16 (H, W, 3)."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ShapeError(f"{name} must be an RGB image (H, W, 3), got shape {image.shape}")
    if image.dtype == np.uint8:
        return image.astype(np.float32) / 255.0
    if image.dtype == np.uint16:
        return image.astype(np.float32) / 65535.0
    raise DataRangeError(f"{name} has dtype {image.dtype}; give uint8 or uint16 RGB pixels")


def _normalise(m: np.ndarray, how: str) -> np.ndarray:
    check_choice(how, "normalise", NORMALISATIONS)
    if how == "none":
        return np.clip(m, 0, 1).astype(np.float32)
    ref = float(np.percentile(m, 99) if how == "p99" else m.max())
    if ref <= 1e-12:
        return np.zeros_like(m, dtype=np.float32)
    return np.clip(m / ref, 0, 1).astype(np.float32)


# ----------------------------------------------------------------------------- motion

def motion_magnitude(prev: np.ndarray, nxt: np.ndarray, *, flow: str = "dis",
                     compensate: str = "none") -> np.ndarray:
    """Optical-flow magnitude (H, W) float32 in pixels between two frames of the same size.

    ``compensate``: ``none``; ``median`` subtracts the median flow vector (a pan);
    ``camera`` subtracts the flow of one homography fitted with RANSAC to the flow field
    (pan, zoom, rotation), leaving what moves against the camera."""
    check_choice(compensate, "compensate", COMPENSATIONS)
    f = optical_flow(prev, nxt, method=flow)
    if compensate == "median":
        f = f - np.median(f.reshape(-1, 2), axis=0)
    elif compensate == "camera":
        cam = camera_flow(f)
        if cam is not None:
            f = f - cam
    return flow_magnitude(f)


def motion_mask(prev: np.ndarray, nxt: np.ndarray, *, threshold: float = 1.0, soft: bool = False,
                flow: str = "dis", compensate: str = "none") -> np.ndarray:
    """Where things move: hard ``magnitude >= threshold`` (0/1) or soft
    ``magnitude / (magnitude + threshold)`` (0.5 at the threshold), (H, W) float32."""
    check_positive(threshold, "threshold")
    mag = motion_magnitude(prev, nxt, flow=flow, compensate=compensate)
    if soft:
        return (mag / (mag + float(threshold))).astype(np.float32)
    return (mag >= float(threshold)).astype(np.float32)


# ----------------------------------------------------------------------------- gradients

@dataclass
class Gradients:
    """HOG-style gradients: ``magnitude`` and unsigned ``angle`` (degrees in [0, 180)) of
    the winning channel, its index ``channel`` (0 = H, 1 = S, 2 = V), and the per-channel
    magnitudes (H, W, 3)."""

    magnitude: np.ndarray
    angle: np.ndarray
    channel: np.ndarray
    per_channel: np.ndarray


def hsv(image: np.ndarray, name: str = "image") -> np.ndarray:
    """(H, W, 3) float32: hue in turns [0, 1), saturation and value in [0, 1]."""
    import cv2

    out = cv2.cvtColor(_unit_rgb(image, name), cv2.COLOR_RGB2HSV)
    out[..., 0] /= 360.0
    return out


def hog_gradients(image: np.ndarray, *, hue_weight: bool = True) -> Gradients:
    """Gradients of the H, S, V channels as HOG computes them (see module docstring)."""
    c = np.ascontiguousarray(hsv(image).transpose(2, 0, 1))  # (3, H, W): contiguous planes are fast
    gx, gy = np.zeros_like(c), np.zeros_like(c)
    np.subtract(c[:, :, 2:], c[:, :, :-2], out=gx[:, :, 1:-1])  # [-1, 0, 1] along x, 0 on the border
    np.subtract(c[:, 2:, :], c[:, :-2, :], out=gy[:, 1:-1, :])  # and along y
    # hue is an angle: differences (in turns, |d| < 1) wrap to [-0.5, 0.5]
    gx[0] -= np.rint(gx[0])
    gy[0] -= np.rint(gy[0])
    if hue_weight:
        sat = c[1]
        gx[0, :, 1:-1] *= np.minimum(sat[:, 2:], sat[:, :-2])
        gy[0, 1:-1, :] *= np.minimum(sat[2:, :], sat[:-2, :])
    mags = np.sqrt(gx * gx + gy * gy)
    best = mags.argmax(axis=0)[None]
    mag = np.take_along_axis(mags, best, 0)[0]
    angle = np.rad2deg(np.arctan2(np.take_along_axis(gy, best, 0)[0], np.take_along_axis(gx, best, 0)[0]))
    angle[angle < 0] += 180.0  # unsigned orientation in [0, 180)
    angle[angle >= 180.0] -= 180.0
    return Gradients(mag, angle.astype(np.float32), best[0].astype(np.uint8),
                     np.ascontiguousarray(mags.transpose(1, 2, 0)))


@renamed_kwarg(normalize="normalise")
def gradient_mask(image: np.ndarray, *, normalise: str = "p99", hue_weight: bool = True) -> np.ndarray:
    """HSV HOG gradient magnitude scaled to [0, 1] (``p99``: by its 99th percentile)."""
    return _normalise(hog_gradients(image, hue_weight=hue_weight).magnitude, normalise)


# ----------------------------------------------------------------------------- contrast

def local_contrast(image: np.ndarray, *, sigma: float = 4.0) -> np.ndarray:
    """Local RMS contrast: the standard deviation of luma (Rec. 601, [0, 1]) in a Gaussian
    window of ``sigma`` px, ``sqrt(G*L² − (G*L)²)`` (Peli, JOSA A 1990), (H, W) float32 in [0, 0.5]."""
    import cv2

    check_positive(sigma, "sigma")
    rgb = _unit_rgb(image, "image")
    luma = rgb @ np.array(LUMA_BT601, np.float32)
    mu = cv2.GaussianBlur(luma, (0, 0), float(sigma))
    mu2 = cv2.GaussianBlur(luma * luma, (0, 0), float(sigma))
    return np.sqrt(np.maximum(mu2 - mu * mu, 0.0)).astype(np.float32)


@renamed_kwarg(normalize="normalise")
def contrast_mask(image: np.ndarray, *, sigma: float = 4.0, normalise: str = "p99") -> np.ndarray:
    """Local RMS contrast scaled to [0, 1]."""
    return _normalise(local_contrast(image, sigma=sigma), normalise)


# ----------------------------------------------------------------------------- stacking

def stack_channels(frame: np.ndarray, masks: Mapping[str, np.ndarray] | Sequence[np.ndarray]) -> np.ndarray:
    """Frame RGB in [0, 1] followed by the masks as channels: (H, W, 3 + K) float32.

    ``masks`` is a sequence of (H, W) maps in [0, 1] or a mapping name → map (channels in
    the mapping's order)."""
    rgb = _unit_rgb(frame, "frame")
    items = list(masks.items()) if isinstance(masks, Mapping) else [(f"mask {i}", m) for i, m in enumerate(masks)]
    chans = [rgb]
    for name, m in items:
        m = np.asarray(m, dtype=np.float32)
        if m.shape != rgb.shape[:2]:
            raise ShapeError(f"{name} has shape {m.shape}; the frame is {rgb.shape[:2]} — compute masks at the frame's size")
        if not np.isfinite(m).all() or m.min() < 0 or m.max() > 1:
            raise InputError(f"{name} must hold finite values in [0, 1]")
        chans.append(m[..., None])
    return np.concatenate(chans, axis=2)


def to_uint8(image: np.ndarray, data_range: float | None, name: str = "image") -> np.ndarray:
    """``uint8`` pixels from ``uint8`` (as is), ``uint16`` (top byte) or floats in
    [0, ``data_range``] (required for floats; never guessed). Grey (H, W) stays 2-D."""
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        return (image >> 8).astype(np.uint8)
    if image.dtype.kind != "f":
        raise DataRangeError(f"{name} has dtype {image.dtype}; give uint8, uint16 or float pixels")
    if data_range is None:
        raise DataRangeError(f"{name} is floating point; pass data_range (1.0 for [0, 1], 255.0 for [0, 255])")
    check_positive(data_range, "data_range")
    return np.clip(np.rint(image * (255.0 / float(data_range))), 0, 255).astype(np.uint8)


def pair_mask(a: np.ndarray, b: np.ndarray, kind: str | np.ndarray, options: MaskOptions | None = None, *,
              data_range: float | None = None) -> np.ndarray:
    """Weight map (H, W) in [0, 1] for comparing ``a`` with ``b``: ``motion`` (soft mask of
    the flow a → b), ``gradient`` / ``contrast`` (pixel-wise max of both frames' masks),
    or an explicit array. Float frames (RGB or grey) need ``data_range``; masks are then
    computed on 8-bit copies."""
    o = options or MaskOptions()
    a, b = np.asarray(a), np.asarray(b)
    check_same_shape(a, b, ("A", "B"), hint="masked comparison needs frames of the same size")
    a, b = to_uint8(a, data_range, "A"), to_uint8(b, data_range, "B")
    if not isinstance(kind, str):
        m = np.asarray(kind, dtype=np.float32)
        return stack_channels(a, {"mask": m})[..., 3]
    check_choice(kind, "mask", MASK_KINDS)
    if kind == "motion":
        return motion_mask(a, b, threshold=o.motion_threshold, soft=True, flow=o.flow, compensate=o.compensate)
    if kind == "gradient":
        return np.maximum(gradient_mask(a, normalise=o.normalise), gradient_mask(b, normalise=o.normalise))
    return np.maximum(contrast_mask(a, sigma=o.contrast_sigma, normalise=o.normalise),
                      contrast_mask(b, sigma=o.contrast_sigma, normalise=o.normalise))


def _weighted_ssim(a: np.ndarray, b: np.ndarray, weights: np.ndarray | None) -> float:
    """SSIM of two RGB frames weighted by ``weights`` (kadr.metrics' weighted SSIM)."""
    from kadr.metrics.functional import ssim

    return float(ssim(np.asarray(a), np.asarray(b), weights=weights))


def masked_compare(a: np.ndarray, b: np.ndarray, *, mask: str | np.ndarray = "gradient",
                   options: MaskOptions | None = None, tokens: Any = None) -> dict[str, Any]:
    """Compare two frames with SSIM weighted by a mask: ``{"ssim_masked", "ssim",
    "mask", "mask_coverage"}`` (coverage = mean weight in [0, 1]); with ``tokens`` (a ViT
    encoder's ``encode_tokens``) also ``"embedding_masked"``, the cosine similarity of the
    mask-pooled patch embeddings (:func:`masked_token_similarity`).

    With an all-zero mask (nothing moves, a flat frame) the masked values are None: there
    is nothing to compare there, which is reported rather than turned into NaN."""
    w = pair_mask(a, b, mask, options)
    coverage = float(w.mean())
    plain = _weighted_ssim(a, b, None)
    masked = _weighted_ssim(a, b, w) if coverage > 1e-6 else None
    out = {"mask": mask if isinstance(mask, str) else "custom", "ssim_masked": masked, "ssim": plain,
           "mask_coverage": coverage}
    if tokens is not None:
        out["embedding_masked"] = masked_token_similarity(a, b, w, tokens) if coverage > 1e-6 else None
    return out


def _token_grid(tokens: np.ndarray, name: str) -> np.ndarray:
    """(g, g, C) patch tokens from (T, C): T = g² (SigLIP) or 1 + g² (a leading CLS token:
    CLIP, DINOv2)."""
    tokens = np.asarray(tokens, np.float64)
    if tokens.ndim != 2:
        raise ShapeError(f"{name} tokens must be (T, C), got shape {tokens.shape}")
    t = tokens.shape[0]
    for skip in (0, 1):
        g = int(round(np.sqrt(t - skip)))
        if g > 0 and g * g == t - skip:
            return tokens[skip:].reshape(g, g, -1)
    raise ShapeError(f"{name} has {t} tokens: not a square patch grid (g²) nor a CLS token plus one; "
                     "models with register tokens are not supported")


def _centre_square(x: np.ndarray) -> np.ndarray:
    h, w = x.shape[:2]
    s = min(h, w)
    y0, x0 = (h - s) // 2, (w - s) // 2
    return x[y0:y0 + s, x0:x0 + s]


def masked_token_similarity(a: np.ndarray, b: np.ndarray, weights: np.ndarray, tokens: Any) -> float:
    """Cosine similarity of two frames' mask-pooled patch embeddings, in [-1, 1].

    ``tokens``: a function from a list of RGB images to per-image (T, C) patch tokens (a ViT
    encoder's ``encode_tokens``; T = g² or 1 + g² with a CLS token, which is dropped). Both
    frames and ``weights`` (H, W, ≥ 0) are cut to their centre square first (so a model's
    resize + centre crop keeps the patch grid aligned with the mask); the weights are
    area-averaged onto the g×g grid and each frame's embedding is ``Σ w_p t_p / Σ w_p``."""
    import cv2

    a, b = np.asarray(a), np.asarray(b)
    check_same_shape(a, b, ("A", "B"), hint="masked comparison needs frames of the same size")
    w = np.asarray(weights, np.float32)
    if w.shape != a.shape[:2]:
        raise ShapeError(f"weights have shape {w.shape}; the frames are {a.shape[:2]}")
    if not np.isfinite(w).all() or w.min() < 0:
        raise InputError("weights must be finite and >= 0")
    sa, sb, sw = (_centre_square(x) for x in (a, b, w))
    ta, tb = tokens([np.ascontiguousarray(sa), np.ascontiguousarray(sb)])
    ga, gb = _token_grid(ta, "A"), _token_grid(tb, "B")
    if ga.shape != gb.shape:
        raise ShapeError(f"A and B gave token grids {ga.shape} and {gb.shape}")
    g = ga.shape[0]
    wg = cv2.resize(sw, (g, g), interpolation=cv2.INTER_AREA).astype(np.float64)
    if wg.sum() <= 0:
        raise InputError("the mask is zero over the centre square the model sees; nothing to compare")
    ea = (ga * wg[..., None]).sum((0, 1)) / wg.sum()
    eb = (gb * wg[..., None]).sum((0, 1)) / wg.sum()
    den = np.linalg.norm(ea) * np.linalg.norm(eb)
    return float(ea @ eb / den) if den > 0 else 0.0
