"""Shared fixtures: media made on the fly so the tests pass anywhere."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

SHARED_VIDEO = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "video"


def run_cli(capsys, *argv):
    """Run ``kadr ARGV...`` in-process (arguments may be Paths): (exit code, stdout, stderr)."""
    from kadr.cli.main import main

    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def shared_video_dir() -> Path:
    """``../shared/data/video`` or skip the test when it is absent."""
    if not (SHARED_VIDEO / "ground_truth.json").exists():
        pytest.skip("../shared/data/video is absent")
    return SHARED_VIDEO


@pytest.fixture(scope="session")
def shared_truth() -> dict:
    return json.loads((shared_video_dir() / "ground_truth.json").read_text())


@pytest.fixture(scope="session")
def demo_clip(tmp_path_factory):
    """(path, ClipTruth) of the generated demo clip."""
    from kadr.io.synthetic import demo_clip as make

    p = tmp_path_factory.mktemp("media") / "demo.mp4"
    truth = make(p)
    return p, truth


@pytest.fixture(scope="session")
def counter_clip(tmp_path_factory):
    """A 60-frame 25 fps clip whose frame i encodes i in its grey level (i*4) and a
    block position, with a key frame every 10 frames: exact seeking is checkable."""
    from kadr.io.synthetic import write_video

    frames = []
    for i in range(60):
        img = np.full((64, 96, 3), i * 4, np.uint8)
        img[:8, (i % 12) * 8:(i % 12) * 8 + 8] = 255
        frames.append(img)
    p = tmp_path_factory.mktemp("media") / "counter.mp4"
    write_video(frames, p, fps=25, crf=0, gop=10)
    return p


def needs_ffmpeg():
    if shutil.which("ffmpeg") is None:
        pytest.skip("the ffmpeg program is not installed")
    return shutil.which("ffmpeg")


def pytest_collection_modifyitems(config, items):
    """``@pytest.mark.soak`` tests (hour-long streams, minutes each) run only in their own CI
    step, ``make soak`` (KADR_SOAK=1), never inside ``make test``."""
    import os

    if os.environ.get("KADR_SOAK") == "1":
        return
    skip = pytest.mark.skip(reason="soak test: run with `make soak` (KADR_SOAK=1)")
    for item in items:
        if "soak" in item.keywords:
            item.add_marker(skip)
