r"""Streaming metrics: ``update(...)`` as data arrives, ``compute()`` at any time, ``reset()``.

- :class:`RunningSSIM`, :class:`RunningPSNR`: mean over a series of frame pairs.
- :class:`MinibatchCKA`: CKA accumulated over minibatches (Nguyen et al. 2021).
- :class:`CentredSimilarity`: centred-softmax similarity between a stream of frame
  embeddings and a set of query (candidate) embeddings.

Centred-softmax similarity
--------------------------
Embeddings of one encoder share a common component (their mean is far from 0), which lifts
the plain cosine of unrelated images. Centring removes a mean embedding μ before the cosine,
and a softmax over the candidates turns the scores into probabilities::

    cosine[n, j]  = cos(f_n, q_j)
    centred[n, j] = cos(f_n − μ, q_j − μ)
    prob[n, j]    = exp(centred[n, j] / T) / Σ_j' exp(centred[n, j'] / T)

for frames f_n (n, D), queries q_j (q, D) and temperature T. The centre μ is a choice:

- ``"none"``: μ = 0 (centred = cosine);
- ``"running"``: the running mean of every frame embedding passed to :meth:`update`;
- ``"ema"``: the exponentially weighted mean, μ ← (1 − α) μ + α f for each frame;
- ``"fixed"``: a mean given once (a library or corpus mean; :meth:`set_mean`);
- ``"auto"`` (default): ``"fixed"`` when a mean is given, else ``"none"``.

Over a series of frames (a shot, a time window) :meth:`CentredSimilarity.expected` gives,
per query, the expected centred similarity under a softmax over the *frames*
``E_j = Σ_n softmax_n(centred[n, j] / T) · centred[n, j]`` (a smooth maximum over the
series) and the mean probability ``P_j = mean_n prob[n, j]``.

Measured (``benchmarks/metrics.py``, EfficientNet-Lite0 embeddings of zoomed / panned /
re-encoded views of 16 pictures streamed frame by frame, 3 arrangements; AUC of matching vs
non-matching (frame, reference) pairs; ``benchmarks/results/metrics.md``): plain cosine 0.994,
running mean 0.994, EMA α=0.05 0.954, EMA α=0.2 0.750, fixed library mean 0.996, fixed
corpus mean 0.997 (TPR at 1 % FPR 0.86 / 0.84 / 0.60 / 0.30 / 0.91 / 0.94). A stream mean is
dominated by what is on screen and subtracting it removes what is searched for; a fixed mean
helps a little. Hence :data:`DEFAULT_CENTRE` = ``"auto"``: ``"fixed"`` when a library mean is
given, plain cosine otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from kadr._checks import check_choice, check_positive, check_range
from kadr._options import opt
from kadr.errors import InputError, ShapeError
from kadr.metrics.functional._inputs import from_numpy
from kadr.metrics.functional.cka import _ratio, minibatch_hsic_terms
from kadr.metrics.functional.structural import psnr, ssim
from kadr.metrics.functional.vectors import EPS, _normalise

CENTRES = ("none", "running", "ema", "fixed")
#: "auto" = "fixed" when a library/corpus mean is given, else "none" (plain cosine): the
#: measurement in benchmarks/results/metrics.md (stream means hurt, a fixed mean helps)
CENTRE_CHOICES = ("auto", *CENTRES)
DEFAULT_CENTRE = "auto"


class StreamingMetric:
    """Base of the torchmetrics-style streaming metrics."""

    def update(self, *args: Any, **kwargs: Any) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def compute(self) -> Any:  # pragma: no cover - interface
        raise NotImplementedError

    def reset(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError


class _RunningMean(StreamingMetric):
    """Mean (and min) of a per-pair image metric over all pairs seen."""

    _fn = staticmethod(ssim)

    def __init__(self, **options: Any):
        self.options = options
        self.reset()

    def reset(self) -> None:
        self.total = 0.0
        self.count = 0
        self.min = float("inf")

    def update(self, a: Any, b: Any) -> None:
        """Add one pair (numpy images) or a batch (torch (N,C,H,W))."""
        v = self._fn(a, b, **self.options)
        vals = [v] if isinstance(v, float) else [float(t) for t in v.detach().reshape(-1)]
        self.total += sum(vals)
        self.count += len(vals)
        self.min = min([self.min, *vals])

    def compute(self) -> float:
        if self.count == 0:
            raise InputError(f"{type(self).__name__}.compute() called before any update()")
        return self.total / self.count


class RunningSSIM(_RunningMean):
    """Mean SSIM over a series of frame pairs; options as :func:`kadr.metrics.functional.ssim`
    (``data_range``, ``weights``...). ``min`` holds the worst pair."""

    _fn = staticmethod(ssim)


class RunningPSNR(_RunningMean):
    """Mean of the per-pair PSNR (dB) over a series of frame pairs (identical pairs give inf,
    so the mean is then inf); ``min`` holds the worst pair."""

    _fn = staticmethod(psnr)


class MinibatchCKA(StreamingMetric):
    """Minibatch CKA (Nguyen, Raghu & Kornblith 2021): ``update(X_i, Y_i)`` adds the unbiased
    HSIC₁ terms of one minibatch (≥ 4 examples); ``compute()`` = Σ HSIC₁(K,L) /
    sqrt(Σ HSIC₁(K,K) · Σ HSIC₁(L,L)). Memory is O(batch²) whatever the number of batches."""

    def __init__(self, *, kernel: str = "linear", sigma_frac: float = 1.0):
        self.kernel = kernel
        self.sigma_frac = sigma_frac
        self.reset()

    def reset(self) -> None:
        self._sums: torch.Tensor | None = None
        self.batches = 0

    def update(self, x: Any, y: Any) -> None:
        t = minibatch_hsic_terms(x, y, kernel=self.kernel, sigma_frac=self.sigma_frac).detach().double()
        self._sums = t if self._sums is None else self._sums + t
        self.batches += 1

    def compute(self) -> float:
        if self._sums is None:
            raise InputError("MinibatchCKA.compute() called before any update()")
        return float(_ratio(*self._sums))


@dataclass
class CentredSimilarityOptions:
    """Options of :class:`CentredSimilarity` (the CLI derives its flags from these)."""

    centre: str = opt(DEFAULT_CENTRE, "mean removed before the cosine: auto (fixed when a library mean is "
                                      "given, else none), none, running (stream mean), ema (exponentially "
                                      "weighted stream mean) or fixed (library mean)",
                      choices=CENTRE_CHOICES)
    temperature: float = opt(0.05, "softmax temperature over the candidates (smaller = sharper)")
    ema_alpha: float = opt(0.05, "weight of each new frame in the exponentially weighted mean (centre=ema)")


def _emb(v: Any, name: str) -> tuple[torch.Tensor, bool]:
    numpy = not isinstance(v, torch.Tensor)
    t = from_numpy(np.asarray(v)) if numpy else v
    if t.ndim == 1:
        t = t[None]
    if t.ndim != 2:
        raise ShapeError(f"{name} must be embeddings (n, D), got shape {tuple(t.shape)}")
    if not bool(torch.isfinite(t).all()):
        raise InputError(f"{name} contain NaN or infinite values")
    return t.to(torch.float64 if t.dtype == torch.float64 else torch.float32), numpy


class CentredSimilarity(StreamingMetric):
    """Streaming centred-softmax similarity of frame embeddings against query embeddings
    (maths in the :mod:`kadr.metrics.streaming` docstring).

    ``update(frames (n, D))`` feeds the stream (moves the running / EMA centre);
    ``score(queries (q, D), frames (n, D))`` → ``{"cosine", "centred", "prob"}``, each (n, q);
    ``expected(queries, frames)`` → ``{"expected", "prob"}``, each (q,), over the series;
    ``compute()`` → the current centre (D,) or None. numpy in → numpy out.
    Before the first update a running/EMA centre is undefined and scores are plain cosines.
    """

    def __init__(self, centre: str | None = None, *, mean: Any = None, temperature: float | None = None,
                 ema_alpha: float | None = None, options: CentredSimilarityOptions | None = None):
        o = options or CentredSimilarityOptions()
        self.requested_centre = check_choice(centre if centre is not None else o.centre, "centre", CENTRE_CHOICES)
        self.temperature = float(check_positive(temperature if temperature is not None else o.temperature,
                                                "temperature"))
        alpha = ema_alpha if ema_alpha is not None else o.ema_alpha
        self.ema_alpha = check_range(alpha, "ema_alpha", 0.0, 1.0)
        if self.ema_alpha == 0:
            raise InputError("ema_alpha must be > 0 (0 would never move the centre)")
        self._fixed: torch.Tensor | None = None
        if mean is not None:
            self.set_mean(mean)
        elif self.requested_centre == "fixed":
            raise InputError("centre='fixed' needs mean=...: a (D,) library mean or (n, D) library "
                             "embeddings to average")
        self.reset()

    @property
    def centre(self) -> str:
        """The centre in use ("auto" resolved: "fixed" once a mean is set, else "none")."""
        if self.requested_centre == "auto":
            return "fixed" if self._fixed is not None else "none"
        return self.requested_centre

    def set_mean(self, mean: Any) -> None:
        """Set the fixed centre: a (D,) mean or (n, D) corpus embeddings (averaged)."""
        t, _ = _emb(mean, "mean")
        self._fixed = t.mean(0)

    def reset(self) -> None:
        """Forget the stream (running/EMA centre); a fixed mean is kept."""
        self._sum: torch.Tensor | None = None
        self._count = 0
        self._ema: torch.Tensor | None = None

    def update(self, frames: Any) -> None:
        f, _ = _emb(frames, "frames")
        f = f.double()
        if self._sum is None:
            self._sum = f.sum(0)
        else:
            if f.shape[1] != self._sum.shape[0]:
                raise ShapeError(f"frames have dimension {f.shape[1]}, the stream so far {self._sum.shape[0]}")
            self._sum = self._sum + f.sum(0)
        self._count += f.shape[0]
        a = self.ema_alpha
        rows = f if self._ema is not None else f[1:]
        ema = self._ema if self._ema is not None else f[0]
        if rows.shape[0]:  # closed form of n successive updates μ ← (1−α)μ + α f_i
            n = rows.shape[0]
            w = a * (1 - a) ** torch.arange(n - 1, -1, -1, dtype=torch.float64)
            ema = (1 - a) ** n * ema + (w[:, None] * rows).sum(0)
        self._ema = ema

    def centre_vector(self) -> torch.Tensor | None:
        if self.centre == "none":
            return None
        if self.centre == "fixed":
            return self._fixed
        if self._count == 0:
            return None
        return self._sum / self._count if self.centre == "running" else self._ema

    def compute(self) -> Any:
        c = self.centre_vector()
        return None if c is None else c.float().numpy()

    def _scores(self, queries: Any, frames: Any) -> tuple[dict, bool]:
        q, n1 = _emb(queries, "queries")
        f, n2 = _emb(frames, "frames")
        if q.shape[1] != f.shape[1]:
            raise ShapeError(f"queries (D={q.shape[1]}) and frames (D={f.shape[1]}) have different dimensions")
        dtype = torch.promote_types(q.dtype, f.dtype)
        q, f = q.to(dtype), f.to(dtype)
        cos = _normalise(f, EPS) @ _normalise(q, EPS).T
        mu = self.centre_vector()
        if mu is None:
            cen = cos
        else:
            if mu.shape[0] != q.shape[1]:
                raise ShapeError(f"the centre has dimension {mu.shape[0]}, the embeddings {q.shape[1]}")
            mu = mu.to(dtype)
            cen = _normalise(f - mu, EPS) @ _normalise(q - mu, EPS).T
        prob = torch.softmax(cen / self.temperature, dim=1)
        return {"cosine": cos, "centred": cen, "prob": prob}, n1 and n2

    @staticmethod
    def _out(d: dict, numpy: bool) -> dict:
        return {k: (v.numpy() if numpy else v) for k, v in d.items()}

    def score(self, queries: Any, frames: Any) -> dict:
        """``{"cosine", "centred", "prob"}`` (n frames, q queries); prob rows sum to 1."""
        d, numpy = self._scores(queries, frames)
        return self._out(d, numpy)

    def expected(self, queries: Any, frames: Any) -> dict:
        """Over the series of ``frames``: ``expected`` (q,) = Σ_n softmax_n(centred/T)·centred
        and ``prob`` (q,) = mean_n prob[n, ·]."""
        d, numpy = self._scores(queries, frames)
        w = torch.softmax(d["centred"] / self.temperature, dim=0)
        return self._out({"expected": (w * d["centred"]).sum(0), "prob": d["prob"].mean(0)}, numpy)
