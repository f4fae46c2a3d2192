"""Recurrent "time-mix" cells over frame sequences, batch-first and streaming.

Both cells follow one calling convention: ``y, state = cell(x, state=None)`` with x (N, T, D)
and y (N, T, H); passing the returned state into the next call continues the sequence, so a
stream can be processed piece by piece (running [x1, x2] in one call equals running x1 then x2
with the state passed on). The state has a fixed size whatever the sequence length.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from kadr.errors import InputError, ShapeError


def _check_seq(x, dim: int, name: str = "x") -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise InputError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim != 3 or x.shape[-1] != dim:
        raise ShapeError(f"{name} must be batch-first (N, T, {dim}), got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise InputError(f"{name} must be floating point, got {x.dtype}")
    if bool(torch.isnan(x).any()):
        raise InputError(f"{name} contains NaN")
    return x


def _check_size(v, name: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise InputError(f"{name} must be a positive integer, got {v!r}")
    return v


def _check_state(s, shape: tuple[int, int], name: str) -> None:
    if not isinstance(s, torch.Tensor) or tuple(s.shape) != shape:
        got = tuple(s.shape) if isinstance(s, torch.Tensor) else type(s).__name__
        raise ShapeError(f"{name} must have shape {shape} (the state returned by the previous call), got {got}")


class SRU(nn.Module):
    """Simple Recurrent Unit (Lei et al. 2017, "Simple Recurrent Units for Highly Parallelizable
    Recurrence", arXiv 1709.02755, eqs. 1–4 with the v ⊙ c_{t−1} terms):

        f_t = σ(W_f x_t + v_f ⊙ c_{t−1} + b_f)
        r_t = σ(W_r x_t + v_r ⊙ c_{t−1} + b_r)
        c_t = f_t ⊙ c_{t−1} + (1 − f_t) ⊙ (W x_t)
        h_t = r_t ⊙ c_t + (1 − r_t) ⊙ x'_t

    x'_t = x_t when input_size == hidden_size, else the linear projection W_h x_t (paper §2).
    The matrix products for all time steps are one GEMM; only the elementwise recurrence loops
    over t. Input (N, T, input_size) → output (N, T, hidden_size); state c (N, hidden_size),
    zeros when None.
    """

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.input_size = _check_size(input_size, "input_size")
        self.hidden_size = _check_size(hidden_size, "hidden_size")
        self.project = self.input_size != self.hidden_size
        k = 4 if self.project else 3
        h = self.hidden_size
        self.weight = nn.Parameter(torch.empty(self.input_size, k * h))
        nn.init.uniform_(self.weight, -math.sqrt(3 / self.input_size), math.sqrt(3 / self.input_size))
        self.v = nn.Parameter(torch.zeros(2, h))  # v_f, v_r
        self.b = nn.Parameter(torch.zeros(2, h))  # b_f, b_r

    def forward(self, x: torch.Tensor, state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        x = _check_seq(x, self.input_size)
        n, t_len, _ = x.shape
        h = self.hidden_size
        c = x.new_zeros(n, h) if state is None else state
        _check_state(c, (n, h), "state")
        u = (x.reshape(n * t_len, -1) @ self.weight).reshape(n, t_len, -1, h)
        z, uf, ur = u[:, :, 0], u[:, :, 1] + self.b[0], u[:, :, 2] + self.b[1]
        skip = u[:, :, 3] if self.project else x
        vf, vr = self.v[0], self.v[1]
        out = []
        for t in range(t_len):
            f = torch.sigmoid(uf[:, t] + vf * c)
            r = torch.sigmoid(ur[:, t] + vr * c)
            c = f * c + (1 - f) * z[:, t]
            out.append(r * c + (1 - r) * skip[:, t])
        y = torch.stack(out, 1) if out else x.new_zeros(n, 0, h)
        return y, c


class TimeMix(nn.Module):
    """RWKV-4 time-mixing block (Peng et al. 2023, "RWKV: Reinventing RNNs for the Transformer
    Era", arXiv 2305.13048, eqs. 11–16) with its numerically stable WKV recurrence.

        x̄_t = μ ⊙ x_t + (1 − μ) ⊙ x_{t−1}  (token shift, separate μ for k, v, r)
        k = W_k x̄, v = W_v x̄, r = W_r x̄,   w = exp(time_decay) > 0,  u = time_first
        wkv_t = (Σ_{i<t} e^{−(t−1−i)w + k_i} v_i + e^{u + k_t} v_t) / (Σ_{i<t} e^{−(t−1−i)w + k_i} + e^{u + k_t})
        y_t = W_o (σ(r_t) ⊙ wkv_t)

    The sums are carried as (a, b, p): numerator and denominator scaled by e^{−p}, p the running
    maximum exponent, so no exponential overflows whatever the sequence length. State:
    (x_last, a, b, p), each (N, dim); None starts a sequence (x_{−1} = 0, empty sums).
    """

    def __init__(self, dim: int):
        super().__init__()
        self.dim = _check_size(dim, "dim")
        d = self.dim
        ramp = torch.arange(d, dtype=torch.float32) / max(d - 1, 1)
        self.time_decay = nn.Parameter(-5 + 8 * ramp ** 0.7)  # RWKV-4 style spread of decays
        self.time_first = nn.Parameter(torch.full((d,), math.log(0.3)))
        self.time_mix = nn.Parameter(torch.stack([ramp, ramp * 0.9 + 0.05, 0.5 * ramp]).clamp(0.05, 1))
        self.key = nn.Linear(d, d, bias=False)
        self.value = nn.Linear(d, d, bias=False)
        self.receptance = nn.Linear(d, d, bias=False)
        self.output = nn.Linear(d, d, bias=False)

    def initial_state(self, n: int, like: torch.Tensor) -> tuple[torch.Tensor, ...]:
        z = like.new_zeros(n, self.dim)
        return z, z.clone(), z.clone(), torch.full_like(z, -1e30)

    def forward(self, x: torch.Tensor, state=None):
        x = _check_seq(x, self.dim)
        n, t_len, d = x.shape
        if state is None:
            state = self.initial_state(n, x)
        if not isinstance(state, (tuple, list)) or len(state) != 4:
            raise ShapeError("state must be the 4-tuple (x_last, a, b, p) returned by the previous call")
        for s, name in zip(state, ("x_last", "a", "b", "p")):
            _check_state(s, (n, d), f"state {name}")
        x_last, a, b, p = state
        prev = torch.cat([x_last.unsqueeze(1), x[:, :-1]], 1)
        mk, mv, mr = self.time_mix[0], self.time_mix[1], self.time_mix[2]
        k = self.key(x * mk + prev * (1 - mk))
        v = self.value(x * mv + prev * (1 - mv))
        r = torch.sigmoid(self.receptance(x * mr + prev * (1 - mr)))
        w = torch.exp(self.time_decay)
        u = self.time_first
        out = []
        for t in range(t_len):
            kt, vt = k[:, t], v[:, t]
            ww = u + kt
            q = torch.maximum(p, ww)
            e1, e2 = torch.exp(p - q), torch.exp(ww - q)
            out.append((e1 * a + e2 * vt) / (e1 * b + e2))
            ww = p - w
            q = torch.maximum(ww, kt)
            e1, e2 = torch.exp(ww - q), torch.exp(kt - q)
            a, b, p = e1 * a + e2 * vt, e1 * b + e2, q
        wkv = torch.stack(out, 1) if out else x.new_zeros(n, 0, d)
        y = self.output(r * wkv)
        new_x_last = x[:, -1] if t_len else x_last
        return y, (new_x_last, a, b, p)
