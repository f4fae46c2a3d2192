"""CKA against a plain-numpy transcription of Kornblith et al. 2019 and Song et al. 2012."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kadr.errors import InputError, ShapeError
from kadr.metrics import functional as F
from kadr.metrics.streaming import MinibatchCKA


def np_hsic(K, L):
    """Kornblith et al. 2019, eq. 3: tr(KHLH) / (n-1)^2."""
    n = K.shape[0]
    H = np.eye(n) - np.ones((n, n)) / n
    return np.trace(K @ H @ L @ H) / (n - 1) ** 2


def np_hsic_unbiased(K, L):
    """Song et al. 2012, eq. 5 (with zeroed diagonals)."""
    n = K.shape[0]
    K, L = K - np.diag(np.diag(K)), L - np.diag(np.diag(L))
    one = np.ones(n)
    return (np.trace(K @ L) + (one @ K @ one) * (one @ L @ one) / ((n - 1) * (n - 2))
            - 2 / (n - 2) * one @ K @ L @ one) / (n * (n - 3))


def np_rbf(X, frac):
    """Kornblith et al.'s colab `rbf`: exp(-d^2 / (2 frac^2 median(d^2)))."""
    d2 = ((X[:, None] - X[None]) ** 2).sum(-1)
    return np.exp(-d2 / (2 * frac ** 2 * np.median(d2)))


def np_cka(K, L, hsic=np_hsic):
    return hsic(K, L) / np.sqrt(hsic(K, K) * hsic(L, L))


@pytest.fixture(scope="module")
def reps():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 12))
    Y = np.tanh(X @ rng.normal(size=(12, 7))) + 0.3 * rng.normal(size=(40, 7))
    return X, Y


def test_cka_matches_numpy_transcription(reps):
    X, Y = reps
    assert F.cka(X, Y) == pytest.approx(np_cka(X @ X.T, Y @ Y.T), abs=1e-12)
    assert F.cka(X, Y, debiased=True) == pytest.approx(np_cka(X @ X.T, Y @ Y.T, np_hsic_unbiased), abs=1e-12)
    for frac in (0.5, 1.0):
        ref = np_cka(np_rbf(X, frac), np_rbf(Y, frac))
        assert F.cka(X, Y, kernel="rbf", sigma_frac=frac) == pytest.approx(ref, abs=1e-12)
    # linear CKA in feature form (Kornblith et al. eq. 5): ||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F)
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    feat = np.linalg.norm(Yc.T @ Xc) ** 2 / (np.linalg.norm(Xc.T @ Xc) * np.linalg.norm(Yc.T @ Yc))
    assert F.cka(X, Y) == pytest.approx(feat, abs=1e-12)


def test_cka_invariances(reps):
    X, Y = reps
    rng = np.random.default_rng(5)
    Q, _ = np.linalg.qr(rng.normal(size=(12, 12)))
    for kw in ({}, {"kernel": "rbf"}, {"debiased": True}):
        base = F.cka(X, Y, **kw)
        assert F.cka(X @ Q, Y, **kw) == pytest.approx(base, abs=1e-10)   # orthogonal transform
        assert F.cka(3.7 * X, Y, **kw) == pytest.approx(base, abs=1e-10)  # isotropic scaling
        assert F.cka(X, X, **kw) == pytest.approx(1.0, abs=1e-12)
    assert F.cka(np.ones((10, 3)), X[:10]) == 0.0  # constant representation: 0, not NaN


def test_debiased_cka_is_unbiased_on_null():
    # independent X, Y: biased linear CKA is clearly > 0 for n << p, the debiased one ~ 0
    vals, biased = [], []
    for seed in range(40):
        rng = np.random.default_rng(100 + seed)
        X, Y = rng.normal(size=(20, 50)), rng.normal(size=(20, 50))
        vals.append(F.cka(X, Y, debiased=True))
        biased.append(F.cka(X, Y))
    assert abs(np.mean(vals)) < 3 * np.std(vals) / np.sqrt(len(vals)) + 1e-3
    assert np.mean(biased) > 0.5


def test_minibatch_cka(reps):
    X, Y = reps
    # one batch: minibatch CKA = debiased CKA
    assert F.minibatch_cka([(X, Y)]) == pytest.approx(F.cka(X, Y, debiased=True), abs=1e-12)
    # several batches: Nguyen et al. 2021 — ratio of summed HSIC_1 terms (transcribed)
    batches = [(X[i:i + 10], Y[i:i + 10]) for i in range(0, 40, 10)]
    kl = sum(np_hsic_unbiased(a @ a.T, b @ b.T) for a, b in batches)
    kk = sum(np_hsic_unbiased(a @ a.T, a @ a.T) for a, b in batches)
    ll = sum(np_hsic_unbiased(b @ b.T, b @ b.T) for a, b in batches)
    ref = kl / np.sqrt(kk * ll)
    assert F.minibatch_cka(batches) == pytest.approx(ref, abs=1e-12)
    m = MinibatchCKA()
    for a, b in batches:
        m.update(a, b)
    assert m.compute() == pytest.approx(ref, abs=1e-12) and m.batches == 4
    m.reset()
    with pytest.raises(InputError):
        m.compute()
    with pytest.raises(InputError, match="at least 4"):
        F.minibatch_cka([(X[:3], Y[:3])])


def test_cka_errors_and_gradients(reps):
    X, Y = reps
    with pytest.raises(ShapeError, match="same examples"):
        F.cka(X, Y[:-1])
    with pytest.raises(InputError, match="kernel"):
        F.cka(X, Y, kernel="poly")
    x = torch.from_numpy(X[:12, :5]).requires_grad_(True)
    y = torch.from_numpy(Y[:12])
    for kw in ({}, {"debiased": True}, {"kernel": "rbf"}):
        assert torch.autograd.gradcheck(lambda a: F.cka(a, y, **kw), (x,), eps=1e-6, atol=1e-5)
