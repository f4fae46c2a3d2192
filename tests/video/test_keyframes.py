"""Keyframe choice: medoid + sharpness + farthest-point coverage, streaming buffer, saving."""

from __future__ import annotations

import numpy as np
import pytest

from kadr.errors import InputError, OutputError
from kadr.io.video import Frame, VideoReader
from kadr.video.keyframes import KeyframeOptions, KeyframePicker, choose_keyframes, pick_keyframes, sharpness
from kadr.video.types import Shot, Transition
from tests.tiny_encoder import TinyEncoder


def _unit(x):
    x = np.asarray(x, np.float64)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _chordal(a, b):
    # ||a - b|| of unit vectors = sqrt(2 - 2 cos)
    return np.sqrt(np.maximum(0, 2 - 2 * a @ b.T))


def test_first_keyframe_is_the_medoid():
    rng = np.random.default_rng(1)
    e = _unit(rng.normal(size=(15, 8)) + np.array([3, 0, 0, 0, 0, 0, 0, 0]))
    chosen, _ = choose_keyframes(e, None, max_k=1)
    # medoid by definition (Kaufman & Rousseeuw 1990): argmin of the summed distances
    assert chosen == [int(np.argmin(_chordal(e, e).sum(1)))]


def test_farthest_point_covers_each_cluster_once():
    rng = np.random.default_rng(2)
    a = _unit(np.array([1.0, 0, 0]) + 0.02 * rng.normal(size=(12, 3)))
    b = _unit(np.array([0, 1.0, 0]) + 0.02 * rng.normal(size=(6, 3)))
    c = _unit(np.array([0, 0, 1.0]) + 0.02 * rng.normal(size=(3, 3)))
    e = np.concatenate([a, b, c])
    chosen, coverage = choose_keyframes(e, None, max_k=5, novelty=0.4)
    owner = [0] * 12 + [1] * 6 + [2] * 3
    assert owner[chosen[0]] == 0                       # the big cluster holds the medoid
    assert sorted(owner[i] for i in chosen) == [0, 1, 2]  # one per cluster, then the novelty stop
    # coverage: the largest distance of any row to its nearest chosen row (recomputed here)
    assert coverage == pytest.approx(_chordal(e, e[chosen]).min(1).max(), abs=1e-9)
    assert coverage < 0.4
    one, _ = choose_keyframes(e, None, max_k=5, novelty=1.5)  # orthogonal clusters are sqrt(2) apart
    assert len(one) == 1


def test_sharpness_gate_and_reference():
    import cv2
    from scipy import ndimage

    from kadr.io.synthetic import sample_photo

    img = cv2.resize(sample_photo("astronaut"), (128, 128), interpolation=cv2.INTER_AREA)
    blurred = cv2.GaussianBlur(img, (0, 0), 2.0)
    grey = np.round(img.astype(np.float64) @ [0.299, 0.587, 0.114])
    # reference: variance of the 4-neighbour Laplacian (Pech-Pacheco 2000), mirror borders
    ref = ndimage.laplace(grey, mode="mirror").var()
    assert sharpness(img) == pytest.approx(ref, rel=0.02)
    assert sharpness(blurred) < 0.2 * sharpness(img)
    # the middle row is the medoid, but it is the blurred frame: the gate skips it
    e = _unit(np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]))
    assert choose_keyframes(e, None, max_k=1)[0] == [1]
    s = np.array([sharpness(img), sharpness(blurred), sharpness(img)])
    assert choose_keyframes(e, s, max_k=1)[0] in ([0], [2])
    assert choose_keyframes(e, s, max_k=1, min_sharpness=0.0)[0] == [1]


def test_options_are_validated():
    with pytest.raises(InputError, match="max_per_shot"):
        KeyframeOptions(max_per_shot=0)
    with pytest.raises(InputError, match="novelty"):
        KeyframeOptions(novelty=3)
    with pytest.raises(InputError, match="min_sharpness"):
        KeyframeOptions(min_sharpness=2)
    with pytest.raises(InputError, match="non-empty"):
        choose_keyframes(np.zeros((0, 4)))


def _frames(images, fps=25.0):
    return [Frame.from_array(im, i, i / fps) for i, im in enumerate(images)]


