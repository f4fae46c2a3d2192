"""Segmentation, region descriptors and region matching between two frames."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from kadr.errors import InputError, ModelLoadError, ShapeError, UnknownNameError
from kadr.geometry.segmentation import (
    SegmentOptions, compare_regions, describe_regions, grabcut, label_iou, match_regions, region_similarity, segment,
)
from kadr.io.synthetic import sample_photo


@pytest.fixture(scope="module")
def scene():
    """(a, b, disc mask): a photo, and the same photo with a red disc added."""
    a = cv2.resize(sample_photo("coffee"), (320, 240), interpolation=cv2.INTER_AREA)
    b = a.copy()
    cv2.circle(b, (250, 60), 30, (255, 0, 0), -1)
    disc = np.zeros(a.shape[:2], np.uint8)
    cv2.circle(disc, (250, 60), 30, 1, -1)
    return a, b, disc.astype(bool)


@pytest.mark.parametrize("method", ["slic", "felzenszwalb", "watershed"])
def test_label_maps(scene, method):
    a = scene[0]
    labels = segment(a, method, segments=40)
    assert labels.shape == a.shape[:2] and labels.dtype == np.int32
    k = labels.max() + 1
    assert labels.min() == 0 and len(np.unique(labels)) == k  # contiguous 0..K-1
    assert 8 <= k <= 400


def test_slic_is_scikit_image_slic(scene):
    from skimage.segmentation import slic

    a = scene[0]
    ref = slic(a.astype(np.float32) / 255, n_segments=40, compactness=10.0, start_label=0, channel_axis=-1)
    np.testing.assert_array_equal(segment(a, "slic", segments=40), ref)


def test_new_object_appears_and_vanishes(scene):
    a, b, disc = scene
    diff, la, lb = compare_regions(a, b)
    assert diff.appeared, diff.to_dict()["summary"]
    appeared = np.isin(lb, [r.label for r in diff.appeared])
    # the disc is (mostly) covered by appeared regions, and they lie near the disc
    assert (appeared & disc).sum() / disc.sum() > 0.8
    ys, xs = np.nonzero(appeared)
    assert xs.min() > 150 and ys.max() < 130
    back, _, _ = compare_regions(b, a)
    assert back.vanished and not back.appeared or len(back.vanished) >= len(back.appeared)


def test_identical_frames_have_no_changes(scene):
    a = scene[0]
    d = compare_regions(a, a)[0].to_dict()["summary"]
    assert d["changed"] == d["appeared"] == d["vanished"] == 0 and d["same"] > 5


def test_recoloured_object_is_changed():
    a = np.full((120, 160, 3), 40, np.uint8)
    cv2.rectangle(a, (20, 20), (70, 90), (200, 30, 30), -1)
    cv2.rectangle(a, (100, 30), (140, 80), (30, 200, 30), -1)
    b = a.copy()
    cv2.rectangle(b, (100, 30), (140, 80), (30, 30, 220), -1)
    diff = compare_regions(a, b, SegmentOptions(segments=8))[0]
    changed = diff.changed
    assert len(changed) == 1
    # the green rectangle is 41x51 at (100, 30); Felzenszwalb's sigma-0.8 smoothing may add a 1-px rim
    np.testing.assert_allclose(changed[0]["bbox_b"], [100, 30, 41, 51], atol=2)
    assert changed[0]["iou"] > 0.8 and changed[0]["similarity"] < 0.2


def test_descriptors_and_similarity(scene):
    a = scene[0]
    labels = segment(a, "slic", segments=20)
    calls = []

    def embed(crops):
        calls.append(len(crops))
        return np.stack([c.reshape(-1, 3).mean(0) + 1 for c in crops])  # a stand-in encoder: mean colour

    regions = describe_regions(a, labels, embed=embed)
    assert calls == [len(regions)] and sum(r.area for r in regions) == a.shape[0] * a.shape[1]
    for r in regions:
        assert r.histogram.sum() == pytest.approx(1.0, abs=1e-5)
        x, y, w, h = r.bbox
        ys, xs = np.nonzero(labels == r.label)
        assert (x, y, w, h) == (xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)
        assert np.linalg.norm(r.embedding) == pytest.approx(1.0, abs=1e-5)
    sim = region_similarity(regions, regions)
    np.testing.assert_allclose(np.diag(sim), 1.0, atol=1e-5)
    assert sim.min() >= 0 and sim.max() <= 1 + 1e-6


def test_label_iou_brute_force():
    rng = np.random.default_rng(0)
    la, lb = rng.integers(0, 4, (30, 40)), rng.integers(0, 3, (30, 40))
    iou = label_iou(la, lb)
    for i in range(4):
        for j in range(3):
            A, B = la == i, lb == j
            assert iou[i, j] == pytest.approx((A & B).sum() / (A | B).sum())
    with pytest.raises(ShapeError):
        label_iou(la, lb[:10])


def test_hungarian_is_one_to_one(scene):
    a = scene[0]
    la = segment(a, "slic", segments=30)
    ra = describe_regions(a, la)
    diff = match_regions(ra, ra, la, la)
    assert len(diff.matched) == len(ra) and all(m["a"] == m["b"] for m in diff.matched)


def test_grabcut_from_a_box():
    rng = np.random.default_rng(1)
    img = (cv2.resize(sample_photo("brick"), (200, 150)) * 0.5).astype(np.uint8)
    truth = np.zeros((150, 200), np.uint8)
    cv2.ellipse(truth, (100, 75), (40, 30), 0, 0, 360, 1, -1)
    img[truth > 0] = np.clip(rng.normal((220, 60, 40), 10, (int(truth.sum()), 3)), 0, 255).astype(np.uint8)
    fg = grabcut(img, (50, 35, 100, 80))
    t = truth.astype(bool)
    assert (fg & t).sum() / (fg | t).sum() > 0.85
    with pytest.raises(InputError):
        grabcut(img, (0, 0, 200, 150))
    with pytest.raises(InputError):
        grabcut(img, (300, 300, 10, 10))
    with pytest.raises(InputError):
        grabcut(img, (10, 10, 0, 5))


@pytest.mark.parametrize("fmt", ["pt2", "pt", "onnx"])
def test_model_folder_slot(tmp_path, fmt):
    """A SAM-class slot: a stand-in model whose two mask logits are 'red' vs 'not red'."""
    import torch

    class RedMasks(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            r = x[:, 0:1] - 0.5 * (x[:, 1:2] + x[:, 2:3])
            return torch.cat([r, 0.25 - r], 1)

    x = torch.rand(1, 3, 64, 64)
    if fmt == "pt2":
        torch.export.save(torch.export.export(RedMasks(), (x,)), str(tmp_path / "model.pt2"))
    elif fmt == "pt":
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.jit.script(RedMasks()).save(str(tmp_path / "model.pt"))
    else:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(RedMasks(), (x,), str(tmp_path / "model.onnx"), dynamo=False, input_names=["x"])
    (tmp_path / "config.json").write_text(json.dumps({"input_size": [64, 64]}))
    img = np.full((128, 96, 3), 60, np.uint8)
    img[30:90, 20:60] = (230, 20, 20)
    labels = segment(img, str(tmp_path))
    assert labels.shape == (128, 96)
    assert len(np.unique(labels[35:85, 25:55])) == 1 and labels[50, 40] != labels[5, 5]


def test_bad_inputs(scene, tmp_path):
    a = scene[0]
    with pytest.raises(UnknownNameError):
        segment(a, "sam")
    with pytest.raises(ModelLoadError):
        segment(a, str(tmp_path))  # an empty folder
    with pytest.raises(ModelLoadError, match="folder not found"):
        segment(a, "./no-such-model")
    with pytest.raises(ShapeError):
        compare_regions(a, a[:100])
    with pytest.raises(InputError):
        segment(a, "slic", segments=0)
    with pytest.raises(InputError):
        describe_regions(a, -np.ones(a.shape[:2], int))
