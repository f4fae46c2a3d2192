"""Pixel and structural image metrics: MSE, MAE, PSNR, SSIM (plain, weighted, with its three
terms) and MS-SSIM.

Inputs: numpy ``HxW`` / ``HxWxC`` (one pair → ``float``, maths in float64) or torch
``(N,C,H,W)`` (→ tensor of N values, maths in the input's float dtype, float32 for integer
tensors; ``(C,H,W)``/``(H,W)`` tensors count as one pair). ``data_range`` comes from integer
dtypes (255 for uint8, 65535 for uint16) and is *required* for float input — kadr never
guesses it. Colour images: the metric is computed per channel and averaged over channels.

Memory stays bounded on big batches: items are processed in chunks (SSIM: one channel plane
at a time on the OpenCV path), so 32 frames of 1080p need a few hundred MiB, not 13 GiB.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from kadr._checks import check_choice, check_positive
from kadr.errors import InputError, ShapeError
from kadr.metrics.functional._inputs import ImagePair, finish, image_pair

#: Wang, Simoncelli & Bovik 2003, "Multi-scale structural similarity for image quality
#: assessment", Table/Sec. 3.2: relative importance of the five scales (finest first).
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)

#: working memory (bytes) one chunk of a batch may use
CHUNK_BYTES = 256 * 2**20

BACKENDS = ("auto", "opencv", "torch")


class SSIMResult(NamedTuple):
    """``ssim(..., full=True)``: the score, the SSIM map and the mean of each SSIM term.

    ``map`` has the layout of the input: numpy ``(H', W')`` / ``(H', W', C)`` for one numpy
    pair, ``(N, C, H', W')`` for tensors (``H' = H - win_size + 1`` with ``padding="valid"``).
    ``luminance``, ``contrast`` and ``structure`` are the (weighted) means of the three terms;
    the SSIM map is their per-pixel product, so the mean SSIM is *not* the product of the means.
    """

    ssim: Any
    map: Any
    luminance: Any
    contrast: Any
    structure: Any


def gaussian_window(win_size: int = 11, sigma: float = 1.5, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """1-D normalised Gaussian ``g[i] ∝ exp(-(i - r)² / 2σ²)``, ``r = (win_size-1)/2``
    (MATLAB ``fspecial('gaussian')``, OpenCV ``getGaussianKernel``, SciPy with truncate=r/σ)."""
    r = (win_size - 1) / 2
    i = torch.arange(win_size, dtype=torch.float64) - r
    g = torch.exp(-(i * i) / (2 * sigma * sigma))
    return (g / g.sum()).to(dtype)


def _check_window(win_size: int, sigma: float, k1: float, k2: float) -> None:
    if not isinstance(win_size, (int, np.integer)) or win_size < 1 or win_size % 2 == 0:
        raise InputError(f"win_size must be an odd integer >= 1, got {win_size!r}")
    check_positive(sigma, "sigma")
    check_positive(k1, "k1")
    check_positive(k2, "k2")


def _symmetric_pad(z: torch.Tensor, r: int) -> torch.Tensor:
    """Pad the last two dims by ``r`` with half-sample symmetric reflection (``dcb|abcd|cba``,
    SciPy ``mode='reflect'``, OpenCV ``BORDER_REFLECT``); works for any ``r``, even > size."""
    for dim in (-2, -1):
        n = z.shape[dim]
        idx = torch.arange(-r, n + r) % (2 * n)
        idx = torch.where(idx >= n, 2 * n - 1 - idx, idx)
        z = z.index_select(dim, idx.to(z.device))
    return z


def _blur_torch(z: torch.Tensor, win: torch.Tensor, same: bool) -> torch.Tensor:
    """Separable Gaussian filter of every channel of ``z`` (n,k,H,W); 'valid' unless ``same``."""
    k, size = z.shape[1], win.numel()
    if same:
        z = _symmetric_pad(z, size // 2)
    z = F.conv2d(z, win.view(1, 1, 1, size).expand(k, 1, 1, size), groups=k)
    return F.conv2d(z, win.view(1, 1, size, 1).expand(k, 1, size, 1), groups=k)


def _blur_cv2(plane: np.ndarray, win: np.ndarray, same: bool) -> np.ndarray:
    import cv2

    out = cv2.sepFilter2D(plane, -1, win, win, borderType=cv2.BORDER_REFLECT)
    if same:
        return out
    r = win.size // 2
    return out[r:out.shape[0] - r, r:out.shape[1] - r]


def _terms(mx, my, vx, vy, cxy, c1: float, c2: float, components: bool) -> dict:
    """Wang et al. 2004, eq. 6/13 on local statistics (numpy arrays or torch tensors)."""
    lum = (2 * mx * my + c1) / (mx * mx + my * my + c1)
    cs = (2 * cxy + c2) / (vx + vy + c2)
    out = {"ssim": lum * cs, "cs": cs}
    if components:
        sx, sy = ((vx + abs(vx)) / 2) ** 0.5, ((vy + abs(vy)) / 2) ** 0.5  # sqrt(max(v, 0))
        out["luminance"] = lum
        out["contrast"] = (2 * sx * sy + c2) / (vx + vy + c2)
        out["structure"] = (cxy + c2 / 2) / (sx * sy + c2 / 2)
    return out


def _pool(m, w):
    """(Weighted) mean over the last two axes (numpy or torch)."""
    if w is None:
        return m.mean((-2, -1))
    return (m * w).sum((-2, -1)) / w.sum((-2, -1))


def _plane_stats(px: np.ndarray, py: np.ndarray, win: np.ndarray, *, c1: float, c2: float, same: bool,
                 weights: np.ndarray | None, want_map: bool, components: bool) -> dict:
    """OpenCV/numpy path for one channel plane (already divided by the data range):
    pooled SSIM / CS (and terms) as floats, plus the SSIM map on request."""
    b = [_blur_cv2(p, win, same) for p in (px, py, px * px, py * py, px * py)]
    mx, my = b[0], b[1]
    t = _terms(mx, my, b[2] - mx * mx, b[3] - my * my, b[4] - mx * my, c1, c2, components)
    out = {k: float(_pool(v, weights)) for k, v in t.items()}
    if want_map:
        out["map"] = t["ssim"]
    return out


def _down2_np(p: np.ndarray) -> np.ndarray:
    """numpy twin of :func:`_down2` for one plane."""
    h, w = p.shape
    if h % 2 or w % 2:
        p = np.pad(p, ((0, h % 2), (0, w % 2)), mode="edge")
    return p.reshape(p.shape[0] // 2, 2, p.shape[1] // 2, 2).mean((1, 3))


def _np_dtype(dtype: torch.dtype) -> type:
    return np.float64 if dtype == torch.float64 else np.float32


def _plane(x: torch.Tensor, i: int, j: int, dtype: torch.dtype, scale: float) -> np.ndarray:
    return x[i, j].detach().numpy().astype(_np_dtype(dtype)) / _np_dtype(dtype)(scale)


def _chunk_items(n: int, per_item_bytes: int) -> list[tuple[int, int]]:
    step = max(1, CHUNK_BYTES // max(1, per_item_bytes))
    return [(i, min(n, i + step)) for i in range(0, n, step)]


def _pick_backend(backend: str, *tensors: torch.Tensor | None) -> str:
    check_choice(backend, "backend", BACKENDS)
    if backend != "auto":
        return backend
    grad = torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)
    on_cpu = all(t is None or t.device.type == "cpu" for t in tensors)
    return "opencv" if (on_cpu and not grad) else "torch"


def _ssim_stats(x: torch.Tensor, y: torch.Tensor, scale: float, dtype: torch.dtype, *,
                win: torch.Tensor, c1: float, c2: float, same: bool, weights: torch.Tensor | None,
                want_map: bool, components: bool, backend: str) -> dict:
    """Per-plane (n, c) pooled SSIM / CS (and terms), plus maps (n, c, H', W') on request.

    ``x``/``y`` are in their original dtype; each chunk (torch) or channel plane (OpenCV) is
    converted to ``dtype`` and divided by ``scale`` (the data range) just before use, so
    memory stays bounded.
    """
    n, c, h, w = x.shape
    keys = ["ssim", "cs"] + (["luminance", "contrast", "structure"] if components else [])
    out: dict[str, list] = {k: [] for k in keys}
    maps: list[torch.Tensor] = []
    if backend == "opencv":
        win_np = win.numpy().astype(_np_dtype(dtype))
        wnp = None if weights is None else weights.detach().numpy()
        for i in range(n):
            planes = [_plane_stats(_plane(x, i, j, dtype, scale), _plane(y, i, j, dtype, scale), win_np,
                                   c1=c1, c2=c2, same=same, weights=None if wnp is None else wnp[i, 0],
                                   want_map=want_map, components=components) for j in range(c)]
            for k in keys:
                out[k].append([pl[k] for pl in planes])
            if want_map:
                maps.append(torch.from_numpy(np.stack([pl["map"] for pl in planes])))
        res = {k: torch.tensor(v, dtype=dtype) for k, v in out.items()}
        if want_map:
            res["map"] = torch.stack(maps)
        return res
    itemsize = torch.finfo(dtype).bits // 8
    for i, j in _chunk_items(n, c * h * w * itemsize * 24):
        xs = x[i:j].to(dtype) / scale
        ys = y[i:j].to(dtype) / scale
        z = _blur_torch(torch.cat([xs, ys, xs * xs, ys * ys, xs * ys], 1), win.to(dtype), same)
        mx, my, xx, yy, xy = z.chunk(5, 1)
        t = _terms(mx, my, xx - mx * mx, yy - my * my, xy - mx * my, c1, c2, components)
        wi = None if weights is None else weights[i:j]
        for k in keys:
            out[k].append(_pool(t[k], wi))
        if want_map:
            maps.append(t["ssim"])
    res = {k: torch.cat(v) for k, v in out.items()}
    if want_map:
        res["map"] = torch.cat(maps)
    return res


def _weight_map(weights: Any, pair: ImagePair, r: int, same: bool) -> torch.Tensor:
    """(n,1,H',W') weight of each window, i.e. the weight at the window's centre pixel."""
    n, _, h, w = pair.x.shape
    wt = weights if isinstance(weights, torch.Tensor) else torch.from_numpy(np.asarray(weights, dtype=np.float64))
    if not wt.is_floating_point():
        wt = wt.to(pair.dtype)
    if wt.ndim == 2:
        wt = wt[None, None]
    elif wt.ndim == 3:
        wt = wt[:, None]
    if wt.ndim != 4 or tuple(wt.shape[-2:]) != (h, w) or wt.shape[1] != 1 or wt.shape[0] not in (1, n):
        raise ShapeError(f"weights must be an HxW map of the image size ({h}x{w}), or (N,H,W) for a batch; "
                         f"got shape {tuple(weights.shape)}")
    wt = wt.expand(n, 1, h, w)
    if not bool(torch.isfinite(wt).all()) or bool((wt < 0).any()):
        raise InputError("weights must be finite and >= 0")
    if not same:
        wt = wt[..., r:h - r, r:w - r]
    if bool((wt.sum((-2, -1)) <= 0).any()):
        raise InputError("weights are zero everywhere SSIM is computed (the window centres"
                         + ("" if same else f", i.e. {r} px in from the border") + "); give some weight > 0")
    return wt.to(pair.dtype)


def _map_layout(m: torch.Tensor, pair: ImagePair):
    if pair.numpy_layout is None:
        return m if not pair.single else m[0]
    arr = m[0].detach().numpy()
    return arr[0] if pair.numpy_layout == "HW" else arr.transpose(1, 2, 0)


def ssim(a: Any, b: Any, *, data_range: float | None = None, weights: Any = None,
         win_size: int = 11, sigma: float = 1.5, k1: float = 0.01, k2: float = 0.03,
         padding: str = "valid", full: bool = False, backend: str = "auto"):
    r"""Structural similarity (Wang, Bovik, Sheikh & Simoncelli 2004, IEEE TIP 13(4), ``ssim_index.m``).

    With local Gaussian-weighted statistics (11×11 window, σ = 1.5) μx, μy, σx², σy², σxy::

        SSIM(x, y) = (2 μx μy + C1)(2 σxy + C2) / ((μx² + μy² + C1)(σx² + σy² + C2))
                   = l · c · s,   C1 = (K1 L)², C2 = (K2 L)², C3 = C2 / 2,
        l = (2 μx μy + C1)/(μx² + μy² + C1), c = (2 σx σy + C2)/(σx² + σy² + C2),
        s = (σxy + C3)/(σx σy + C3)

    with L = ``data_range``, K1 = 0.01, K2 = 0.03 and population (not sample) covariances.
    The score is the mean of the map over the *valid* window positions (``padding="valid"``,
    as ``ssim_index.m`` and scikit-image) or over every pixel with symmetric borders
    (``padding="same"``). Images smaller than the window are computed with ``"same"``.
    Colour: per channel, then the mean over channels.

    ``weights``: an HxW map (or (N,H,W) for a batch) of non-negative weights; the score is
    Σ w·SSIM / Σ w with the weight of each window taken at its centre pixel (masked SSIM:
    0/1 masks; motion or gradient weights).

    Range [-1, 1], 1 iff identical (identical constant images give 1.0, never NaN).
    Returns a float (one numpy pair), a tensor (N,) (batch; 0-d for one tensor pair); with ``full=True`` an
    :class:`SSIMResult` (score, SSIM map, mean luminance / contrast / structure terms).
    ``backend``: "opencv" (fast, no gradient), "torch" (differentiable) or "auto" (torch when
    a gradient is needed). Differentiable on the torch backend.
    """
    _check_window(win_size, sigma, k1, k2)
    check_choice(padding, "padding", ("valid", "same"))
    pair = image_pair(a, b, data_range)
    wt_in = weights if isinstance(weights, torch.Tensor) else None
    be = _pick_backend(backend, pair.x, pair.y, wt_in)
    h, w = pair.x.shape[-2:]
    same = padding == "same" or min(h, w) < win_size
    r = win_size // 2
    wmap = None if weights is None else _weight_map(weights, pair, r, same)
    res = _ssim_stats(pair.x, pair.y, pair.data_range, pair.dtype, win=gaussian_window(win_size, sigma),
                      c1=k1 * k1, c2=k2 * k2, same=same, weights=wmap, want_map=full,
                      components=full, backend=be)
    value = finish(res["ssim"].mean(1), pair)
    if not full:
        return value
    terms = [finish(res[k].mean(1), pair) for k in ("luminance", "contrast", "structure")]
    return SSIMResult(value, _map_layout(res["map"], pair), *terms)


def _down2(z: torch.Tensor) -> torch.Tensor:
    """2×2 mean and decimation; an odd last row/column is averaged with itself (as the
    'symmetric' 2×2 low-pass of Wang's ``msssim.m``)."""
    ph, pw = z.shape[-2] % 2, z.shape[-1] % 2
    if ph or pw:
        z = F.pad(z, (0, pw, 0, ph), mode="replicate")
    return F.avg_pool2d(z, 2)


def ms_ssim_scales(height: int, width: int, win_size: int = 11, max_scales: int = 5) -> int:
    """Number of MS-SSIM scales an image supports: the window must fit inside the image at
    the coarsest scale (sizes halve, rounding up); at least 1."""
    m, h, w = 1, height, width
    while m < max_scales:
        h, w = (h + 1) // 2, (w + 1) // 2
        if min(h, w) < win_size:
            break
        m += 1
    return m


def ms_ssim(a: Any, b: Any, *, data_range: float | None = None, scale_weights: Sequence[float] = MS_SSIM_WEIGHTS,
            win_size: int = 11, sigma: float = 1.5, k1: float = 0.01, k2: float = 0.03,
            backend: str = "auto"):
    r"""Multi-scale SSIM (Wang, Simoncelli & Bovik 2003, Asilomar; ``msssim.m``)::

        MS-SSIM = [l_M]^{β_M} · Π_{j=1..M} [cs_j]^{β_j}

    where cs_j is the mean contrast-structure term ``(2σxy + C2)/(σx² + σy² + C2)`` at scale j
    (each scale a 2×2 mean + decimation of the previous one) and the last factor is the full
    SSIM at the coarsest scale; β = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333).
    Per channel, then the mean over channels; negative per-scale means are clipped at 0 (as
    pytorch-msssim) so the result is never NaN. Range [0, 1].

    **Small images**: five scales need the 11-px window to fit at 1/16 size (≥ 161 px). An
    image supports M = :func:`ms_ssim_scales` scales; MS-SSIM then uses the first M weights
    renormalised to sum to 1 (M = 1 is plain SSIM; images smaller than the window use
    ``padding="same"``), instead of failing.
    Returns a float (one pair) or a tensor (N,). Differentiable on the torch backend.
    """
    _check_window(win_size, sigma, k1, k2)
    pair = image_pair(a, b, data_range)
    be = _pick_backend(backend, pair.x, pair.y)
    n, c, h, w = pair.x.shape
    sw = [float(v) for v in scale_weights]
    if not sw or any(v < 0 or not math.isfinite(v) for v in sw) or sum(sw) <= 0:
        raise InputError(f"scale_weights must be non-negative with a positive sum, got {scale_weights!r}")
    m = ms_ssim_scales(h, w, win_size, len(sw))
    beta = torch.tensor(sw[:m], dtype=pair.dtype)
    beta = beta / beta.sum()
    win = gaussian_window(win_size, sigma)
    c1, c2 = k1 * k1, k2 * k2
    if be == "opencv":  # one channel plane at a time, its pyramid in numpy
        win_np = win.numpy().astype(_np_dtype(pair.dtype))
        vals = np.empty((n, c))
        for i in range(n):
            for j in range(c):
                px = _plane(pair.x, i, j, pair.dtype, pair.data_range)
                py = _plane(pair.y, i, j, pair.dtype, pair.data_range)
                f = []
                for s in range(m):
                    st = _plane_stats(px, py, win_np, c1=c1, c2=c2, same=min(px.shape) < win_size, weights=None,
                                      want_map=False, components=False)
                    f.append(max(st["ssim" if s == m - 1 else "cs"], 0.0))
                    if s < m - 1:
                        px, py = _down2_np(px), _down2_np(py)
                vals[i, j] = float(np.prod(np.asarray(f) ** beta.numpy()))
        return finish(torch.from_numpy(vals.mean(1)).to(pair.dtype), pair)
    itemsize = torch.finfo(pair.dtype).bits // 8
    values = []
    for i, j in _chunk_items(n, c * h * w * itemsize * 28):
        xs = pair.x[i:j].to(pair.dtype) / pair.data_range
        ys = pair.y[i:j].to(pair.dtype) / pair.data_range
        factors = []
        for s in range(m):
            st = _ssim_stats(xs, ys, 1.0, pair.dtype, win=win, c1=c1, c2=c2,
                             same=min(xs.shape[-2:]) < win_size, weights=None, want_map=False,
                             components=False, backend="torch")
            factors.append(st["ssim" if s == m - 1 else "cs"].clamp(min=0))
            if s < m - 1:
                xs, ys = _down2(xs), _down2(ys)
        f = torch.stack(factors)                      # (m, n, c)
        values.append(torch.prod(f ** beta.view(-1, 1, 1), 0).mean(1))
    return finish(torch.cat(values), pair)


def _pixel_reduce(a: Any, b: Any, kind: str, data_range: float | None, need_range: bool) -> tuple[torch.Tensor, ImagePair]:
    pair = image_pair(a, b, data_range, need_range=need_range)
    n, c, h, w = pair.x.shape
    itemsize = torch.finfo(pair.dtype).bits // 8
    out = []
    for i, j in _chunk_items(n, c * h * w * itemsize * 3):
        d = pair.x[i:j].to(pair.dtype) - pair.y[i:j].to(pair.dtype)
        out.append((d * d if kind == "sq" else d.abs()).mean((1, 2, 3)))
    return torch.cat(out), pair


def mse(a: Any, b: Any):
    """Mean squared error ``mean((a - b)²)`` over all pixels and channels, in the input's units.
    Range [0, ∞), 0 iff identical. Float (one pair) or tensor (N,). Differentiable."""
    v, pair = _pixel_reduce(a, b, "sq", None, False)
    return finish(v, pair)


def mae(a: Any, b: Any):
    """Mean absolute error ``mean(|a - b|)`` in the input's units. Range [0, ∞). Differentiable."""
    v, pair = _pixel_reduce(a, b, "abs", None, False)
    return finish(v, pair)


def psnr(a: Any, b: Any, *, data_range: float | None = None):
    """Peak signal-to-noise ratio ``10 · log10(L² / MSE)`` in dB, L = ``data_range``
    (from the integer dtype; required for floats). Range (-∞, ∞]; identical images give
    ``inf`` (as scikit-image), never NaN. Float (one pair) or tensor (N,). Differentiable."""
    v, pair = _pixel_reduce(a, b, "sq", data_range, True)
    return finish(10 * torch.log10(pair.data_range ** 2 / v), pair)
