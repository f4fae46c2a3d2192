"""`kadr compare` on images, video frames and folders, and its one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from kadr.cli.main import main
from kadr.metrics import functional as F
from tests.metrics.conftest import jpeg


def run_json(capsys, *argv):
    assert main(["compare", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def run_error(capsys, *argv) -> str:
    assert main(["compare", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("kadr: error: ") and "\n" not in err
    return err


@pytest.fixture(scope="module")
def folders(tmp_path_factory, photos):
    root = tmp_path_factory.mktemp("cmp")
    (root / "A").mkdir()
    (root / "B").mkdir()
    a, c = photos["astronaut"], photos["coffee"]
    Image.fromarray(a).save(root / "A" / "astro.png")
    Image.fromarray(jpeg(a, 25)).save(root / "B" / "astro.png")
    Image.fromarray(c).save(root / "A" / "coffee.png")
    Image.fromarray(c[::2, ::2]).save(root / "B" / "coffee.jpg", quality=95)
    Image.fromarray(c).save(root / "A" / "only_a.png")
    return root


def test_compare_two_images(capsys, folders, photos):
    out = run_json(capsys, str(folders / "A" / "astro.png"), str(folders / "B" / "astro.png"),
                   "--metrics", "ssim,psnr,mse")
    (row,) = out["pairs"]
    ref_b = np.asarray(Image.open(folders / "B" / "astro.png"))
    a = photos["astronaut"]
    assert row["ssim"] == pytest.approx(F.ssim(a, ref_b), abs=1e-12)
    assert row["psnr"] == pytest.approx(F.psnr(a, ref_b), abs=1e-12)
    assert out["metrics"] == ["ssim", "psnr", "mse"] and out["higher_is_better"]["mse"] is False
    assert main(["compare", str(folders / "A" / "astro.png"), str(folders / "B" / "astro.png")]) == 0
    text = capsys.readouterr().out
    assert "ms_ssim" in text and "higher is better" in text


def test_compare_folders(capsys, folders):
    err = run_error(capsys, str(folders / "A"), str(folders / "B"))
    assert "--resize" in err
    out = run_json(capsys, str(folders / "A"), str(folders / "B"), "--resize", "--grey")
    assert [r["a"].rsplit("/", 1)[1] for r in out["pairs"]] == ["astro.png", "coffee.png"]
    assert out["unpaired"] == {"a": ["only_a"], "b": []}
    assert all(0 < r["ssim"] < 1 for r in out["pairs"])
    # folder vs single image: one row per file of the folder
    out = run_json(capsys, str(folders / "A"), str(folders / "A" / "coffee.png"), "--metrics", "mae", "--resize")
    assert len(out["pairs"]) == 3 and min(r["mae"] for r in out["pairs"]) == 0.0


def test_compare_video_frames(capsys, counter_clip):
    # counter clip: frame i is grey level 4*i with a white block (tests/conftest.py)
    out = run_json(capsys, f"{counter_clip}@#10", f"{counter_clip}@0.4s", "--metrics", "ssim,psnr")
    assert out["pairs"][0]["ssim"] == 1.0 and out["pairs"][0]["psnr"] is None  # identical → inf → null
    # clip@T is the frame on screen at T: frame 10 is shown during [0.40, 0.44) s
    out = run_json(capsys, f"{counter_clip}@#10", f"{counter_clip}@0.43s", "--metrics", "mae")
    assert out["pairs"][0]["mae"] == 0.0
    out = run_json(capsys, f"{counter_clip}@#10", f"{counter_clip}@#12", "--metrics", "mae")
    assert out["pairs"][0]["mae"] > 1
    err = run_error(capsys, str(counter_clip), f"{counter_clip}@#1")
    assert "@12.5s" in err


def test_compare_errors(capsys, folders, counter_clip):
    a = str(folders / "A" / "astro.png")
    assert "unknown image metric 'nope'" in run_error(capsys, a, a, "--metrics", "ssim,nope")
    assert "valid image metrics: mae, ms_ssim" in run_error(capsys, a, a, "--metrics", "cosine")
    assert "not found" in run_error(capsys, a, str(folders / "missing.png"))
    assert "no frame" in run_error(capsys, f"{counter_clip}@#500", a)
    assert "in common" in run_error(capsys, str(folders / "A"), str(folders.parent))


@pytest.mark.shared
def test_compare_real_clip_within_and_across_shots(capsys):
    # ground_truth.json: testvideo.mp4 has a still photo over frames 30-179 and another over
    # 240-330 (hard cut at 180, fade 211-240), so neighbouring frames inside a shot are near
    # identical and frames of different shots are not
    from tests.conftest import shared_video_dir

    clip = shared_video_dir() / "testvideo.mp4"
    same = run_json(capsys, f"{clip}@#100", f"{clip}@#101", "--metrics", "ssim,ms_ssim")["pairs"][0]
    other = run_json(capsys, f"{clip}@#100", f"{clip}@#285", "--metrics", "ssim,ms_ssim")["pairs"][0]
    assert same["ssim"] > 0.9 and same["ms_ssim"] > 0.95
    assert other["ssim"] < 0.5 and other["ms_ssim"] < 0.5
    assert same["width"] == 1280 and same["height"] == 720
