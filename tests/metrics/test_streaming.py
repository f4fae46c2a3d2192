"""Streaming metrics, centred-softmax similarity, registry metadata and LearnableMix."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kadr import metrics
from kadr.errors import InputError, ShapeError, UnknownNameError
from kadr.metrics import functional as F
from kadr.metrics.streaming import CentredSimilarity, RunningPSNR, RunningSSIM
from tests.metrics.conftest import noisy


def test_running_ssim_psnr(photos):
    a = photos["camera"][:64, :64]
    bs = [noisy(a, s, seed=s) for s in (5, 15, 30)]
    r, p = RunningSSIM(), RunningPSNR()
    for b in bs:
        r.update(a, b)
        p.update(a, b)
    assert r.compute() == pytest.approx(np.mean([F.ssim(a, b) for b in bs]), abs=1e-12)
    assert r.min == pytest.approx(F.ssim(a, bs[-1]), abs=1e-12)
    assert p.compute() == pytest.approx(np.mean([F.psnr(a, b) for b in bs]), abs=1e-12)
    # a batch update counts each pair
    x = torch.from_numpy(np.stack([a, a]))[:, None]
    y = torch.from_numpy(np.stack(bs[:2]))[:, None]
    r.reset()
    r.update(x, y)
    assert r.count == 2
    assert r.compute() == pytest.approx(np.mean([F.ssim(a, b) for b in bs[:2]]), abs=1e-5)
    r.reset()
    with pytest.raises(InputError, match="before any update"):
        r.compute()


def _cos(a, b):
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    return a @ b.T


def _softmax(z, axis):
    e = np.exp(z - z.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


@pytest.fixture(scope="module")
def emb():
    rng = np.random.default_rng(3)
    common = rng.normal(size=16) * 3
    return common + rng.normal(size=(5, 16)), common + rng.normal(size=(12, 16))


def test_centred_similarity_maths(emb):
    q, f = emb
    s = CentredSimilarity("none", temperature=0.1)
    d = s.score(q, f)
    np.testing.assert_allclose(d["cosine"], _cos(f, q), atol=1e-6)
    np.testing.assert_allclose(d["centred"], d["cosine"])
    np.testing.assert_allclose(d["prob"], _softmax(_cos(f, q) / 0.1, 1), atol=1e-5)
    # running centre = mean of every frame seen
    s = CentredSimilarity("running", temperature=0.1)
    assert s.compute() is None
    s.update(f[:5])
    s.update(f[5:])
    mu = f.mean(0)
    np.testing.assert_allclose(s.compute(), mu, atol=1e-6)
    np.testing.assert_allclose(s.score(q, f)["centred"], _cos(f - mu, q - mu), atol=1e-5)
    # EMA: closed form equals the frame-by-frame recursion mu <- (1-a) mu + a f
    e = CentredSimilarity("ema", ema_alpha=0.2)
    e.update(f[:7])
    e.update(f[7:])
    ref = f[0].copy()
    for row in f[1:]:
        ref = 0.8 * ref + 0.2 * row
    np.testing.assert_allclose(e.compute(), ref, atol=1e-6)
    # fixed: a library mean (given as embeddings) is averaged once and kept over reset()
    fx = CentredSimilarity("fixed", mean=q, temperature=0.05)
    fx.update(f)
    fx.reset()
    np.testing.assert_allclose(fx.compute(), q.mean(0), atol=1e-6)
    got = fx.score(q, f)
    np.testing.assert_allclose(got["centred"], _cos(f - q.mean(0), q - q.mean(0)), atol=1e-5)
    np.testing.assert_allclose(got["prob"].sum(1), 1.0, atol=1e-6)
    # expected similarity over the series: softmax over frames
    ex = fx.expected(q, f)
    c = got["centred"]
    np.testing.assert_allclose(ex["expected"], (_softmax(c / 0.05, 0) * c).sum(0), atol=1e-5)
    np.testing.assert_allclose(ex["prob"], got["prob"].mean(0), atol=1e-6)


def test_centring_removes_shared_direction(emb):
    # a shared offset makes every plain cosine high; centring on the true mean restores the
    # separation of the underlying (independent) vectors
    q, f = emb
    plain = CentredSimilarity("none").score(q, f)["cosine"]
    cen = CentredSimilarity("fixed", mean=np.vstack([q, f])).score(q, f)["centred"]
    assert plain.mean() > 0.6 and abs(cen.mean()) < 0.2


def test_centre_auto_default(emb):
    q, f = emb
    assert CentredSimilarity().centre == "none"
    auto = CentredSimilarity(mean=q)
    assert auto.centre == "fixed"
    np.testing.assert_allclose(auto.score(q, f)["centred"],
                               CentredSimilarity("fixed", mean=q).score(q, f)["centred"])


def test_centred_similarity_errors_and_torch(emb):
    q, f = emb
    with pytest.raises(InputError, match="mean="):
        CentredSimilarity("fixed")
    with pytest.raises(InputError, match="centre"):
        CentredSimilarity("median")
    with pytest.raises(InputError, match="temperature"):
        CentredSimilarity("none", temperature=0)
    with pytest.raises(ShapeError):
        CentredSimilarity("none").score(q, f[:, :5])
    s = CentredSimilarity("running")
    s.update(torch.from_numpy(f).float())
    with pytest.raises(ShapeError):
        s.update(f[:, :4])
    out = s.score(torch.from_numpy(q).float(), torch.from_numpy(f).float())
    assert isinstance(out["prob"], torch.Tensor) and out["prob"].shape == (12, 5)


def test_registry_metadata():
    ssim = metrics.get("ssim")
    assert ssim.higher_is_better and ssim.range == (-1.0, 1.0) and ssim.differentiable
    assert ssim.input == "image" and ssim.needs_data_range and ssim.accepts_weights
    assert not metrics.get("mse").higher_is_better
    assert metrics.get("cosine").input == "embedding"
    assert metrics.get("vit_score").input == "token_set"
    assert set(metrics.names("image")) == {"mse", "mae", "psnr", "ssim", "ms_ssim"}
    a = np.random.default_rng(0).integers(0, 255, (32, 32), dtype=np.uint8)
    assert metrics.get("SSIM")(a, a) == 1.0
    x = np.random.default_rng(1).normal(size=(10, 4))
    assert metrics.get("cka_rbf")(x, x) == pytest.approx(1.0)
    with pytest.raises(UnknownNameError, match="valid metrics: cka"):
        metrics.get("ssim2")
    assert metrics.get("psnr").to_dict()["range"] == ["-inf", "inf"]


def test_mix_and_learnable_mix():
    assert F.mix(2.0, 4.0, 0.25) == pytest.approx(3.5)
    with pytest.raises(InputError, match="mu"):
        F.mix(1.0, 2.0, 1.5)
    g = torch.Generator().manual_seed(1)
    a, b = (torch.randn(4, dtype=torch.float64, generator=g, requires_grad=True) for _ in range(2))
    mu = torch.rand(4, dtype=torch.float64, generator=g).mul(0.8).add(0.1).requires_grad_(True)
    assert torch.autograd.gradcheck(F.mix, (a, b, mu), eps=1e-6, atol=1e-6)
    torch.manual_seed(0)
    # learn to pick term 0 when x > 0 and term 1 otherwise: mu = sigmoid(w x + b) must go to 1 / 0
    lm = metrics.LearnableMix(1)
    opt = torch.optim.Adam(lm.parameters(), lr=0.1)
    x = torch.randn(64, 1)
    t0, t1 = torch.randn(64), torch.randn(64)
    target = torch.where(x[:, 0] > 0, t0, t1)
    first = None
    for _ in range(200):
        loss = ((lm(x, t0, t1) - target) ** 2).mean()
        first = first if first is not None else float(loss.detach())
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 0.05 * first
    assert float(lm.last_mu[x[:, 0] > 1].min()) > 0.9
    # three terms mixed recursively: weights mu0, (1-mu0) mu1, (1-mu0)(1-mu1), sum 1
    lm3 = metrics.LearnableMix(3, n_terms=3)
    xx = torch.randn(5, 3)
    w = lm3.weights(xx)
    torch.testing.assert_close(w.sum(1), torch.ones(5))
    terms = [torch.randn(5) for _ in range(3)]
    torch.testing.assert_close(lm3(xx, *terms), sum(w[:, i] * terms[i] for i in range(3)))
    with pytest.raises(InputError, match="3 terms"):
        lm3(xx, *terms[:2])


def _grad_inputs(kind: str, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    if kind == "image":
        x = torch.rand(1, 1, 24, 24, dtype=torch.float64, generator=g)
        return x, (x + 0.1 * torch.rand(x.shape, dtype=torch.float64, generator=g)).clamp(0, 1)
    if kind == "token_set":
        return torch.randn(5, 6, dtype=torch.float64, generator=g), torch.randn(7, 6, dtype=torch.float64, generator=g)
    if kind == "representation":
        return torch.randn(9, 4, dtype=torch.float64, generator=g), torch.randn(9, 3, dtype=torch.float64, generator=g)
    return torch.randn(4, 6, dtype=torch.float64, generator=g), torch.randn(4, 6, dtype=torch.float64, generator=g)


@pytest.mark.parametrize("name", [n for n in metrics.names() if metrics.get(n).differentiable])
def test_every_differentiable_metric_passes_gradcheck(name):
    # the registry's `differentiable` flag is a promise: torch.autograd.gradcheck in double
    m = metrics.get(name)
    g = torch.Generator().manual_seed(0)
    a, b = _grad_inputs(m.input, g)
    kw = {"data_range": 1.0} if m.needs_data_range else {}

    def fn(x):
        out = m(x, b, **kw)
        return out if isinstance(out, torch.Tensor) else torch.as_tensor(out)

    assert torch.autograd.gradcheck(fn, (a.requires_grad_(True),), eps=1e-6, atol=1e-5, fast_mode=True)
