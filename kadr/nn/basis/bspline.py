"""B-spline basis (the KAN paper's choice): Cox–de Boor recursion on any knot vector, and a
closed form for the cubic case on a uniform grid.

On a uniform grid with spacing h a cubic B-spline has exactly 4 non-zero bases at any x:
in the cell [t_j, t_{j+1}) with u = (x − t_j)/h ∈ [0, 1) they are B_{j−3} … B_j with weights

    (1−u)³/6,  (3u³ − 6u² + 4)/6,  (−3u³ + 3u² + 3u + 1)/6,  u³/6

(de Boor, *A Practical Guide to Splines*, 1978; the uniform cardinal cubic B-spline).
"""

from __future__ import annotations

import torch

from kadr.nn.basis.base import Basis


def _ratio(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    """num / den with 0/0 := 0 (de Boor's convention for repeated knots)."""
    safe = torch.where(den == 0, torch.ones_like(den), den)
    return torch.where(den == 0, torch.zeros_like(num), num / safe)


def cox_de_boor(x: torch.Tensor, grid: torch.Tensor, order: int) -> torch.Tensor:
    """All B-spline bases of degree ``order`` on knots ``grid`` at ``x``.

    x: (N, I); grid: (I, M) non-decreasing knots. Returns (N, I, M − order − 1).
    Degree 0: B_m = 1 on [t_m, t_{m+1}); degree p: B_m^p = (x − t_m)/(t_{m+p} − t_m)·B_m^{p−1}
    + (t_{m+p+1} − x)/(t_{m+p+1} − t_{m+1})·B_{m+1}^{p−1} (de Boor 1978). Zero outside
    [t_0, t_{M−1}).
    """
    pt = x.unsqueeze(-1)
    knots = grid.unsqueeze(0)
    m = knots.shape[-1]
    basis = ((knots[..., :-1] <= pt) & (pt < knots[..., 1:])).to(x.dtype)
    for p in range(1, order + 1):
        n_out = m - 1 - p
        t_m, t_mp = knots[..., :n_out], knots[..., p:p + n_out]
        t_m1, t_mp1 = knots[..., 1:1 + n_out], knots[..., p + 1:p + 1 + n_out]
        rising = _ratio(pt - t_m, t_mp - t_m)
        falling = _ratio(t_mp1 - pt, t_mp1 - t_m1)
        basis = rising * basis[..., :n_out] + falling * basis[..., 1:1 + n_out]
    return basis


def cubic_weights(u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The 4 non-zero uniform cubic B-spline weights at cell position ``u`` ∈ [0, 1]."""
    u2 = u * u
    u3 = u2 * u
    om = 1 - u
    return om * om * om * (1 / 6), u3 * 0.5 - u2 + (2 / 3), (u2 + u - u3) * 0.5 + (1 / 6), u3 * (1 / 6)


def cubic_weight_derivatives(u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """d/du of :func:`cubic_weights`."""
    u2 = u * u
    om = 1 - u
    return om * om * -0.5, 1.5 * u2 - 2 * u, 0.5 + u - 1.5 * u2, 0.5 * u2


class BSpline(Basis):
    name = "bspline"
    uses_knots = True

    def features(self, x, grid, order):
        # x is clamped to [lo, hi]; at x == hi the half-open cells put it in the first padding
        # cell, whose bases continue the spline continuously, so the value is the limit from the left.
        return cox_de_boor(x, grid, order)
