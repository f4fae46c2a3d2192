"""The metric registry: names users type → callables carrying their metadata.

``kadr.metrics.get("ssim")(a, b)`` computes; ``.higher_is_better``, ``.range``,
``.differentiable``, ``.input`` ("image", "embedding", "token_set", "representation"),
``.needs_data_range`` and ``.accepts_weights`` describe it. An unknown name lists the valid ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

from kadr._registry import Registry
from kadr.metrics import functional as fn

INPUT_KINDS = ("image", "embedding", "token_set", "representation")


@dataclass(frozen=True)
class Metric:
    """A metric function with its metadata; call it like the function."""

    name: str
    fn: Callable[..., Any] = field(repr=False)
    higher_is_better: bool
    range: tuple[float, float]
    differentiable: bool
    input: str
    description: str
    needs_data_range: bool = False
    accepts_weights: bool = False
    unit: str = ""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def to_dict(self) -> dict:
        lo, hi = self.range
        return {"name": self.name, "higher_is_better": self.higher_is_better,
                "range": [lo if math.isfinite(lo) else str(lo), hi if math.isfinite(hi) else str(hi)],
                "differentiable": self.differentiable, "input": self.input,
                "needs_data_range": self.needs_data_range, "accepts_weights": self.accepts_weights,
                "unit": self.unit, "description": self.description}


REGISTRY: Registry[Metric] = Registry("metric")
INF = float("inf")


def _add(name: str, func: Callable, hib: bool, rng: tuple[float, float], diff: bool, kind: str, desc: str,
         **extra: Any) -> None:
    REGISTRY.register(name, Metric(name, func, hib, rng, diff, kind, desc, **extra))


def _vit_f1(candidate: Any, reference: Any) -> Any:
    return fn.vit_score(candidate, reference).f1


def _cka_rbf(x: Any, y: Any, **kw: Any) -> Any:
    return fn.cka(x, y, kernel="rbf", **kw)


def _cka_debiased(x: Any, y: Any, **kw: Any) -> Any:
    return fn.cka(x, y, debiased=True, **kw)


_add("mse", fn.mse, False, (0.0, INF), True, "image", "mean squared error (input units²)")
_add("mae", fn.mae, False, (0.0, INF), True, "image", "mean absolute error (input units)")
_add("psnr", fn.psnr, True, (-INF, INF), True, "image", "peak signal-to-noise ratio", needs_data_range=True,
     unit="dB")
_add("ssim", fn.ssim, True, (-1.0, 1.0), True, "image", "structural similarity (Wang et al. 2004)",
     needs_data_range=True, accepts_weights=True)
_add("ms_ssim", fn.ms_ssim, True, (0.0, 1.0), True, "image", "multi-scale SSIM (Wang et al. 2003)",
     needs_data_range=True)
_add("cosine", fn.cosine_similarity, True, (-1.0, 1.0), True, "embedding", "cosine similarity")
_add("cosine_distance", fn.cosine_distance, False, (0.0, 2.0), True, "embedding", "1 - cosine similarity")
_add("dot", fn.dot, True, (-INF, INF), True, "embedding", "inner product")
_add("l1", fn.l1_distance, False, (0.0, INF), True, "embedding", "L1 (city-block) distance")
_add("l2", fn.l2_distance, False, (0.0, INF), True, "embedding", "Euclidean distance")
_add("clip_score", fn.clip_score, True, (0.0, fn.CLIP_SCORE_W), True, "embedding",
     "CLIPScore w*max(cos, 0), w=2.5 (Hessel et al. 2021)")
_add("vit_score", _vit_f1, True, (-1.0, 1.0), True, "token_set",
     "ViTScore F1 of greedy token matching (BERTScore-style)")
_add("cka", fn.cka, True, (0.0, 1.0), True, "representation", "linear CKA (Kornblith et al. 2019)")
_add("cka_rbf", _cka_rbf, True, (0.0, 1.0), True, "representation", "RBF-kernel CKA, sigma = frac * median distance")
_add("cka_debiased", _cka_debiased, True, (-1.0, 1.0), True, "representation",
     "linear CKA with the unbiased HSIC estimator (Song et al. 2012)")


def get(name: str) -> Metric:
    """The :class:`Metric` registered as ``name`` (UnknownNameError lists the valid names)."""
    return REGISTRY.get(name)


def names(input: str | None = None) -> list[str]:
    """Registered metric names, optionally only those taking ``input`` (e.g. "image")."""
    return [n for n in REGISTRY.names() if input is None or REGISTRY.get(n).input == input]
