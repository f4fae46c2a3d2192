"""Registry of KAN basis families, keyed by the name passed as ``KANLinear(basis=...)``."""

from kadr._registry import Registry
from kadr.nn.basis.base import Basis, clamp_to_range, grid_bounds
from kadr.nn.basis.bernstein import Bernstein
from kadr.nn.basis.bspline import BSpline
from kadr.nn.basis.chebyshev import Chebyshev
from kadr.nn.basis.rbf import RBF

BASES: Registry[Basis] = Registry("basis")
for _cls in (BSpline, Chebyshev, Bernstein, RBF):
    BASES.register(_cls.name, _cls())

__all__ = ["BASES", "Basis", "clamp_to_range", "grid_bounds"]
