"""Chebyshev polynomials of the first kind (ChebyKAN, SS et al. 2024):
T_0 = 1, T_1 = s, T_n = 2 s T_{n−1} − T_{n−2}, with s = 2(x − lo)/(hi − lo) − 1 ∈ [−1, 1].
Degree K − 1 = grid_size + spline_order − 1."""

from __future__ import annotations

import torch

from kadr.nn.basis.base import Basis, grid_bounds


class Chebyshev(Basis):
    name = "chebyshev"

    def features(self, x, grid, order):
        lo, hi = grid_bounds(grid, order)
        s = 2 * (x - lo) / (hi - lo) - 1
        k = grid.shape[1] - order - 1
        out = [torch.ones_like(s), s]
        for _ in range(2, k):
            out.append(2 * s * out[-1] - out[-2])
        return torch.stack(out[:k], -1)
