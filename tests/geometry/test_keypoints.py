"""Keypoints + homography. Ground truth: the homography used to make the synthetic warp."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from kadr.errors import BackendUnavailableError, InputError, KadrError
from kadr.geometry.keypoints import (
    AlignmentError, AlignOptions, align, available_detectors, corner_error, homography_methods, overlay,
    project, random_homography, resolve_detector,
)
from tests.geometry._media import jpeg, photos_640


@pytest.fixture(scope="module")
def warped_pairs():
    """(a, b, H_true) for three photos at 640x480: random perspective (corners moved up to 8 %
    of the size), Gaussian noise sigma 3, JPEG quality 80 — the check of issue 8."""
    rng = np.random.default_rng(0)
    out = []
    for img in photos_640().values():
        H = random_homography(img.shape, rng, strength=0.08)
        b = cv2.warpPerspective(img, H, (img.shape[1], img.shape[0]))
        b = jpeg(np.clip(b + rng.normal(0, 3, b.shape), 0, 255).astype(np.uint8))
        out.append((img, b, H))
    return out


@pytest.mark.parametrize("detector", ["orb", "akaze", "sift"])
def test_corner_error_below_half_pixel(warped_pairs, detector):
    if detector not in available_detectors():
        pytest.skip(f"{detector} is not in this OpenCV build (OpenCV 5 moved AKAZE to opencv_contrib)")
    errs = []
    for a, b, H in warped_pairs:
        r = align(a, b, AlignOptions(detector=detector))
        assert r.ok and r.detector == detector
        errs.append(corner_error(r.H, H, a.shape))
    assert np.mean(errs) <= 0.5, errs  # issue 8: mean corner error <= 0.5 px at 640x480
    assert r.reprojection_error < 1.0


def test_refinement_does_not_hurt_and_robust_methods_work(warped_pairs):
    a, b, H = warped_pairs[0]
    plain = align(a, b, AlignOptions(refine=False))
    refined = align(a, b)
    assert refined.refined and not plain.refined
    assert corner_error(refined.H, H, a.shape) <= corner_error(plain.H, H, a.shape) + 0.05
    for method in ("ransac", "usac_magsac", "usac_accurate"):
        assert method in homography_methods()
        assert corner_error(align(a, b, AlignOptions(method=method, refine=False)).H, H, a.shape) < 1.5


def test_result_fields_are_consistent(warped_pairs):
    a, b, H = warped_pairs[1]
    r = align(a, b)
    assert r.matches >= r.inliers >= 12 and 0 < r.inlier_ratio <= 1
    np.testing.assert_allclose(r.corners, project(H, [[0, 0], [640, 0], [640, 480], [0, 480]]), atol=1.0)
    assert r.extra["model"] == "homography" and r.extra["coverage"] > 0.3
    d = r.to_dict()
    assert d["size_a"] == (640, 480) and len(d["homography"]) == 3


def test_overlay_is_grey_where_aligned(warped_pairs):
    a, b, H = warped_pairs[2]
    ov = overlay(a, b, H)
    assert ov.shape == b.shape and ov.dtype == np.uint8
    inner = (slice(100, 380), slice(150, 490))
    # red/blue = warped A, green = B: aligned → the channels agree up to noise + JPEG
    diff = np.abs(ov[inner][..., 0].astype(int) - ov[inner][..., 1]).mean()
    assert diff < 6
    shifted = overlay(a, b, H @ np.array([[1, 0, 8], [0, 1, 0], [0, 0, 1.0]]))
    assert np.abs(shifted[inner][..., 0].astype(int) - shifted[inner][..., 1]).mean() > 2 * diff


def test_textureless_frames_fail_clearly():
    flat = np.full((240, 320, 3), 128, np.uint8)
    with pytest.raises(AlignmentError, match="too few keypoints in A"):
        align(flat, flat)
    r = align(flat, flat, strict=False)
    assert not r.ok and "textureless" in r.reason and r.homography is None


def test_unrelated_images_are_not_aligned():
    photos = photos_640()
    rng = np.random.default_rng(3)
    noise = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
    r = align(photos["astronaut"], noise, strict=False)
    assert not r.ok and r.reason


def test_different_sizes_are_allowed():
    a = photos_640()["coffee"]
    b = cv2.resize(a, (320, 240), interpolation=cv2.INTER_AREA)
    r = align(a, b)
    # b = a scaled by 0.5: H = [[0.5, 0, -0.25], [0, 0.5, -0.25], [0, 0, 1]] (INTER_AREA averages
    # pixels 2x and 2x+1, so centre x of b sits at 2x + 0.5 of a)
    H = np.array([[0.5, 0, -0.25], [0, 0.5, -0.25], [0, 0, 1]])
    assert corner_error(r.H, H, a.shape) < 0.5


def test_detector_resolution_and_bad_names(monkeypatch):
    import kadr.geometry.keypoints as kp

    assert resolve_detector("auto") == ("akaze" if "akaze" in available_detectors() else "sift")
    # a plain opencv-python-headless 5 build has no AKAZE: auto falls back to SIFT, akaze says what to install
    monkeypatch.setattr(kp, "_akaze_factory", lambda: None)
    assert "akaze" not in available_detectors() and resolve_detector("auto") == "sift"
    with pytest.raises(BackendUnavailableError, match="opencv-contrib-python-headless"):
        resolve_detector("akaze")
    monkeypatch.undo()
    with pytest.raises(InputError):
        resolve_detector("surf")
    with pytest.raises(InputError):
        align(np.zeros((10, 10, 3), np.float32), np.zeros((10, 10, 3), np.float32))
    with pytest.raises(KadrError):
        align(photos_640()["coffee"], photos_640()["coffee"], AlignOptions(method="magic"))
