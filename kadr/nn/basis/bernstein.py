"""Bernstein polynomials b_{v,n}(s) = C(n, v) s^v (1 − s)^{n−v}, s = (x − lo)/(hi − lo) ∈ [0, 1],
n = K − 1 (a partition of unity; the basis of Bézier curves)."""

from __future__ import annotations

import math

import torch

from kadr.nn.basis.base import Basis, grid_bounds


class Bernstein(Basis):
    name = "bernstein"

    def features(self, x, grid, order):
        lo, hi = grid_bounds(grid, order)
        s = ((x - lo) / (hi - lo)).unsqueeze(-1)
        n = grid.shape[1] - order - 2
        v = torch.arange(n + 1, dtype=x.dtype, device=x.device)
        binom = torch.tensor([math.comb(n, i) for i in range(n + 1)], dtype=x.dtype, device=x.device)
        # s**0 and (1-s)**0 are 1 even at s = 0 or 1 (torch.pow(0, 0) == 1)
        return binom * torch.pow(s, v) * torch.pow(1 - s, n - v)
