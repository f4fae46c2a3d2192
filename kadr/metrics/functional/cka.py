r"""Centred kernel alignment (CKA) between two representations of the same n examples.

Kornblith, Norouzi, Lee & Hinton 2019 (ICML), "Similarity of Neural Network Representations
Revisited"::

    HSIC(K, L) = tr(K H L H) / (n − 1)²,  H = I − 11ᵀ/n
    CKA(K, L)  = HSIC(K, L) / sqrt(HSIC(K, K) · HSIC(L, L))

with Gram matrices K = k(X, X), L = k(Y, Y): linear ``k(x, x') = x·x'`` or RBF
``exp(−‖x − x'‖² / 2σ²)`` with σ = ``sigma_frac`` × the median pairwise distance (as in the
paper's code). The *debiased* estimator replaces HSIC by the unbiased HSIC₁ of Song et al.
2012 (JMLR, "Feature Selection via Dependence Maximization", eq. 5), as used for CKA by
Nguyen, Raghu & Kornblith 2021 (ICLR, "Do Wide and Deep Networks Learn the Same Things?"),
with K̃, L̃ the Gram matrices with zeroed diagonals::

    HSIC₁ = [tr(K̃L̃) + 1ᵀK̃1 · 1ᵀL̃1 / ((n−1)(n−2)) − 2/(n−2) · 1ᵀK̃L̃1] / (n(n−3))

Minibatch CKA (Nguyen et al. 2021, Sec. 3.1) averages HSIC₁ over k minibatches::

    CKA_mb = Σ_i HSIC₁(K_i, L_i) / sqrt(Σ_i HSIC₁(K_i, K_i) · Σ_i HSIC₁(L_i, L_i))

X (n, p) and Y (n, q) may differ in width. CKA is invariant to orthogonal transforms and
isotropic scaling of either side; CKA(X, X) = 1. Range [0, 1] (the debiased form can dip
slightly below 0). Differentiable (torch input).
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np
import torch

from kadr._checks import check_choice, check_positive
from kadr.errors import InputError, ShapeError
from kadr.metrics.functional._inputs import from_numpy

KERNELS = ("linear", "rbf")


def _rep(v: Any, name: str) -> tuple[torch.Tensor, bool]:
    numpy = not isinstance(v, torch.Tensor)
    t = from_numpy(np.asarray(v)) if numpy else v
    if t.ndim == 1:
        t = t[:, None]
    if t.ndim != 2:
        raise ShapeError(f"{name} must be a representation (n examples, features), got shape {tuple(t.shape)}")
    if numpy or not t.is_floating_point():
        t = t.to(torch.float64)
    return t, numpy


def gram(x: torch.Tensor, kernel: str = "linear", sigma_frac: float = 1.0) -> torch.Tensor:
    """Gram matrix (n, n) of the rows of ``x`` under the linear or RBF kernel."""
    check_choice(kernel, "kernel", KERNELS)
    if kernel == "linear":
        return x @ x.T
    check_positive(sigma_frac, "sigma_frac")
    sq = x.pow(2).sum(1)
    d2 = (sq[:, None] + sq[None, :] - 2 * x @ x.T).clamp(min=0)
    flat = d2.flatten()  # median of squared distances = (median distance)², averaging
    k = flat.numel()              # the two middle values for an even count (as numpy)
    med = (flat.kthvalue((k + 1) // 2).values + flat.kthvalue(k // 2 + 1).values) / 2
    if med <= 0:
        med = torch.ones((), dtype=x.dtype)  # all points equal: any bandwidth gives K = 1
    return torch.exp(-d2 / (2 * sigma_frac ** 2 * med))


def hsic(k: torch.Tensor, l: torch.Tensor, *, debiased: bool = False) -> torch.Tensor:
    """HSIC of two (n, n) Gram matrices: biased ``tr(KHLH)/(n−1)²`` or Song's unbiased HSIC₁."""
    n = k.shape[0]
    if debiased:
        if n < 4:
            raise InputError(f"the debiased HSIC estimator needs at least 4 examples, got {n}")
        kt = k - torch.diag(torch.diagonal(k))
        lt = l - torch.diag(torch.diagonal(l))
        term = (kt * lt).sum() + kt.sum() * lt.sum() / ((n - 1) * (n - 2)) \
            - 2.0 / (n - 2) * (kt.sum(0) * lt.sum(1)).sum()
        return term / (n * (n - 3))
    if n < 2:
        raise InputError(f"HSIC needs at least 2 examples, got {n}")
    kc = k - k.mean(0, keepdim=True) - k.mean(1, keepdim=True) + k.mean()
    lc = l - l.mean(0, keepdim=True) - l.mean(1, keepdim=True) + l.mean()
    return (kc * lc).sum() / (n - 1) ** 2


