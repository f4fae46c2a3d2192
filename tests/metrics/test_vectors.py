"""Vector, pairwise, top-k and semantic scores against numpy/scipy transcriptions."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

from kadr.errors import InputError, ShapeError
from kadr.metrics import functional as F


@pytest.fixture(scope="module")
def vecs():
    rng = np.random.default_rng(1)
    return rng.normal(size=(37, 24)), rng.normal(size=(37, 24)), rng.normal(size=(53, 24))


def test_rowwise_against_numpy(vecs):
    a, b, _ = vecs
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    np.testing.assert_allclose(F.cosine_similarity(a, b), cos, atol=1e-12)
    np.testing.assert_allclose(F.dot(a, b), (a * b).sum(1), atol=1e-12)
    np.testing.assert_allclose(F.l1_distance(a, b), np.abs(a - b).sum(1), atol=1e-12)
    np.testing.assert_allclose(F.l2_distance(a, b), np.linalg.norm(a - b, axis=1), atol=1e-12)
    np.testing.assert_allclose(F.cosine_distance(a, b), 1 - cos, atol=1e-12)
    assert isinstance(F.cosine_similarity(a[0], b[0]), float)
    assert F.cosine_similarity(a[0], b[0]) == pytest.approx(cos[0], abs=1e-12)
    np.testing.assert_allclose(F.cosine_similarity(a[0], b), (a[0] * b).sum(1) / np.linalg.norm(a[0])
                               / np.linalg.norm(b, axis=1), atol=1e-12)  # one row broadcasts
    assert F.cosine_similarity(np.zeros(4), np.ones(4)) == 0.0  # zero vector: 0, not NaN
    t = F.cosine_similarity(torch.from_numpy(a).float(), torch.from_numpy(b).float())
    assert isinstance(t, torch.Tensor) and t.shape == (37,)


def test_pairwise_against_scipy(vecs):
    a, _, c = vecs
    for chunk in (5, 4096):
        np.testing.assert_allclose(F.pairwise_cosine(a, c, chunk=chunk), 1 - cdist(a, c, "cosine"), atol=1e-12)
        np.testing.assert_allclose(F.pairwise_distance(a, c, chunk=chunk), cdist(a, c), atol=1e-9)
        np.testing.assert_allclose(F.pairwise_distance(a, c, metric="l1", chunk=chunk), cdist(a, c, "cityblock"),
                                   atol=1e-9)
        np.testing.assert_allclose(F.pairwise_distance(a, c, metric="dot", chunk=chunk), a @ c.T, atol=1e-12)
    with pytest.raises(ShapeError):
        F.pairwise_cosine(a, c[:, :5])
    with pytest.raises(InputError, match="chunk"):
        F.pairwise_cosine(a, c, chunk=0)


def test_topk_cosine_against_brute_force():
    rng = np.random.default_rng(2)
    db = rng.normal(size=(1000, 16)).astype(np.float32)
    q = rng.normal(size=(7, 16)).astype(np.float32)
    full = 1 - cdist(q, db, "cosine")
    ref_i = np.argsort(-full, axis=1)[:, :10]
    for chunk in (64, 333, 5000):
        s, i = F.topk_cosine(q, db, 10, chunk=chunk)
        np.testing.assert_array_equal(i, ref_i)
        np.testing.assert_allclose(s, np.take_along_axis(full, ref_i, 1), atol=1e-5)
    dbn = db / np.linalg.norm(db, axis=1, keepdims=True)
    qn = q / np.linalg.norm(q, axis=1, keepdims=True)
    s, i = F.topk_cosine(qn, dbn, 3, normalised=True)
    np.testing.assert_array_equal(i, ref_i[:, :3])
    s, i = F.topk_cosine(q, db[:2], 5)  # k larger than the database: all of it
    assert s.shape == (7, 2)
    with pytest.raises(InputError, match="k must"):
        F.topk_cosine(q, db, 0)


def test_clip_score_and_vit_score(vecs):
    a, b, c = vecs
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    # Hessel et al. 2021: CLIP-S = 2.5 * max(cos, 0)
    np.testing.assert_allclose(F.clip_score(a, b), 2.5 * np.maximum(cos, 0), atol=1e-12)
    # BERTScore-style greedy matching (Zhang et al. 2020, eq. 1-3), transcribed
    cand, ref = a[:9], c[:14]
    sim = 1 - cdist(ref, cand, "cosine")  # (ref, cand)
    r, p = sim.max(1).mean(), sim.max(0).mean()
    got = F.vit_score(cand, ref)
    assert got.recall == pytest.approx(r, abs=1e-12)
    assert got.precision == pytest.approx(p, abs=1e-12)
    assert got.f1 == pytest.approx(2 * r * p / (r + p), abs=1e-12)
    assert F.vit_score(ref, ref).f1 == pytest.approx(1.0)
    batch = F.vit_score(torch.from_numpy(np.stack([cand, cand])), torch.from_numpy(np.stack([ref[:9], cand])))
    assert batch.f1.shape == (2,) and float(batch.f1[1]) == pytest.approx(1.0)
    with pytest.raises(ShapeError):
        F.vit_score(cand, ref[:, :3])


def test_vector_gradients():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(4, 6, dtype=torch.float64, generator=g, requires_grad=True)
    b = torch.randn(4, 6, dtype=torch.float64, generator=g)
    t = torch.randn(5, 6, dtype=torch.float64, generator=g)
    for fn in (lambda x: F.cosine_similarity(x, b), lambda x: F.dot(x, b), lambda x: F.l2_distance(x, b),
               lambda x: F.l1_distance(x, b), lambda x: F.clip_score(x, b), lambda x: F.cosine_distance(x, b),
               lambda x: F.pairwise_cosine(x, t, chunk=3), lambda x: F.pairwise_distance(x, t),
               lambda x: F.vit_score(x, t).f1):
        assert torch.autograd.gradcheck(fn, (a,), eps=1e-6, atol=1e-5)
