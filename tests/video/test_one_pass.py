"""Shots and keyframes in one decode pass give what the two-pass order gives."""

from __future__ import annotations

import numpy as np
import pytest

from kadr.io.video import VideoReader
from kadr.video.keyframes import KeyframeOptions, detect_shots_and_keyframes, pick_keyframes
from kadr.video.shots import detect_shots
from tests.tiny_encoder import TinyEncoder


def _two_pass(path, opts, **kw):
    det = detect_shots(str(path), fast_decode=False, analysis_size=kw.get("analysis_size", 256))
    res = pick_keyframes(str(path), det.shots, transitions=det.transitions, encoder=TinyEncoder(),
                         options=opts, **kw)
    return det, res


def _frames(res):
    return [[k.frame for k in r.keyframes] for r in res]


@pytest.mark.parametrize("out_dir", [False, True])
def test_one_pass_equals_two_passes(demo_clip, tmp_path, out_dir):
    path, truth = demo_clip
    opts = KeyframeOptions(candidates=8, max_per_shot=2)
    kw = {"out_dir": tmp_path / "two"} if out_dir else {}
    det2, res2 = _two_pass(path, opts, **kw)
    kw = {"out_dir": tmp_path / "one"} if out_dir else {}
    det1, res1, rep = detect_shots_and_keyframes(str(path), encoder=TinyEncoder(), options=opts, **kw)
    assert rep.passes == 1 and rep.second_pass_reason is None
    assert rep.frames_decoded == truth.frames == det1.frames        # every frame decoded once
    with VideoReader(path) as r:
        assert rep.frame_size == (r.width, r.height)
    assert [(s.start_frame, s.end_frame) for s in det1.shots] == [(s.start_frame, s.end_frame) for s in det2.shots]
    assert _frames(res1) == _frames(res2) and all(r.keyframes for r in res1)
    assert [s.keyframes for s in det1.shots] == [r.keyframes for r in res1]  # filled in place
    for a, b in zip(res1, res2):
        np.testing.assert_allclose(a.embeddings, b.embeddings, atol=1e-6)
    if out_dir:
        assert sorted(p.name for p in (tmp_path / "one").iterdir()) == sorted(p.name for p in (tmp_path / "two").iterdir())


def test_a_transition_decided_too_late_falls_back_to_a_second_pass(demo_clip):
    path, truth = demo_clip
    opts = KeyframeOptions(candidates=8, max_per_shot=2)
    _, res2 = _two_pass(path, opts)
    # lag 0: every frame reaches the picker before the detector has decided the cut in it
    _, res1, rep = detect_shots_and_keyframes(str(path), encoder=TinyEncoder(), options=opts, lag=0)
    assert rep.passes == 2 and "decided more than 0 frames after it" in rep.second_pass_reason
    assert rep.frames_decoded == 2 * truth.frames
    assert _frames(res1) == _frames(res2)
