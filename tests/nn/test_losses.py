"""kadr.nn.losses against numpy transcriptions of each paper's formula (float64)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kadr.errors import InputError, ShapeError
from kadr.nn import DinoCentre, LossMix, dino_loss, ema_update, gce_loss, info_nce, kd_loss, siglip_loss

rng = np.random.default_rng(0)


def _norm(a):
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def _logsumexp(a, axis=-1):
    m = a.max(axis, keepdims=True)
    return (m + np.log(np.exp(a - m).sum(axis, keepdims=True))).squeeze(axis)


def _t(a):
    return torch.tensor(a, dtype=torch.float64)


def test_info_nce_is_simcse_eq1():
    """SimCSE (Gao et al. 2021) eq. 1: −log e^{sim(h_i,h_i⁺)/τ} / Σ_j e^{sim(h_i,h_j⁺)/τ}."""
    q, p = rng.normal(size=(8, 5)), rng.normal(size=(8, 5))
    sim = _norm(q) @ _norm(p).T / 0.05
    ref = np.mean([-(sim[i, i] - _logsumexp(sim[i])) for i in range(8)])
    assert float(info_nce(_t(q), _t(p))) == pytest.approx(ref, rel=1e-10)
    # and torch's own cross-entropy over the cosine matrix
    ce = torch.nn.functional.cross_entropy(_t(sim), torch.arange(8))
    assert float(info_nce(_t(q), _t(p), temperature=0.05)) == pytest.approx(float(ce), rel=1e-10)


def test_siglip_is_the_papers_pseudocode():
    """Zhai et al. 2023, Algorithm 1: logits = dot(zimg, ztxt.T)·t + b; labels = 2·eye(n) − ones;
    l = −sum(log_sigmoid(labels · logits)) / n."""
    x, y = rng.normal(size=(6, 4)), rng.normal(size=(6, 4))
    t, b = 10.0, -10.0
    logits = _norm(x) @ _norm(y).T * t + b
    labels = 2 * np.eye(6) - 1
    ref = -np.sum(-np.logaddexp(0, -labels * logits)) / 6
    assert float(siglip_loss(_t(x), _t(y), t=t, b=b)) == pytest.approx(ref, rel=1e-10)
    tt = torch.tensor(np.log(10.0), requires_grad=True)
    loss = siglip_loss(_t(x), _t(y), t=tt.exp(), b=torch.tensor(-10.0, dtype=torch.float64))
    loss.backward()
    assert tt.grad is not None and torch.isfinite(tt.grad)


def test_dino_loss_matches_algorithm_1():
    """Caron et al. 2021, Algorithm 1: H(t, s) = −(softmax((t − C)/tpt) · log softmax(s/tps)).sum(1).mean()."""
    s, t, c = rng.normal(size=(5, 7)), rng.normal(size=(5, 7)), rng.normal(size=7) * 0.1
    tp = np.exp((t - c) / 0.04 - _logsumexp((t - c) / 0.04)[:, None])
    ls = s / 0.1 - _logsumexp(s / 0.1)[:, None]
    ref = -(tp * ls).sum(1).mean()
    st = _t(s).requires_grad_()
    tt = _t(t).requires_grad_()
    loss = dino_loss(st, tt, _t(c))
    assert float(loss.detach()) == pytest.approx(ref, rel=1e-10)
    loss.backward()
    assert tt.grad is None and st.grad is not None  # stop-gradient through the teacher
    # two views: loss = H(t1, s2)/2 + H(t2, s1)/2
    s2, t2 = np.stack([s, s[::-1]]), np.stack([t, t[::-1]])
    pair = lambda a, b: float(dino_loss(_t(a), _t(b), _t(c)))  # noqa: E731
    want = (pair(s2[1], t2[0]) + pair(s2[0], t2[1])) / 2
    assert float(dino_loss(_t(s2), _t(t2), _t(c))) == pytest.approx(want, rel=1e-12)


def test_dino_centre_and_ema():
    centre = DinoCentre(3, momentum=0.9)
    t = torch.tensor([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    centre.update(t)
    torch.testing.assert_close(centre.centre, torch.tensor([[0.2, 0.2, 0.2]]))  # 0.9·0 + 0.1·mean
    centre.update(t)
    torch.testing.assert_close(centre(), torch.tensor([[0.38, 0.38, 0.38]]))
    torch.manual_seed(0)
    student, teacher = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    before = teacher.weight.detach().clone()
    ema_update(teacher, student, 0.996)
    torch.testing.assert_close(teacher.weight, 0.996 * before + 0.004 * student.weight.detach())
    with pytest.raises(ShapeError):
        ema_update(torch.nn.Linear(3, 3), student, 0.9)


def test_kd_loss_is_hinton_with_t_squared():
    s, t, temp = rng.normal(size=(4, 6)), rng.normal(size=(4, 6)), 4.0
    pt = np.exp(t / temp - _logsumexp(t / temp)[:, None])
    ls = s / temp - _logsumexp(s / temp)[:, None]
    ref = (pt * (np.log(pt) - ls)).sum(1).mean() * temp ** 2
    assert float(kd_loss(_t(s), _t(t))) == pytest.approx(ref, rel=1e-10)
    assert float(kd_loss(_t(t), _t(t))) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("tau", [0.0, 0.5, 1.0, 1.5, 2.0])
def test_gce_loss_is_phi1_tau(tau):
    """Mao et al. 2023 (arXiv 2304.07288) eq. 2, with u = Σ_{y'≠y} e^{h_{y'} − h_y}."""
    h = rng.normal(size=(9, 4)) * 2
    y = rng.integers(0, 4, size=9)
    u = np.array([sum(np.exp(h[i, j] - h[i, y[i]]) for j in range(4) if j != y[i]) for i in range(9)])
    ref = np.log1p(u) if tau == 1 else ((1 + u) ** (1 - tau) - 1) / (1 - tau)
    got = gce_loss(_t(h), torch.tensor(y), tau=tau)
    assert float(got) == pytest.approx(ref.mean(), rel=1e-10)
    if tau == 1:  # torch's own cross-entropy
        assert float(got) == pytest.approx(float(torch.nn.functional.cross_entropy(_t(h), torch.tensor(y))), rel=1e-12)
    if tau == 2:  # 1 − p_y
        p = np.exp(h - _logsumexp(h)[:, None])
        assert float(got) == pytest.approx(np.mean(1 - p[np.arange(9), y]), rel=1e-10)


def test_gce_is_stable_for_large_logits():
    h = torch.tensor([[1000.0, -1000.0], [-1000.0, 1000.0]])
    for tau in (0.5, 1.0, 2.0):
        assert torch.isfinite(gce_loss(h, torch.tensor([0, 1]), tau=tau))


def test_loss_mix_recursion_and_weights():
    mix = LossMix(3, init=[0.25, 0.6])
    l1, l2, l3 = torch.tensor(1.0), torch.tensor(2.0), torch.tensor(4.0)
    b1, b2 = 0.25, 0.6
    ref = (1 - b1) * 1.0 + b1 * ((1 - b2) * 2.0 + b2 * 4.0)
    assert float(mix(l1, l2, l3)) == pytest.approx(ref, rel=1e-6)
    w = mix.weights()
    torch.testing.assert_close(w, torch.tensor([1 - b1, b1 * (1 - b2), b1 * b2]))
    assert float(w.sum()) == pytest.approx(1.0)
    assert float((w * torch.tensor([1.0, 2.0, 4.0])).sum()) == pytest.approx(ref, rel=1e-6)
    mix(l1, l2, l3).backward()
    assert mix.w.grad is not None
    with pytest.raises(InputError):
        mix(l1, l2)
    with pytest.raises(InputError):
        LossMix(1)


def test_bad_input():
    a = torch.randn(4, 3)
    with pytest.raises(ShapeError):
        info_nce(a, torch.randn(5, 3))
    with pytest.raises(InputError, match="temperature"):
        info_nce(a, a, temperature=0)
    with pytest.raises(InputError, match="NaN"):
        siglip_loss(torch.full((2, 3), float("nan")), torch.randn(2, 3), t=10, b=-10)
    with pytest.raises(InputError, match="scale"):
        siglip_loss(a, a, t=-1.0, b=0.0)
    with pytest.raises(ShapeError, match="centre"):
        dino_loss(a, a, torch.zeros(5))
    with pytest.raises(InputError, match="integer classes"):
        gce_loss(a, torch.tensor([0, 1, 2, 3]), tau=0.5)
    with pytest.raises(InputError, match="tau"):
        gce_loss(a, torch.tensor([0, 1, 2, 0]), tau=-1)
