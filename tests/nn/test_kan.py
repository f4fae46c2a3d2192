"""KANLinear / KAN against an independent transcription of efficient-kan's KANLinear maths.

Reference: efficient-kan (Blealtan, src/efficient_kan/kan.py), KANLinear.forward:
    y = silu(x) @ base_weightᵀ + b_splines(x).view(N, −1) @ (spline_weight · spline_scaler[..., None]).view(O, −1)ᵀ
with b_splines the Cox–de Boor recursion on the knots
    grid = arange(−k, G + k + 1) · h + lo,  h = (hi − lo)/G.
Below the bases are re-derived one basis function at a time from the recursive definition
(de Boor 1978) in float64 — no code shared with kadr.nn.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from kadr.errors import InputError, KadrError, ShapeError, UnknownNameError
from kadr.nn import KAN, KANLinear, export_onnx


def ref_bspline(x: torch.Tensor, knots: list[float], m: int, p: int) -> torch.Tensor:
    """B_{m,p}(x) by the textbook recursion, one basis function at a time (float64)."""
    if p == 0:
        return ((x >= knots[m]) & (x < knots[m + 1])).double()
    out = torch.zeros_like(x)
    if knots[m + p] != knots[m]:
        out = out + (x - knots[m]) / (knots[m + p] - knots[m]) * ref_bspline(x, knots, m, p - 1)
    if knots[m + p + 1] != knots[m + 1]:
        out = out + (knots[m + p + 1] - x) / (knots[m + p + 1] - knots[m + 1]) * ref_bspline(x, knots, m + 1, p - 1)
    return out


def ref_forward(x, grid, base_weight, coef, scale):
    """efficient-kan's KANLinear.forward maths, edge by edge (float64)."""
    n, i_in = x.shape
    o_out, _, k = coef.shape
    order = grid.shape[1] - k - 1
    y = torch.zeros(n, o_out, dtype=torch.float64)
    for i in range(i_in):
        knots = [float(v) for v in grid[i]]
        bases = torch.stack([ref_bspline(x[:, i], knots, m, order) for m in range(k)], 1)  # (N, K)
        silu = x[:, i] / (1 + torch.exp(-x[:, i]))
        for o in range(o_out):
            y[:, o] += base_weight[o, i] * silu + bases @ (coef[o, i] * scale[o, i])
    return y


def _layer(i=3, o=4, g=5, seed=0, **kw):
    torch.manual_seed(seed)
    layer = KANLinear(i, o, grid_size=g, **kw)
    with torch.no_grad():  # non-trivial parameters everywhere
        layer.coef.normal_()
        layer.spline_scale.uniform_(0.5, 1.5)
        layer.base_weight.normal_()
    return layer


@pytest.mark.parametrize("g", [3, 5, 8])
def test_fast_cubic_matches_efficient_kan_maths(g):
    layer = _layer(g=g)
    assert layer.fast
    x = (torch.rand(200, 3, dtype=torch.float64) * 2 - 1).requires_grad_()
    x32 = x.detach().float().requires_grad_()
    y = layer(x32)
    params = (layer.base_weight, layer.coef, layer.spline_scale)
    dp = [p.detach().double().requires_grad_() for p in params]
    y_ref = ref_forward(x, layer.grid.double(), *dp) + layer.bias.detach().double()
    rel = (y.double() - y_ref).abs().max() / y_ref.abs().max()
    assert rel <= 1e-5  # issue 12: ≤ 1e-5 relative to efficient-kan given the same coefficients
    w = torch.randn(200, 4, dtype=torch.float64)
    got = torch.autograd.grad((y.double() * w).sum(), [x32, *params])
    want = torch.autograd.grad((y_ref * w).sum(), [x, *dp])
    for a, b in zip(got, want):
        assert (a.double() - b).abs().max() <= 1e-5 * b.abs().max()


def test_dense_path_matches_reference_on_quantile_grid():
    layer = _layer()
    x = torch.randn(300, 3) * 0.5
    layer.update_grid(x, grid_eps=0.02)  # the paper's adaptive grid: not uniform any more
    assert not layer.uniform and not layer.fast
    xt = x[:50].double().clamp(-1, 1)
    y = layer(xt.float()).double()
    ref = ref_forward(xt, layer.grid.double(), layer.base_weight.detach().double(), layer.coef.detach().double(),
                      layer.spline_scale.detach().double())
    assert (y - ref).abs().max() <= 1e-5 * ref.abs().max()


