"""Object tracking: a textured patch moving, turning and growing over a textured background
(the check of issue 8: mean IoU >= 0.8 over 200 frames), lost/found, boundaries, bad input."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from kadr.errors import InputError
from kadr.geometry.tracking import OrientedBox, Tracker, TrackOptions, check_box_in_frame, parse_box, polygon_iou
from tests.geometry._media import moving_patch_frames


def run_tracker(frames, boxes, **kw):
    tr = Tracker(TrackOptions(**kw))
    points = [tr.start(frames[0], boxes[0])]
    points += [tr.update(f) for f in frames[1:]]
    return points


def test_follows_moving_rotating_patch_200_frames():
    frames, boxes = moving_patch_frames(200)
    points = run_tracker(frames, boxes)
    ious = [polygon_iou(p.box.corners(), b.corners()) if p.box is not None else 0.0 for p, b in zip(points, boxes)]
    assert np.mean(ious) >= 0.8, np.mean(ious)  # issue 8 check
    assert min(ious) > 0.6
    assert [p.state for p in points[:2]] == ["init", "tracked"]
    # the patch turned 90° and grew 1.3x (minus the last step): the box followed
    assert abs(points[-1].box.angle - boxes[-1].angle) < 5
    assert points[-1].box.w == pytest.approx(boxes[-1].w, rel=0.08)


def test_lost_while_hidden_then_found():
    frames, boxes = moving_patch_frames(80, hide=range(30, 40))
    points = run_tracker(frames, boxes)
    states = [p.state for p in points]
    assert all(s == "lost" for s in states[30:40]) and all(p.box is None for p in points[30:40])
    found = states.index("found")
    assert 40 <= found <= 42
    after = [polygon_iou(p.box.corners(), b.corners()) for p, b in zip(points[found:], boxes[found:])]
    assert np.mean(after) > 0.8


def test_boundary_drops_tracking_and_reacquires():
    frames, boxes = moving_patch_frames(30)
    tr = Tracker()
    tr.start(frames[0], boxes[0])
    for f in frames[1:10]:
        tr.update(f)
    p = tr.update(frames[10], boundary=True)
    # the same object is still there after the "boundary": found again straight away
    assert p.state == "found" and polygon_iou(p.box.corners(), boxes[10].corners()) > 0.8
    blank = np.full_like(frames[0], 90)
    assert tr.update(blank, boundary=True).state == "lost"


def test_box_corners_follow_opencv_rotatedrect():
    # reference: cv2.boxPoints of the RotatedRect ((cx, cy), (w, h), angle) — same point set
    b = OrientedBox(50, 40, 30, 10, 25)
    ref = cv2.boxPoints(((50, 40), (30, 10), 25))
    mine = b.corners()
    d = np.linalg.norm(mine[:, None] - ref[None], axis=2)
    assert d.min(axis=1).max() < 1e-4


def test_polygon_iou_reference_values():
    # reference values from issue 8 (independent polygon IoU): 10x10 shifted 4 px → 0.429,
    # 20x10 vs itself turned 15° → 0.762, crossed 100x10 at 0° and 90° → 0.053
    sq = OrientedBox(0, 0, 10, 10)
    assert polygon_iou(sq.corners(), OrientedBox(4, 0, 10, 10).corners()) == pytest.approx(0.429, abs=1e-3)
    r = OrientedBox(0, 0, 20, 10)
    assert polygon_iou(r.corners(), OrientedBox(0, 0, 20, 10, 15).corners()) == pytest.approx(0.762, abs=1e-3)
    assert polygon_iou(OrientedBox(0, 0, 100, 10).corners(), OrientedBox(0, 0, 100, 10, 90).corners()) == \
        pytest.approx(0.053, abs=1e-3)


def test_bad_boxes_raise():
    for text in ("1,2,3", "a,b,c,d", "10,10,0,5", "10,10,5,-1", "nan,1,2,3", "1,1,inf,3"):
        with pytest.raises(InputError):
            parse_box(text)
    assert parse_box("10,20,30,40,15") == OrientedBox(25, 40, 30, 40, 15)
    with pytest.raises(InputError, match="outside"):
        check_box_in_frame(parse_box("500,500,20,20"), 320, 240)
    frames, _ = moving_patch_frames(2)
    with pytest.raises(InputError, match="outside"):
        Tracker().start(frames[0], parse_box("-100,-100,20,20"))
    with pytest.raises(InputError, match="too little texture"):
        Tracker().start(np.full((240, 320, 3), 80, np.uint8), parse_box("10,10,50,50"))
    with pytest.raises(InputError, match="start"):
        Tracker().update(frames[0])
    tr = Tracker()
    tr.start(frames[0], parse_box("45,95,70,50"))
    with pytest.raises(InputError, match="size changed"):
        tr.update(frames[1][:100])
