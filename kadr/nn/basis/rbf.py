"""Gaussian radial basis functions (FastKAN, Li 2024): exp(−((x − c_m)/h)²) with K centres
c_m spread uniformly over the grid range and h their spacing."""

from __future__ import annotations

import torch

from kadr.nn.basis.base import Basis, grid_bounds


class RBF(Basis):
    name = "rbf"

    def features(self, x, grid, order):
        lo, hi = grid_bounds(grid, order)
        k = grid.shape[1] - order - 1
        steps = torch.linspace(0, 1, k, dtype=x.dtype, device=x.device)
        centres = lo.unsqueeze(-1) + (hi - lo).unsqueeze(-1) * steps  # (I, K)
        h = ((hi - lo) / (k - 1)).unsqueeze(-1)
        return torch.exp(-(((x.unsqueeze(-1) - centres) / h) ** 2))