def test_fast_and_dense_paths_agree_including_outside_the_range():
    layer = _layer(g=7)
    x = (torch.rand(500, 3) * 4 - 2).requires_grad_()  # half of it outside grid_range
    y_fast = layer(x)
    gx_fast, gc_fast = torch.autograd.grad(y_fast.square().sum(), [x, layer.coef])
    layer._uniform = False  # force the dense Cox–de Boor path
    y_dense = layer(x)
    gx_dense, gc_dense = torch.autograd.grad(y_dense.square().sum(), [x, layer.coef])
    torch.testing.assert_close(y_fast, y_dense, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(gx_fast, gx_dense, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(gc_fast, gc_dense, rtol=1e-4, atol=1e-4)


def test_outside_range_continues_linearly_plus_silu():
    """Documented behaviour: beyond grid_range the spline continues with its edge value and slope."""
    layer = _layer(i=1, o=1).double()
    silu = torch.nn.functional.silu
    spline = lambda v: layer(v) - layer.bias - layer.base_weight * silu(v)  # noqa: E731
    edge, eps = torch.tensor([[1.0]], dtype=torch.float64), 1e-6
    slope = (spline(edge) - spline(edge - eps)) / eps
    for far in (1.5, 10.0, 1e6):
        v = torch.tensor([[far]], dtype=torch.float64)
        want = spline(edge) + slope * (far - 1.0)
        torch.testing.assert_close(spline(v), want, rtol=1e-5, atol=1e-4)
    with pytest.raises(InputError, match="inf"):
        layer(torch.tensor([[float("inf")]]))


@pytest.mark.parametrize("basis", ["chebyshev", "bernstein", "rbf"])
def test_other_bases_match_their_formulas(basis):
    layer = _layer(i=2, o=3, g=4, basis=basis)
    x = torch.rand(64, 2, dtype=torch.float64) * 2 - 1
    layer = layer.double()
    feats = layer.basis_features(x).numpy()
    k = 4 + 3
    xs = x.numpy()
    if basis == "chebyshev":  # T_n(cos θ) = cos(nθ)
        ref = np.cos(np.arange(k) * np.arccos(xs)[..., None])
    elif basis == "bernstein":
        s = ((xs + 1) / 2)[..., None]
        v = np.arange(k)
        ref = np.array([math.comb(k - 1, j) for j in v]) * s ** v * (1 - s) ** (k - 1 - v)
    else:  # FastKAN: exp(-((x - c)/h)^2), centres linspace(lo, hi, K)
        c = np.linspace(-1, 1, k)
        ref = np.exp(-(((xs[..., None] - c) / (c[1] - c[0])) ** 2))
    np.testing.assert_allclose(feats, ref, rtol=1e-10, atol=1e-12)
    y = layer(x)
    edge = layer.edge_values(x).sum(1) + layer.bias
    torch.testing.assert_close(y, edge)


@pytest.mark.parametrize("basis", ["bspline", "chebyshev", "bernstein", "rbf"])
def test_extend_grid_keeps_the_function(basis):
    torch.manual_seed(1)
    model = KAN([2, 3, 1], grid_size=3, basis=basis, noise_scale=1.0).double()
    x = torch.rand(400, 2, dtype=torch.float64) * 2 - 1
    y0 = model(x).detach()
    dev = model.extend_grid(12, x)
    assert model.grid_size == 12 and model.layers[1].coef.shape[-1] == 15
    assert dev == pytest.approx(float((model(x) - y0).abs().max().detach()))
    # a finer grid contains the coarse function space only approximately (3 ∤ 12 for
    # polynomial bases it is exact); the paper reports small deviations at each extension
    assert dev < 0.05 * float(y0.abs().max())


def test_extend_grid_is_exact_when_knots_nest():
    """Grid 4 → 8 on the same range: the old knots are a subset, a cubic spline is kept exactly."""
    layer = _layer(i=2, o=2, g=4).double()
    x = torch.rand(500, 2, dtype=torch.float64) * 2 - 1
    assert layer.extend_grid(8, x) < 1e-7  # exact up to the 1e-10 ridge of the refit


def test_update_grid_follows_the_data_and_keeps_the_function():
    layer = _layer(i=2, o=2)
    x = torch.rand(1000, 2) * 1.6 - 0.8
    y0 = layer(x).detach()
    dev = layer.update_grid(x, grid_eps=1.0, margin=0.0)
    assert layer.uniform and layer.fast
    assert float(layer.grid[0, 3]) == pytest.approx(float(x[:, 0].min()), abs=1e-6)
    assert float(layer.grid[0, -4]) == pytest.approx(float(x[:, 0].max()), abs=1e-6)
    # the knots move (not nested), so the old spline is kept up to a small least-squares error
    assert dev < 0.05 * float(y0.abs().max())
    assert dev == pytest.approx(float((layer(x).detach() - y0).abs().max()), abs=1e-6)


def test_regularization_and_pruning():
    torch.manual_seed(0)
    model = KAN([3, 4, 1])
    x = torch.rand(256, 3) * 2 - 1
    with torch.no_grad():  # make input 2 useless: all its edges near zero
        model.layers[0].base_weight[:, 2] = 0
        model.layers[0].coef[:, 2] = 0
    s = model.layers[0].edge_scores(x)
    manual = model.layers[0].edge_values(x).abs().mean(0).t()
    torch.testing.assert_close(s, manual)
    y, reg = model.regularization(x, l1=1.0, entropy=0.0)
    torch.testing.assert_close(y, model(x))
    assert float(reg) == pytest.approx(float(s.sum() + model.layers[1].edge_scores(model.layers[0](x)).sum()), rel=1e-5)
    p = s / s.sum()
    ent = -(p * torch.log(p + 1e-12)).sum()
    assert float(model.layers[0].regularization(x)[1]) == pytest.approx(float(ent), rel=1e-5)
    out = model.prune(x, threshold=1e-3)
    assert out["edges"][0] == 4 and model.layers[0].mask[:, 2].sum() == 0
    y_after = model(x)
    assert torch.isfinite(y_after).all()


def test_state_dict_round_trip_after_extension():
    model = KAN([2, 3, 1])
    x = torch.rand(100, 2) * 2 - 1
    model.extend_grid(10, x)
    fresh = KAN([2, 3, 1])
    fresh.load_state_dict(model.state_dict())
    torch.testing.assert_close(fresh(x), model(x))
    assert fresh.grid_size == 10


def test_onnx_export_parity(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    torch.manual_seed(0)
    model = KAN([3, 5, 2], grid_size=6)
    x = torch.rand(64, 3) * 2.4 - 1.2  # includes inputs outside the grid range
    path = export_onnx(model, tmp_path / "kan.onnx")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"x": x.numpy()})[0]
    np.testing.assert_allclose(got, model(x).detach().numpy(), atol=1e-5, rtol=1e-5)  # issue 12: ≤ 1e-5


def test_bad_input():
    with pytest.raises(UnknownNameError, match="bernstein, bspline, chebyshev, rbf"):
        KANLinear(2, 2, basis="fourier")
    with pytest.raises(InputError, match="spline_order"):
        KANLinear(2, 2, grid_size=2, spline_order=3)
    with pytest.raises(InputError, match="grid_range"):
        KANLinear(2, 2, grid_range=(1.0, -1.0))
    layer = KANLinear(2, 3)
    with pytest.raises(ShapeError, match=r"\(\.\.\., 2\)"):
        layer(torch.zeros(4, 3))
    with pytest.raises(InputError, match="NaN"):
        layer(torch.tensor([[0.0, float("nan")]]))
    with pytest.raises(KadrError):
        KAN([2])
    with pytest.raises(InputError):
        layer.extend_grid(2, torch.zeros(10, 2))
    assert layer(torch.zeros(5, 7, 2)).shape == (5, 7, 3)


def test_closed_form_dense_features_equal_cox_de_boor():
    layer = _layer(g=6).double()
    x = (torch.rand(300, 3, dtype=torch.float64) * 3 - 1.5).requires_grad_()
    fast = layer.basis_features(x)
    gx_fast = torch.autograd.grad(fast.square().sum(), x)[0]
    layer._uniform = False
    dense = layer.basis_features(x)
    gx_dense = torch.autograd.grad(dense.square().sum(), x)[0]
    torch.testing.assert_close(fast, dense, rtol=1e-6, atol=1e-6)  # knots were rounded to float32 at creation
    torch.testing.assert_close(gx_fast, gx_dense, rtol=1e-6, atol=1e-6)


def test_native_kernel_equals_pure_torch_path():
    from kadr.nn import _native

    if _native.library() is None:
        pytest.skip(f"compiled kernel unavailable: {_native.reason}")
    layer = _layer(i=6, o=5, g=7)
    x = (torch.rand(300, 6) * 3 - 1.5).requires_grad_()  # inside and beyond the grid range
    params = [x, layer.coef, layer.base_weight, layer.spline_scale]
    w = torch.randn(300, 5)
    layer.native = True
    y_nat = layer(x)
    g_nat = torch.autograd.grad((y_nat * w).sum(), params)
    layer.native = False
    y_pt = layer(x)
    g_pt = torch.autograd.grad((y_pt * w).sum(), params)
    torch.testing.assert_close(y_nat, y_pt, rtol=1e-5, atol=1e-5)
    for a, b in zip(g_nat, g_pt):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
