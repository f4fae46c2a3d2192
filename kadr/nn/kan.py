"""Kolmogorov–Arnold network layers (Liu et al. 2024, "KAN: Kolmogorov–Arnold Networks",
arXiv 2404.19756).

Each edge (input i → output o) of a :class:`KANLinear` carries its own learnable 1-D function

    φ_oi(x) = w_b,oi · silu(x) + w_s,oi · Σ_m c_oim · B_m(x)          (paper eq. 2.10)

and an output is the sum over its incoming edges, y_o = Σ_i φ_oi(x_i) + bias_o. ``w_b`` is the
residual SiLU base branch (``base_weight``), ``w_s`` the per-edge scale (``spline_scale``), c the
``coef`` tensor (O, I, K), K = grid_size + spline_order, and B_m one of the bases of
:mod:`kadr.nn.basis` (``bspline``, ``chebyshev``, ``bernstein``, ``rbf``).

Inside ``grid_range`` the learnable part is the full spline; outside it continues linearly with
its value and slope at the nearest end of the range (C¹, no runaway polynomial, no NaN), while
the SiLU branch keeps acting on the raw input. Use :meth:`KANLinear.update_grid`
(or ``fit``, which does it for you) when activations leave the range.

Speed: a cubic B-spline layer on a uniform grid uses the closed-form 4-active-basis path: the
compiled kernel of :mod:`kadr.nn._native` for float32 on CPU when a C compiler is there, else the
pure-torch :mod:`kadr.nn._cubic` (one GEMM for the spline and base branches together); other
bases, orders and non-uniform (quantile) grids evaluate the dense basis.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from kadr.errors import InputError, ShapeError
from kadr.nn import _native
from kadr.nn._cubic import cubic_edges, cubic_features
from kadr.nn.basis import BASES, clamp_to_range

#: Relative tolerance under which a knot vector counts as uniform (fast cubic path).
UNIFORM_RTOL = 1e-4


def _check_int(value, name: str, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int,)) and not (
            isinstance(value, float) and value.is_integer()):
        raise InputError(f"{name} must be an integer >= {lo}, got {value!r}")
    if int(value) < lo:
        raise InputError(f"{name} must be >= {lo}, got {value!r}")
    return int(value)


def _check_data(x, name: str, features: int) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise InputError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim < 1 or x.shape[-1] != features:
        raise ShapeError(f"{name} must have shape (..., {features}), got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise InputError(f"{name} must be a floating-point tensor, got {x.dtype}")
    if not torch.jit.is_tracing() and not torch.onnx.is_in_onnx_export() and not bool(torch.isfinite(x).all()):
        raise InputError(f"{name} contains NaN or inf; clean or impute the data before the KAN")
    return x


def uniform_grid(lo: torch.Tensor, hi: torch.Tensor, grid_size: int, order: int) -> torch.Tensor:
    """Uniform knots (I, grid_size + 2·order + 1) with grid range [lo, hi] per input."""
    h = (hi - lo) / grid_size
    steps = torch.arange(-order, grid_size + order + 1, dtype=lo.dtype, device=lo.device)
    return lo.unsqueeze(-1) + h.unsqueeze(-1) * steps


def grid_from_samples(x: torch.Tensor, grid_size: int, order: int, *, grid_eps: float = 0.02,
                      margin: float = 0.0) -> torch.Tensor:
    """Knots from activation samples x (N, I), as in the KAN paper's grid update (§2.4).

    The G + 1 range knots are ``grid_eps · uniform + (1 − grid_eps) · quantiles`` of each input's
    samples (grid_eps = 1: uniform over [min − margin, max + margin]; paper default 0.02), then
    ``order`` knots are added on each side with the mean spacing. Returns (I, G + 2·order + 1).
    """
    if not 0 < float(grid_eps) <= 1:
        raise InputError(f"grid_eps must be in (0, 1] (1 = uniform grid), got {grid_eps!r}")
    xs = torch.sort(x.detach(), dim=0).values
    n = xs.shape[0]
    lo, hi = xs[0] - margin, xs[-1] + margin
    tiny = (hi - lo) < 1e-6
    lo, hi = torch.where(tiny, lo - 0.5, lo), torch.where(tiny, hi + 0.5, hi)
    pos = torch.linspace(0, n - 1, grid_size + 1, device=x.device).round().long()
    adaptive = xs[pos].t()  # (I, G+1)
    adaptive[:, 0], adaptive[:, -1] = lo, hi
    frac = torch.arange(grid_size + 1, dtype=x.dtype, device=x.device) / grid_size
    uniform = lo.unsqueeze(-1) + (hi - lo).unsqueeze(-1) * frac
    inner = grid_eps * uniform + (1 - grid_eps) * adaptive
    h = ((hi - lo) / grid_size).unsqueeze(-1)
    side = torch.arange(1, order + 1, dtype=x.dtype, device=x.device)
    return torch.cat([inner[:, :1] - h * side.flip(0), inner, inner[:, -1:] + h * side], 1)


class KANLinear(nn.Module):
    """One KAN layer: ``in_features × out_features`` learnable edge functions (see module doc).

    Shapes: input (..., in_features) → output (..., out_features). ``grid_size`` ≥ 1 cells over
    ``grid_range``, ``spline_order`` ≥ 1 (the B-spline degree; for the other bases only
    K = grid_size + spline_order matters). Parameters: ``base_weight`` (O, I), ``spline_scale``
    (O, I), ``coef`` (O, I, K), ``bias`` (O,); buffers ``grid`` (I, G + 2k + 1) and ``mask`` (O, I)
    (0 for pruned edges).
    """

    def __init__(self, in_features: int, out_features: int, *, grid_size: int = 5, spline_order: int = 3,
                 grid_range: tuple[float, float] = (-1.0, 1.0), basis: str = "bspline",
                 noise_scale: float = 0.1, bias: bool = True):
        super().__init__()
        self.in_features = _check_int(in_features, "in_features", 1)
        self.out_features = _check_int(out_features, "out_features", 1)
        self.spline_order = _check_int(spline_order, "spline_order", 1)
        grid_size = _check_int(grid_size, "grid_size", 1)
        if grid_size < self.spline_order:
            raise InputError(f"grid_size ({grid_size}) must be >= spline_order ({self.spline_order}); "
                             "use a larger grid or a lower order")
        try:
            lo, hi = (float(v) for v in grid_range)
        except (TypeError, ValueError):
            raise InputError(f"grid_range must be two numbers (lo, hi), got {grid_range!r}") from None
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise InputError(f"grid_range must be finite with lo < hi, got {grid_range!r}")
        self.basis_name = str(basis).lower()
        self.basis = BASES.get(self.basis_name)
        i, o = self.in_features, self.out_features
        grid = uniform_grid(torch.full((i,), lo), torch.full((i,), hi), grid_size, self.spline_order)
        self.register_buffer("grid", grid)
        self.register_buffer("mask", torch.ones(o, i))
        k = self.basis.n_coef(grid_size, self.spline_order)
        self.base_weight = nn.Parameter((torch.rand(o, i) * 2 - 1) / math.sqrt(i))
        self.spline_scale = nn.Parameter(torch.full((o, i), 1 / math.sqrt(i)))
        self.coef = nn.Parameter((torch.rand(o, i, k) - 0.5) * float(noise_scale))
        self.bias = nn.Parameter(torch.zeros(o)) if bias else None
        #: use the compiled 4-active-basis kernel (kadr.nn._native) when it is available
        #: (float32 on CPU); False forces the pure-torch path. Both give the same results.
        self.native = True
        self._set_grid(grid)

    # -- grid ---------------------------------------------------------------------------
    @property
    def grid_size(self) -> int:
        return self.grid.shape[1] - 2 * self.spline_order - 1

    @property
    def uniform(self) -> bool:
        """True when every input's knots are evenly spaced (the fast cubic path applies)."""
        return self._uniform

    @property
    def fast(self) -> bool:
        """True when :meth:`forward` takes the closed-form cubic path."""
        return self.basis_name == "bspline" and self.spline_order == 3 and self._uniform

    def _set_grid(self, grid: torch.Tensor) -> None:
        self.grid = grid.to(self.grid.dtype if self.grid.is_floating_point() else grid.dtype)
        d = torch.diff(self.grid, dim=1)
        h = d[:, :1]
        self._uniform = bool(torch.all((d - h).abs() <= UNIFORM_RTOL * h.abs()))
        h0 = (self.grid[:, -1] - self.grid[:, 0]) / (self.grid.shape[1] - 1)
        self._scale = 1 / h0
        self._shift = -self.grid[:, 0] / h0
        self._slopes = None

    def _apply(self, fn, *args, **kwargs):  # keep the derived grid tensors on the module's device/dtype
        out = super()._apply(fn, *args, **kwargs)
        self._set_grid(self.grid)
        return out

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        for name in ("grid", "coef"):  # a saved model may have another grid size
            key = prefix + name
            if key in state_dict and state_dict[key].shape != getattr(self, name).shape:
                if name == "grid":
                    self.grid = state_dict[key].clone()
                else:
                    self.coef = nn.Parameter(state_dict[key].clone())
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self._set_grid(self.grid)

    # -- evaluation -----------------------------------------------------------------------
    def _edge_matrix(self) -> torch.Tensor:
        """(O, I·(K+1)): per input the K scaled spline coefficients then the base weight."""
        m = self.mask
        c = torch.cat([self.coef * (self.spline_scale * m).unsqueeze(-1), (self.base_weight * m).unsqueeze(-1)], -1)
        return c.reshape(self.out_features, -1)

    def _boundary_slopes(self) -> tuple[torch.Tensor, torch.Tensor]:
        """dB_m/dx at the two ends of each input's range, (I, K) each.

        B-splines of degree ≥ 2 have continuous derivatives, so the derivative at hi (which
        Cox–de Boor evaluates in the first padding cell) is the inner one; degree 1 has a kink
        at every knot and is differentiated just inside hi instead.
        """
        if self._slopes is None or self._slopes[0].dtype != self.grid.dtype:
            k, g = self.spline_order, self.grid.detach()
            lo, hi = g[:, k], g[:, -k - 1]
            if self.basis.uses_knots and k < 2:
                hi = hi - 1e-7 * (hi - lo)
            with torch.enable_grad():
                e = torch.stack([lo, hi]).requires_grad_()
                feats = self.basis.features(e, g, k)  # (2, I, K); entry (n, i, m) depends on e[n, i] only
                cols = [torch.autograd.grad(feats[..., m].sum(), e, retain_graph=True)[0]
                        for m in range(feats.shape[-1])]
            slopes = torch.stack(cols, -1).detach()
            self._slopes = (slopes[0], slopes[1])
        return self._slopes

    def basis_features(self, x: torch.Tensor) -> torch.Tensor:
        """Dense basis values (N, I, K) at x (N, I); linear continuation beyond the grid range."""
        if self.fast and not (torch.jit.is_tracing() or torch.onnx.is_in_onnx_export()):
            return cubic_features(x, self._scale.to(x.dtype), self._shift.to(x.dtype), self.grid_size)
        xc = clamp_to_range(x, self.grid, self.spline_order)
        feats = self.basis.features(xc, self.grid, self.spline_order)
        s_lo, s_hi = self._boundary_slopes()
        d = (x - xc).unsqueeze(-1)
        return feats + d * torch.where(d < 0, s_lo, s_hi)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _check_data(x, "input", self.in_features)
        lead = x.shape[:-1]
        x2 = x.reshape(-1, self.in_features)
        coef = self._edge_matrix()
        if self.fast and not (torch.jit.is_tracing() or torch.onnx.is_in_onnx_export()):
            edges = _native.native_cubic_edges if self.native and _native.usable(x2, coef) else cubic_edges
            y = edges(x2, coef, self._scale.to(x2.dtype), self._shift.to(x2.dtype), self.grid_size)
        else:
            feats = torch.cat([self.basis_features(x2), F.silu(x2).unsqueeze(-1)], -1)
            y = F.linear(feats.reshape(x2.shape[0], -1), coef)
        if self.bias is not None:
            y = y + self.bias
        return y.reshape(*lead, self.out_features)

    def edge_values(self, x: torch.Tensor) -> torch.Tensor:
        """φ_oi(x_i) for every edge: (N, I, O) (bias not included; pruned edges are 0)."""
        x = _check_data(x, "input", self.in_features).reshape(-1, self.in_features)
        spline = torch.einsum("nik,oik->nio", self.basis_features(x), self.coef)
        return (spline * (self.spline_scale * self.mask).t() + F.silu(x).unsqueeze(-1) * (self.base_weight * self.mask).t())

    def edge_scores(self, x: torch.Tensor) -> torch.Tensor:
        """|φ_oi|_1 = mean over the batch of |φ_oi(x_i)| (paper eq. 2.17): (O, I)."""
        return self.edge_values(x).abs().mean(0).t()

    def regularization(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(L1, entropy) of the layer on inputs x (paper eqs. 2.18–2.19).

        L1 = Σ_oi |φ_oi|_1; entropy = −Σ_oi p_oi log p_oi with p_oi = |φ_oi|_1 / L1.
        """
        s = self.edge_scores(x)
        l1 = s.sum()
        p = s / (l1 + 1e-12)
        return l1, -(p * torch.log(p + 1e-12)).sum()

    # -- grid changes ---------------------------------------------------------------------
    @torch.no_grad()
    def _refit(self, new_grid: torch.Tensor, x: torch.Tensor) -> float:
        """Least-squares coefficients on ``new_grid`` reproducing the current splines on x."""
        x = _check_data(x, "x", self.in_features).reshape(-1, self.in_features)
        if x.shape[0] < 2:
            raise ShapeError(f"x needs at least 2 samples to refit the grid, got {x.shape[0]}")
        y_old = self(x)
        target = torch.einsum("nik,oik->ion", self.basis_features(x), self.coef).double()  # (I, O, N)
        old_grid = self.grid
        self._set_grid(new_grid.to(old_grid.dtype))
        a = self.basis_features(x).double().transpose(0, 1)  # (I, N, K')
        # ridge-stabilised normal equations: cells without samples get small coefficients
        ata = a.transpose(1, 2) @ a
        lam = 1e-10 * ata.diagonal(dim1=1, dim2=2).mean(-1, keepdim=True).unsqueeze(-1) + 1e-12
        eye = torch.eye(ata.shape[-1], dtype=ata.dtype)
        sol = torch.linalg.solve(ata + lam * eye, a.transpose(1, 2) @ target.transpose(1, 2))  # (I, K', O)
        self.coef = nn.Parameter(sol.permute(2, 0, 1).to(self.coef.dtype).contiguous(),
                                 requires_grad=self.coef.requires_grad)
        return float((self(x) - y_old).abs().max())

    def extend_grid(self, new_grid_size: int, x: torch.Tensor) -> float:
        """Move to ``new_grid_size`` cells over the same range, keeping the function.

        The new coefficients are the least-squares fit of the current edge functions on the
        samples ``x`` (N, in_features) (paper §2.4, "grid extension"). Returns the max absolute
        deviation of the layer output on x. The ``coef`` parameter is replaced: build a new
        optimizer afterwards.
        """
        new_grid_size = _check_int(new_grid_size, "new_grid_size", 1)
        if new_grid_size < self.spline_order:
            raise InputError(f"new_grid_size ({new_grid_size}) must be >= spline_order ({self.spline_order})")
        k = self.spline_order
        lo, hi = self.grid[:, k], self.grid[:, -k - 1]
        return self._refit(uniform_grid(lo, hi, new_grid_size, k), x)

    def update_grid(self, x: torch.Tensor, *, grid_eps: float = 0.02, margin: float = 0.0) -> float:
        """Re-place the knots on the distribution of the inputs x (paper §2.4), keeping the function.

        See :func:`grid_from_samples`; grid_eps = 1 keeps the grid uniform (and the fast path).
        Returns the max absolute deviation of the layer output on x.
        """
        x = _check_data(x, "x", self.in_features).reshape(-1, self.in_features)
        return self._refit(grid_from_samples(x, self.grid_size, self.spline_order, grid_eps=grid_eps,
                                             margin=margin), x)

    @torch.no_grad()
    def prune_edges(self, x: torch.Tensor, threshold: float = 1e-2) -> int:
        """Mask the edges whose |φ|_1 on x is below ``threshold``; returns how many were cut."""
        weak = (self.edge_scores(x) < threshold) & (self.mask > 0)
        self.mask[weak] = 0
        return int(weak.sum())

    def extra_repr(self) -> str:
        return (f"{self.in_features}, {self.out_features}, grid_size={self.grid_size}, "
                f"spline_order={self.spline_order}, basis={self.basis_name!r}")


class KAN(nn.Module):
    """A stack of :class:`KANLinear` layers: ``KAN([2, 5, 1])`` is 2 inputs → 5 hidden → 1 output.

    ``layer_options`` go to every layer (grid_size, spline_order, grid_range, basis, ...).
    """

    def __init__(self, widths: Sequence[int], **layer_options):
        super().__init__()
        try:
            widths = [int(w) for w in widths]
        except (TypeError, ValueError):
            raise InputError(f"widths must be a list of layer sizes like [2, 5, 1], got {widths!r}") from None
        if len(widths) < 2 or min(widths) < 1:
            raise InputError(f"widths needs >= 2 positive sizes (inputs, ..., outputs), got {widths!r}")
        self.widths = widths
        self.layers = nn.ModuleList(KANLinear(a, b, **layer_options) for a, b in zip(widths[:-1], widths[1:]))

    @property
    def grid_size(self) -> int:
        return self.layers[0].grid_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x

    def _walk(self, x: torch.Tensor, change) -> float:
        x = _check_data(x, "x", self.widths[0]).reshape(-1, self.widths[0])
        with torch.no_grad():
            y_old = self(x)
            h = x
            for layer in self.layers:
                change(layer, h)
                h = layer(h)
            return float((h - y_old).abs().max())

    def extend_grid(self, new_grid_size: int, x: torch.Tensor) -> float:
        """:meth:`KANLinear.extend_grid` on every layer (each on its own inputs given x).

        Returns the max absolute deviation of the model output on x.
        """
        return self._walk(x, lambda layer, h: layer.extend_grid(new_grid_size, h))

    def update_grid(self, x: torch.Tensor, *, grid_eps: float = 0.02, margin: float = 0.0) -> float:
        """:meth:`KANLinear.update_grid` on every layer; returns the max output deviation on x."""
        return self._walk(x, lambda layer, h: layer.update_grid(h, grid_eps=grid_eps, margin=margin))

    def regularization(self, x: torch.Tensor, *, l1: float = 1.0, entropy: float = 1.0
                       ) -> tuple[torch.Tensor, torch.Tensor]:
        """(y, reg): the output and μ1·Σ_l |Φ_l|_1 + μ2·Σ_l S(Φ_l) (paper eq. 2.20, μ1 = μ2 = 1)."""
        reg = x.new_zeros(())
        for layer in self.layers:
            a, s = layer.regularization(x)
            reg = reg + l1 * a + entropy * s
            x = layer(x)
        return x, reg

    @torch.no_grad()
    def prune(self, x: torch.Tensor, threshold: float = 1e-2) -> dict:
        """Cut weak edges, then hidden nodes left without an input or an output edge (paper §2.5.1).

        An edge is weak when |φ|_1 on x (as propagated through the model) is below ``threshold``.
        Returns {"edges": edges cut per layer, "nodes": hidden nodes removed per hidden layer}.
        """
        x = _check_data(x, "x", self.widths[0]).reshape(-1, self.widths[0])
        edges, h = [], x
        for layer in self.layers:
            edges.append(layer.prune_edges(h, threshold))
            h = layer(h)
        nodes = []
        for left, right in zip(self.layers[:-1], self.layers[1:]):
            dead = (left.mask.sum(1) == 0) | (right.mask.sum(0) == 0)
            left.mask[dead, :] = 0
            right.mask[:, dead] = 0
            nodes.append(int(dead.sum()))
        return {"edges": edges, "nodes": nodes}


def export_onnx(model: nn.Module, path, in_features: int | None = None, *, opset: int = 17) -> str:
    """Write ``model`` (a KAN or KANLinear, or any module built from them) to an ONNX file.

    The exported graph uses the dense basis (same function as the fast path); batch is dynamic.
    Needs the ``onnx`` package (``pip install 'kadr[all]'``).
    """
    import os
    import warnings

    from kadr.errors import OutputError, missing_backend

    try:
        import onnx  # noqa: F401
    except ImportError:
        raise missing_backend("onnx") from None
    if in_features is None:
        first = next((m for m in model.modules() if isinstance(m, KANLinear)), None)
        if first is None:
            raise InputError("in_features is required for a model without a KANLinear")
        in_features = first.in_features
    param = next(model.parameters())
    example = torch.zeros(2, int(in_features), dtype=param.dtype, device=param.device)
    for m in model.modules():  # constants of the graph, computed outside the tracer
        if isinstance(m, KANLinear):
            m._boundary_slopes()
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(model.eval(), (example,), os.fspath(path), input_names=["x"], output_names=["y"],
                              dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}}, opset_version=opset,
                              dynamo=False)
    except OSError as exc:
        raise OutputError(f"cannot write {os.fspath(path)!r}: {exc}") from None
    return os.fspath(path)
