"""The fast path of :class:`kadr.nn.KANLinear`: uniform cubic B-splines in closed form.

One autograd node computes, for x (N, I) and the stacked edge coefficients C (O, I·(K+1)),

    y = F @ Cᵀ,   F[n, i·(K+1) + m] = B_m(x_ni) (m < K),   F[n, i·(K+1) + K] = silu(x_ni)

i.e. the spline branch and the residual SiLU branch of every edge in one GEMM. Only the 4
non-zero cubic weights per (n, i) are computed (closed form, no Cox–de Boor recursion, no
(N, I, K) intermediates) and scattered into F; the backward pass gathers the same 4 entries
of ∂L/∂F and applies the closed-form weight derivatives, so its cost is the two GEMMs plus
O(N·I) elementwise work. Beyond the grid range the spline continues linearly with its value
and slope at the nearest end (the weights become w(u_e) + d·w'(u_e), d the distance in cells).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from kadr.nn.basis.bspline import cubic_weight_derivatives, cubic_weights


def _cells(x: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor, grid_size: int):
    """Knot position t = (x − t_0)/h: its cell j and offset u within the grid range, and the
    distance d (knot units) beyond the range (0 inside)."""
    t = torch.addcmul(shift, x, scale)  # (x - t0) / h
    tc = t.clamp(3, grid_size + 3)
    j = tc.floor().clamp_(max=grid_size + 2)
    return tc - j, j, t - tc


class _CubicEdges(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, coef, scale, shift, grid_size):
        n, i_in = x.shape
        kk = grid_size + 4  # K = grid_size + 3 spline columns + 1 SiLU column per input
        u, j, d = _cells(x, scale, shift, grid_size)
        idx = j.long() + (torch.arange(i_in, device=x.device) * kk - 3)
        feats = x.new_zeros(n, i_in * kk)
        # beyond the range: w(u_edge) + d·w'(u_edge), the linear continuation of the spline
        for a, (w, dw) in enumerate(zip(cubic_weights(u), cubic_weight_derivatives(u))):
            feats.scatter_(1, idx + a if a else idx, w.addcmul_(d, dw))
        feats[:, grid_size + 3::kk] = F.silu(x)
        ctx.save_for_backward(x, feats, idx, u, coef, scale)
        ctx.kk = kk
        return F.linear(feats, coef)

    @staticmethod
    def backward(ctx, grad):
        x, feats, idx, u, coef, scale = ctx.saved_tensors
        grad_coef = grad.t() @ feats if ctx.needs_input_grad[1] else None
        grad_x = None
        if ctx.needs_input_grad[0]:
            gf = grad @ coef
            acc = None
            for a, dw in enumerate(cubic_weight_derivatives(u)):
                term = gf.gather(1, idx + a if a else idx) * dw
                acc = term if acc is None else acc.add_(term)
            grad_x = acc.mul_(scale)  # dw/dt = w'(u) inside and (constant slope) outside
            s = torch.sigmoid(x)
            grad_x += gf[:, ctx.kk - 1::ctx.kk] * (s * (1 + x * (1 - s)))
        return grad_x, grad_coef, None, None, None


def cubic_edges(x, coef, scale, shift, grid_size: int) -> torch.Tensor:
    """y (N, O) = Σ_i [spline_oi(x_ni) + w_b,oi·silu(x_ni)] for a uniform cubic grid.

    x (N, I); coef (O, I·(grid_size+4)) with, per input, K = grid_size + 3 spline
    coefficients (already multiplied by the per-edge spline scale) then the base weight;
    scale, shift (I,) with t = x·scale + shift the position in knot units from the first knot.
    """
    return _CubicEdges.apply(x, coef, scale, shift, int(grid_size))


def cubic_features(x, scale, shift, grid_size: int) -> torch.Tensor:
    """The dense uniform cubic B-spline bases (N, I, grid_size + 3) at x (N, I), in closed form
    (same values as Cox–de Boor, with the linear continuation beyond the range). Differentiable."""
    n, i_in = x.shape
    k = grid_size + 3
    u, j, d = _cells(x, scale, shift, grid_size)
    idx = (j.long() - 3).unsqueeze(-1) + torch.arange(4, device=x.device)
    w = torch.stack([a + d * b for a, b in zip(cubic_weights(u), cubic_weight_derivatives(u))], -1)
    return x.new_zeros(n, i_in, k).scatter(2, idx, w)
