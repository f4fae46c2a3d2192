"""SRU and TimeMix against step-by-step references written from the papers' equations."""

from __future__ import annotations

import math

import pytest
import torch

from kadr.errors import InputError, ShapeError
from kadr.nn import SRU, TimeMix


def sru_reference(cell: SRU, x: torch.Tensor) -> torch.Tensor:
    """Lei et al. 2017 eqs. 1–4, one time step and one equation at a time."""
    n, t_len, _ = x.shape
    h_size = cell.hidden_size
    w = cell.weight
    wz, wf, wr = w[:, :h_size], w[:, h_size:2 * h_size], w[:, 2 * h_size:3 * h_size]
    c = torch.zeros(n, h_size, dtype=x.dtype)
    hs = []
    for t in range(t_len):
        xt = x[:, t]
        f = torch.sigmoid(xt @ wf + cell.v[0] * c + cell.b[0])
        r = torch.sigmoid(xt @ wr + cell.v[1] * c + cell.b[1])
        c = f * c + (1 - f) * (xt @ wz)
        skip = xt @ w[:, 3 * h_size:] if cell.project else xt
        hs.append(r * c + (1 - r) * skip)
    return torch.stack(hs, 1)


@pytest.mark.parametrize("sizes", [(4, 4), (3, 5)])
def test_sru_equals_step_loop(sizes):
    torch.manual_seed(0)
    cell = SRU(*sizes).double()
    with torch.no_grad():
        cell.v.normal_()
        cell.b.normal_()
    x = torch.randn(2, 6, sizes[0], dtype=torch.float64)
    y, c = cell(x)
    torch.testing.assert_close(y, sru_reference(cell, x), rtol=1e-12, atol=1e-12)
    assert c.shape == (2, sizes[1])


def test_sru_gradcheck():
    torch.manual_seed(0)
    cell = SRU(3, 2).double()
    x = torch.randn(2, 4, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda inp: cell(inp)[0], (x,))
    assert torch.autograd.gradcheck(lambda v: SRU.forward(cell, x.detach(), v)[0], (torch.randn(2, 2, dtype=torch.float64, requires_grad=True),))


def wkv_naive(w, u, k, v):
    """The RWKV-4 WKV formula taken literally (exponentials, no rescaling), float64."""
    n, t_len, d = k.shape
    out = torch.zeros_like(v)
    for t in range(t_len):
        num = torch.exp(u + k[:, t]) * v[:, t]
        den = torch.exp(u + k[:, t])
        for i in range(t):
            e = torch.exp(-(t - 1 - i) * w + k[:, i])
            num = num + e * v[:, i]
            den = den + e
        out[:, t] = num / den
    return out


def timemix_reference(cell: TimeMix, x: torch.Tensor) -> torch.Tensor:
    prev = torch.cat([torch.zeros_like(x[:, :1]), x[:, :-1]], 1)
    mk, mv, mr = cell.time_mix
    k = cell.key(x * mk + prev * (1 - mk))
    v = cell.value(x * mv + prev * (1 - mv))
    r = torch.sigmoid(cell.receptance(x * mr + prev * (1 - mr)))
    return cell.output(r * wkv_naive(torch.exp(cell.time_decay), cell.time_first, k, v))


def test_timemix_equals_naive_formula():
    torch.manual_seed(0)
    cell = TimeMix(6).double()
    x = torch.randn(3, 7, 6, dtype=torch.float64)
    y, _ = cell(x)
    torch.testing.assert_close(y, timemix_reference(cell, x), rtol=1e-10, atol=1e-10)


def test_timemix_is_stable_where_the_naive_form_overflows():
    torch.manual_seed(0)
    cell = TimeMix(4)
    with torch.no_grad():
        cell.key.weight.mul_(500)  # keys of size ~1e3: e^k overflows float32
    y, _ = cell(torch.randn(2, 50, 4))
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("make", [lambda: SRU(4, 4), lambda: SRU(3, 5), lambda: TimeMix(4)])
def test_streaming_in_pieces_equals_one_call(make):
    torch.manual_seed(0)
    cell = make().double()
    d = cell.input_size if isinstance(cell, SRU) else cell.dim
    x = torch.randn(2, 9, d, dtype=torch.float64)
    y_all, s_all = cell(x)
    y1, s1 = cell(x[:, :4])
    y2, s2 = cell(x[:, 4:], state=s1)
    torch.testing.assert_close(torch.cat([y1, y2], 1), y_all, rtol=1e-12, atol=1e-12)
    flat = lambda s: s if isinstance(s, torch.Tensor) else torch.stack(list(s))  # noqa: E731
    torch.testing.assert_close(flat(s2), flat(s_all))


def test_timemix_gradcheck():
    torch.manual_seed(0)
    cell = TimeMix(3).double()
    x = torch.randn(1, 5, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda inp: cell(inp)[0], (x,))


def test_bad_input():
    cell = SRU(3, 4)
    with pytest.raises(ShapeError, match=r"\(N, T, 3\)"):
        cell(torch.zeros(5, 3))
    with pytest.raises(ShapeError, match="state"):
        cell(torch.zeros(2, 4, 3), state=torch.zeros(3, 4))
    with pytest.raises(InputError, match="NaN"):
        cell(torch.full((1, 2, 3), math.nan))
    with pytest.raises(InputError):
        SRU(0, 3)
    with pytest.raises(ShapeError, match="4-tuple"):
        TimeMix(3)(torch.zeros(1, 2, 3), state=torch.zeros(1, 3))
