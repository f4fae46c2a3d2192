"""ComparisonHead / train_head on synthetic embedding clusters, and compare-shots --head."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kadr.errors import InputError, ModelLoadError, ShapeError
from kadr.nn import ComparisonHead, train_head


def _views(n_groups=24, per=4, dim=48, seed=0):
    """Groups whose centres differ in a few 'content' directions, views differ by a large
    nuisance direction shared by all groups: plain cosine confuses them, a head can learn to
    ignore the nuisance."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_groups, dim)) * 0.3
    nuisance = rng.normal(size=(4, dim))
    g = np.repeat(np.arange(n_groups), per)

    def view():
        e = centres[g] + rng.normal(size=(len(g), 4)) @ nuisance + rng.normal(size=(len(g), dim)) * 0.02
        return (e / np.linalg.norm(e, axis=1, keepdims=True)).astype(np.float32)
    return view(), view(), g


def _top1(a, b, g):
    s = a @ b.T
    return float(np.mean(g[s.argmax(1)] == g))


def test_untrained_head_is_plain_cosine():
    a, _, _ = _views()
    head = ComparisonHead(a.shape[1], rank=8)
    np.testing.assert_allclose(head.transform(a), a, atol=1e-6)  # U = 0 at the start


@pytest.mark.parametrize("kind", ["linear", "kan"])
def test_training_removes_a_nuisance_direction(kind, tmp_path):
    a, b, g = _views(seed=1)
    ta, tb, tg = _views(seed=2)  # held out: new groups, new views
    head = train_head(a, b, g, rank=8, kind=kind, steps=60, batch_size=16, lr=2e-2, info={"encoder": "toy"})
    before, after = _top1(ta, tb, tg), _top1(head.transform(ta), head.transform(tb), tg)
    assert after > before
    path = head.save(tmp_path / "h.pt")
    again = ComparisonHead.load(path)
    np.testing.assert_allclose(again.transform(ta), head.transform(ta), atol=1e-6)
    assert again.info["encoder"] == "toy"


def test_bad_input(tmp_path):
    a, b, g = _views()
    with pytest.raises(InputError, match="2 groups"):
        train_head(a, b, np.zeros(len(a)))
    with pytest.raises(ShapeError):
        train_head(a, b[:-1], g)
    with pytest.raises(ShapeError, match="encoder"):
        ComparisonHead(10).transform(a)
    with pytest.raises(ModelLoadError, match="not found"):
        ComparisonHead.load(tmp_path / "missing.pt")
    bad = tmp_path / "bad.pt"
    torch.save({"x": 1}, bad)
    with pytest.raises(ModelLoadError, match="not a kadr comparison head"):
        ComparisonHead.load(bad)


def test_compare_uses_the_head(tmp_path):
    from kadr.video.compare_shots import CompareOptions, VideoShots, compare
    from kadr.video.keyframes import ShotKeyframes

    a, b, g = _views(n_groups=4, per=1, dim=16)
    head = ComparisonHead(16, rank=4)
    with torch.no_grad():
        head.up.weight.normal_()
    path = head.save(tmp_path / "h.pt")

    def shots():
        from kadr.video.types import Keyframe, Shot

        return [ShotKeyframes(shot=Shot(i, i * 10, i * 10 + 10, float(i), i + 1.0), keyframes=[Keyframe(i * 10 + 5, i + 0.5)],
                              embeddings=a[i:i + 1], thumbnails=[], sharpness=[1.0], candidates=1, coverage=1.0)
                for i in range(4)]
    plain = compare([VideoShots("v", shots())], encoder="toy")
    with_head = compare([VideoShots("v", shots())], encoder="toy", options=CompareOptions(head=str(path)))
    e = head.transform(a)
    np.testing.assert_allclose(with_head.matrix, np.clip(e @ e.T, -1, 1), atol=1e-5)
    assert not np.allclose(plain.matrix, with_head.matrix)
    assert with_head.to_dict()["head"] == str(path)