def _pair(x: Any, y: Any) -> tuple[torch.Tensor, torch.Tensor, bool]:
    a, n1 = _rep(x, "X")
    b, n2 = _rep(y, "Y")
    if a.shape[0] != b.shape[0]:
        raise ShapeError(f"X and Y must describe the same examples (same number of rows), got "
                         f"{a.shape[0]} vs {b.shape[0]}")
    for t, n in ((a, "X"), (b, "Y")):
        if not bool(torch.isfinite(t).all()):
            raise InputError(f"{n} contains NaN or infinite values; CKA of such a representation is undefined")
    dtype = torch.promote_types(a.dtype, b.dtype)
    return a.to(dtype), b.to(dtype), n1 and n2


def _ratio(kl: torch.Tensor, kk: torch.Tensor, ll: torch.Tensor) -> torch.Tensor:
    den = (kk * ll).clamp(min=0).sqrt()
    return torch.where(den > 0, kl / torch.where(den > 0, den, 1), torch.zeros_like(kl))


def cka(x: Any, y: Any, *, kernel: str = "linear", sigma_frac: float = 1.0, debiased: bool = False):
    """CKA between X (n, p) and Y (n, q) (see the module docstring for the formulas).

    ``kernel``: "linear" or "rbf" (σ = ``sigma_frac`` · median distance); ``debiased`` uses
    the unbiased HSIC₁ (n ≥ 4). A constant representation gives 0. Returns a float for numpy
    input, a 0-d tensor for torch input (differentiable)."""
    a, b, numpy = _pair(x, y)
    k, l = gram(a, kernel, sigma_frac), gram(b, kernel, sigma_frac)
    v = _ratio(hsic(k, l, debiased=debiased), hsic(k, k, debiased=debiased), hsic(l, l, debiased=debiased))
    return float(v) if numpy else v


def minibatch_hsic_terms(x: Any, y: Any, *, kernel: str = "linear", sigma_frac: float = 1.0) -> torch.Tensor:
    """(HSIC₁(K,L), HSIC₁(K,K), HSIC₁(L,L)) of one minibatch, the sums minibatch CKA accumulates."""
    a, b, _ = _pair(x, y)
    k, l = gram(a, kernel, sigma_frac), gram(b, kernel, sigma_frac)
    return torch.stack([hsic(k, l, debiased=True), hsic(k, k, debiased=True), hsic(l, l, debiased=True)])


def minibatch_cka(batches: Iterable[tuple[Any, Any]], *, kernel: str = "linear", sigma_frac: float = 1.0):
    """Minibatch CKA over an iterable of (X_i, Y_i) batches (Nguyen et al. 2021); every
    batch needs ≥ 4 examples. See :class:`kadr.metrics.streaming.MinibatchCKA` for the
    streaming form."""
    total = None
    numpy = True
    for x, y in batches:
        numpy = numpy and not isinstance(x, torch.Tensor)
        t = minibatch_hsic_terms(x, y, kernel=kernel, sigma_frac=sigma_frac)
        total = t if total is None else total + t.to(total.dtype)
    if total is None:
        raise InputError("minibatch_cka got no batches")
    v = _ratio(total[0], total[1], total[2])
    return float(v) if numpy else v
