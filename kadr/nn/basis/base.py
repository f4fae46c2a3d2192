"""The extension point of :class:`kadr.nn.KANLinear`: a family of 1-D basis functions.

Every basis gives each edge ``K = grid_size + spline_order`` learnable coefficients, so the
four families have the same number of parameters for the same options and one layer can
switch between them. All of them read their domain from the layer's knot buffer
``grid`` of shape (I, grid_size + 2·spline_order + 1): the grid range of input ``i`` is
``[grid[i, k], grid[i, -k-1]]`` with ``k = spline_order``. B-splines use every knot; the
others use the range only (uniform centres for ``rbf``).

Outside its range the learnable part continues linearly with its value and slope at the
nearest end of the range (:meth:`KANLinear.basis_features`); the SiLU base branch of the
layer sees the raw input.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch


def grid_bounds(grid: torch.Tensor, order: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(lo, hi) of each input's grid range, each of shape (I,)."""
    return grid[:, order], grid[:, -order - 1]


def clamp_to_range(x: torch.Tensor, grid: torch.Tensor, order: int) -> torch.Tensor:
    """Clamp ``x`` (N, I) into each input's grid range."""
    lo, hi = grid_bounds(grid, order)
    return torch.maximum(torch.minimum(x, hi), lo)


class Basis(ABC):
    """A family of basis functions B_0 … B_{K−1} on each input's grid range.

    Subclasses set ``name`` and implement :meth:`features`; the layer does the rest.
    """

    name: str = ""
    #: True when :meth:`features` depends on interior knots (not only on the range), so a
    #: quantile (non-uniform) grid changes the basis.
    uses_knots: bool = False

    @abstractmethod
    def features(self, x: torch.Tensor, grid: torch.Tensor, order: int) -> torch.Tensor:
        """Values of the K basis functions at ``x``.

        x: (N, I) already clamped to the grid range; grid: (I, M) knots.
        Returns (N, I, K) with K = M − order − 1. Differentiable in ``x``; traceable for ONNX.
        """

    def n_coef(self, grid_size: int, order: int) -> int:
        return grid_size + order
