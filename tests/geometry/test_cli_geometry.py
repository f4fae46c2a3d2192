"""kadr align / track / segments as a user runs them (generated media; real clips when present)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from kadr.cli._common import save_rgb
from kadr.geometry.keypoints import corner_error, random_homography
from kadr.io.synthetic import write_video
from tests.conftest import run_cli
from tests.conftest import shared_video_dir
from tests.geometry._media import moving_patch_frames, photos_640


run = run_cli


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    d = tmp_path_factory.mktemp("align")
    a = photos_640()["astronaut"]
    H = random_homography(a.shape, np.random.default_rng(5))
    b = cv2.warpPerspective(a, H, (640, 480))
    save_rgb(a, d / "a.png")
    save_rgb(b, d / "b.png")
    cv2.circle(b, (500, 100), 40, (255, 0, 0), -1)
    save_rgb(b, d / "b_disc.png")
    save_rgb(np.full((480, 640, 3), 128, np.uint8), d / "flat.png")
    return d, H


def test_align_json_and_overlay(capsys, pair):
    d, H = pair
    code, out, err = run(capsys, "align", d / "a.png", d / "b.png", "--json", "--overlay", d / "ov.png")
    assert code == 0, err
    r = json.loads(out)
    assert r["ok"] and r["detector"] == "orb" and r["method"] == "usac_magsac"
    assert corner_error(np.array(r["homography"]), H, (480, 640)) < 0.5
    assert (d / "ov.png").exists() and r["overlay"].endswith("ov.png")
    code, out, _ = run(capsys, "align", d / "a.png", d / "b.png", "--detector", "sift", "--method", "ransac")
    assert code == 0 and "SIFT + ransac" in out and "reprojection" in out


def test_align_bad_inputs(capsys, pair):
    d, _ = pair
    code, _, err = run(capsys, "align", d / "flat.png", d / "b.png")
    assert code == 2 and "too few keypoints in A" in err
    code, _, err = run(capsys, "align", d / "missing.png", d / "b.png")
    assert code == 2 and "not found" in err
    code, _, err = run(capsys, "align", d / "a.png", d / "b.png", "--overlay", d / "ov.unknownext")
    assert code == 2 and "cannot write" in err
    code, _, err = run(capsys, "align", d / "a.png", d / "b.png", "--ratio", "3")
    assert code == 2 and "ratio" in err


def test_segments_reports_the_new_disc(capsys, pair):
    d, _ = pair
    b = cv2.cvtColor(cv2.imread(str(d / "b.png")), cv2.COLOR_BGR2RGB)
    cv2.circle(b, (300, 240), 50, (255, 0, 0), -1)
    save_rgb(b, d / "b2.png")
    code, out, err = run(capsys, "segments", d / "b.png", d / "b2.png", "--json", "--draw", d / "seg.png")
    assert code == 0, err
    r = json.loads(out)
    assert r["summary"]["appeared"] >= 1 and (d / "seg.png").exists()
    big = max(r["appeared"], key=lambda x: x["area"])
    x, y, w, h = big["bbox"]
    assert abs(x + w / 2 - 300) < 25 and abs(y + h / 2 - 240) < 25
    code, _, err = run(capsys, "segments", d / "a.png", d / "missing.png")
    assert code == 2
    code, _, err = run(capsys, "segments", d / "a.png", d / "b.png", "--method", "nope")
    assert code == 2 and "valid segmentation methods" in err


@pytest.fixture(scope="module")
def object_clip(tmp_path_factory):
    """60 frames: the moving patch; frames 30-39 switch to another background without the
    object (a shot of its own), then the object comes back."""
    frames, boxes = moving_patch_frames(60, hide=range(30, 40))
    other = cv2.resize(np.asarray(frames[0])[::-1], (320, 240))
    for i in range(30, 40):
        frames[i] = other
    p = tmp_path_factory.mktemp("track") / "object.mp4"
    write_video(frames, p, fps=25, crf=16)
    return p, boxes


def test_track_json(capsys, object_clip):
    path, boxes = object_clip
    b = boxes[0]
    code, out, err = run(capsys, "track", path, "--box", f"{b.cx - b.w / 2},{b.cy - b.h / 2},{b.w},{b.h}", "--json")
    assert code == 0, err
    r = json.loads(out)
    rows = r["track"]
    assert len(rows) == 60 and rows[0]["state"] == "init"
    assert 30 in r["boundaries"]
    assert all(x["state"] == "lost" and x["cx"] is None for x in rows[30:40])
    assert "found" in [x["state"] for x in rows[40:43]]
    last = rows[-1]
    assert abs(last["cx"] - boxes[-1].cx) < 3 and abs(last["angle"] - boxes[-1].angle) < 4


def test_track_stop_at_boundary_and_bad_boxes(capsys, object_clip, tmp_path):
    path, boxes = object_clip
    code, out, err = run(capsys, "track", path, "--box", "45,95,70,50", "--on-boundary", "stop",
                         "--draw", tmp_path / "drawn.mp4")
    assert code == 0, err
    assert "30 frames" in out and (tmp_path / "drawn.mp4").exists()
    for box, msg in (("500,500,10,10", "outside"), ("45,95,0,50", "width and height"), ("1,2,3", "x,y,w,h"),
                     ("nan,1,5,5", "finite")):
        code, _, err = run(capsys, "track", path, "--box", box)
        assert code == 2 and msg in err, err
    code, _, err = run(capsys, "track", path, "--box", "45,95,70,50", "--start", "999")
    assert code == 2 and "past the last frame" in err


@pytest.mark.shared
def test_align_on_real_clip(capsys):
    v = shared_video_dir() / "testvideo.mp4"
    # frames 40 and 100 of the photo slideshow show the same still photo (shot 30..180)
    code, out, err = run(capsys, "align", f"{v}@#40", f"{v}@#100", "--json")
    assert code == 0, err
    r = json.loads(out)
    assert corner_error(np.array(r["homography"]), np.eye(3), (720, 1280)) < 0.1


def test_compare_with_masks(capsys, pair, tmp_path):
    """`kadr compare --mask` weights SSIM by kadr.geometry.masks (same value as masked_compare)."""
    from kadr.geometry.masks import masked_compare

    d, _ = pair
    # small frames: the weighted SSIM is the slow part
    a, b = (cv2.resize(cv2.cvtColor(cv2.imread(str(d / n)), cv2.COLOR_BGR2RGB), (160, 120),
                       interpolation=cv2.INTER_AREA) for n in ("b.png", "b_disc.png"))
    save_rgb(a, tmp_path / "a.png")
    save_rgb(b, tmp_path / "b.png")
    args = ["compare", tmp_path / "a.png", tmp_path / "b.png", "--metrics", "ssim", "--json"]
    code, out, err = run(capsys, *args)
    plain = json.loads(out)["pairs"][0]["ssim"]
    for mask in ("gradient", "motion"):
        code, out, err = run(capsys, *args, "--mask", mask)
        assert code == 0, err
        weighted = json.loads(out)["pairs"][0]["ssim"]
        assert weighted == pytest.approx(masked_compare(a, b, mask=mask)["ssim_masked"], abs=1e-6)
        assert weighted != pytest.approx(plain, abs=1e-4)
    # the disc appeared where nothing else changed: the motion-weighted SSIM of luma focuses on it and drops
    code, out, _ = run(capsys, *args, "--mask", "motion", "--grey")
    assert code == 0 and json.loads(out)["pairs"][0]["ssim"] < plain
    code, out, err = run(capsys, *args, "--mask", "contrast")
    assert code == 0 and -1 <= json.loads(out)["pairs"][0]["ssim"] <= 1