def test_streaming_buffer_stays_bounded_and_even():
    img = np.full((16, 16, 3), 120, np.uint8)
    picker = KeyframePicker(TinyEncoder(), KeyframeOptions(candidates=8))
    seen = 0
    for i in range(1000):
        picker.update(Frame.from_array(img, i, i / 25))
        seen = max(seen, len(picker._buf))
    assert seen <= 16
    idx = [f.index for f in picker._buf]
    assert len(set(np.diff(idx))) == 1  # evenly spaced
    res = picker.close_shot(Shot(0, 0, 1000, 0.0, 40.0))
    assert res.candidates == 8 and len(res.keyframes) == 1  # a static shot gets one keyframe
    assert picker._buf == []


@pytest.fixture(scope="module")
def two_scene_clip(tmp_path_factory):
    """Shot 0: astronaut, still (30 frames); shot 1 (one 'shot' for the picker): 20 frames
    of coffee then 20 frames of chelsea, as in a pan between two rooms."""
    from kadr.io.synthetic import Join, ShotSpec, render_clip, write_video

    frames, _ = render_clip([ShotSpec("astronaut", 30, zoom=(1, 1), pan=(0, 0)),
                             ShotSpec("coffee", 20, zoom=(1, 1.05)), ShotSpec("chelsea", 20, zoom=(1, 1.05))],
                            [Join("cut"), Join("cut")],
                            size=(160, 96))
    p = tmp_path_factory.mktemp("kf") / "two.mp4"
    write_video(frames, p, fps=25)
    return p


def test_picker_finds_one_keyframe_per_scene(two_scene_clip, tmp_path):
    shots = [Shot(0, 0, 30, 0.0, 1.2), Shot(1, 30, 70, 1.2, 2.8)]
    res = pick_keyframes(two_scene_clip, shots, encoder=TinyEncoder(), out_dir=tmp_path, image_format="png")
    assert [len(r.keyframes) for r in res] == [1, 2]
    k0, k1 = (k.frame for k in res[1].keyframes)
    assert 30 <= k0 < 50 <= k1 < 70  # one keyframe in each half of the 'pan'
    assert shots[1].keyframes == res[1].keyframes  # filled in place
    # the saved image is that frame (PNG, full size; decoded again independently)
    from PIL import Image

    with VideoReader(two_scene_clip) as r:
        ref = r.read(frame=k1).image
    saved = np.asarray(Image.open(res[1].keyframes[1].path))
    assert saved.shape == ref.shape and np.abs(saved.astype(int) - ref).max() == 0
    assert res[1].embeddings.shape == (2, TinyEncoder.dim)


def test_keyframes_avoid_transitions(demo_clip):
    path, truth = demo_clip
    # shots between the ground-truth boundaries; the gradual transitions are excluded
    bounds = [0] + [s for _, s, _ in truth.types] + [truth.frames]
    shots = [Shot(i, a, b, a / 25, b / 25) for i, (a, b) in enumerate(zip(bounds, bounds[1:])) if b > a]
    trans = [Transition(t, s, e, s / 25, e / 25, 1.0) for t, s, e in truth.types]
    res = pick_keyframes(path, shots, transitions=trans, encoder=TinyEncoder(),
                         options=KeyframeOptions(margin=0.0), analysis_size=96)
    assert all(r.keyframes for r in res)
    for r in res:
        for k in r.keyframes:
            assert not any(s <= k.frame < e for _, s, e in truth.types if e > s), (k, truth.types)
            assert r.shot.start_frame <= k.frame < r.shot.end_frame


def test_bad_inputs(two_scene_clip, tmp_path):
    with pytest.raises(InputError, match="overlap"):
        pick_keyframes(two_scene_clip, [Shot(0, 0, 30, 0, 1.2), Shot(1, 20, 40, 0.8, 1.6)], encoder=TinyEncoder())
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="cannot create output folder"):
        KeyframePicker(TinyEncoder(), out_dir=blocker / "keyframes")
    assert pick_keyframes(two_scene_clip, [], encoder=TinyEncoder()) == []


def test_solid_frames_are_not_picked_unless_the_shot_is_solid():
    from kadr.io.synthetic import sample_photo

    photo = sample_photo("coffee")[::8, ::8]
    black = np.zeros_like(photo)
    frames = _frames([black] * 30 + [photo] * 5)  # mostly the black hold of a fade
    res = pick_keyframes(frames, [Shot(0, 0, 35, 0.0, 1.4)], encoder=TinyEncoder(),
                         options=KeyframeOptions(margin=0.0))
    assert all(k.frame >= 30 for k in res[0].keyframes)
    res = pick_keyframes(_frames([black] * 10), [Shot(0, 0, 10, 0.0, 0.4)], encoder=TinyEncoder())
    assert len(res[0].keyframes) == 1  # an all-black shot still gets its keyframe
