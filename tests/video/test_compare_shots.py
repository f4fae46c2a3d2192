"""Keyframe comparison: similarity matrices, repeat pairs and groups, end to end on clips."""

from __future__ import annotations

import numpy as np
import pytest

from kadr.errors import InputError
from kadr.video.compare_shots import CompareOptions, VideoShots, compare, compare_videos, shot_similarity
from kadr.video.keyframes import ShotKeyframes
from kadr.video.types import Keyframe, Shot
from tests.tiny_encoder import TinyEncoder


def _unit(x):
    x = np.asarray(x, np.float32)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def test_shot_similarity_is_the_best_keyframe_pair():
    rng = np.random.default_rng(0)
    blocks = [_unit(rng.normal(size=(k, 6))) for k in (1, 3, 2, 2)]
    s, t = shot_similarity(blocks)
    e = np.concatenate(blocks)
    assert np.allclose(s, e @ e.T, atol=1e-6)
    # reference: explicit loops over keyframe pairs
    for i, a in enumerate(blocks):
        for j, b in enumerate(blocks):
            assert t[i, j] == pytest.approx(max(float(x @ y) for x in a for y in b), abs=1e-6)
    with pytest.raises(InputError, match="dimensions"):
        shot_similarity([np.ones((1, 3)), np.ones((1, 4))])


_TEXTURE = np.random.default_rng(5).integers(0, 256, (18, 32, 3), dtype=np.uint8)  # a picture with content


def _sk(index, vectors, thumbs=None):
    emb = _unit(vectors)
    shot = Shot(index, index * 10, index * 10 + 10, index * 0.4, index * 0.4 + 0.4,
                [Keyframe(index * 10 + j, 0.0) for j in range(len(emb))])
    return ShotKeyframes(shot, shot.keyframes, emb, thumbs or [_TEXTURE] * len(emb), [1.0] * len(emb),
                         len(emb), 0.0)


def test_content_free_keyframes_take_no_part_in_repeats():
    """Three black cards (identical embeddings) and a real repeat: only the real repeat is a
    pair; the cards are listed as content-free; a shot with a card and a picture is matched
    on its picture."""
    x, y, card = np.eye(3)
    black = np.zeros((36, 64, 3), np.uint8)
    a = VideoShots("a.mp4", [_sk(0, [card], [black]), _sk(1, [x]), _sk(2, [card], [black]),
                             _sk(3, [card, y], [black, _TEXTURE])])
    b = VideoShots("b.mp4", [_sk(0, [card], [black]), _sk(1, [x + 0.1 * y])])
    res = compare([a, b], encoder="test", options=CompareOptions(threshold=0.9))
    assert [((p["a"]["video"], p["a"]["shot"]), (p["b"]["video"], p["b"]["shot"])) for p in res.pairs] == \
        [((0, 1), (1, 1))]
    assert [(m["video"], m["shot"], m["content"]) for m in res.content_free] == \
        [(0, 0, "solid"), (0, 2, "solid"), (1, 0, "solid")]
    assert res.to_dict()["content_free"] == res.content_free


def test_pairs_and_groups_within_and_across():
    x, y, z = np.eye(3)
    a = VideoShots("a.mp4", [_sk(0, [x]), _sk(1, [y]), _sk(2, [x * 0.9 + z * 0.1, z])])
    b = VideoShots("b.mp4", [_sk(0, [z]), _sk(1, [y + 0.05 * x])])
    res = compare([a, b], encoder="test", options=CompareOptions(threshold=0.95))
    got = {((p["a"]["video"], p["a"]["shot"]), (p["b"]["video"], p["b"]["shot"])): p["kind"] for p in res.pairs}
    assert got == {((0, 0), (0, 2)): "within", ((0, 1), (1, 1)): "across", ((0, 2), (1, 0)): "across"}
    groups = sorted(sorted((m["video"], m["shot"]) for m in g) for g in res.groups)
    assert groups == [[(0, 0), (0, 2), (1, 0)], [(0, 1), (1, 1)]]
    sims = [p["similarity"] for p in res.pairs]
    assert sims == sorted(sims, reverse=True)
    d = res.to_dict()
    assert len(d["matrix"]) == 6 and len(d["shot_matrix"]) == 5 and d["metric"] == "cosine"
    with pytest.raises(InputError, match="threshold"):
        CompareOptions(threshold=2)


@pytest.fixture(scope="module")
def repeat_clips(tmp_path_factory):
    """A: astronaut | coffee | astronaut again (another camera move); B: rocket | coffee."""
    from kadr.io.synthetic import Join, ShotSpec, render_clip, write_video

    d = tmp_path_factory.mktemp("cmp")
    fa, _ = render_clip([ShotSpec("astronaut", 20), ShotSpec("coffee", 20), ShotSpec("astronaut", 20, zoom=(1.1, 1.0))],
                        [Join("cut")] * 2, size=(160, 96))
    fb, _ = render_clip([ShotSpec("rocket", 20), ShotSpec("coffee", 20, pan=(-0.3, 0.1))], [Join("cut")],
                        size=(160, 96), seed=1)
    return write_video(fa, d / "a.mp4"), write_video(fb, d / "b.mp4")


def test_compare_videos_finds_the_repeats(repeat_clips):
    a, b = repeat_clips
    res = compare_videos([a, b], encoder=TinyEncoder(), options=CompareOptions(threshold=0.8), detector="classic")
    assert [len(v.shots) for v in res.videos] == [3, 2]
    found = {((p["a"]["video"], p["a"]["shot"]), (p["b"]["video"], p["b"]["shot"])) for p in res.pairs}
    assert ((0, 0), (0, 2)) in found      # astronaut repeated within A
    assert ((0, 1), (1, 1)) in found      # coffee in A and in B
    assert not any({x, y} & {(1, 0)} for x, y in found)  # the rocket is unique


def test_default_encoder_and_threshold_find_exactly_the_repeats(repeat_clips):
    # defaults: effnet-lite0 keyframes, cosine >= 0.8 (calibration recorded in CompareOptions)
    a, _ = repeat_clips
    res = compare_videos([a], detector="classic")
    assert [(p["a"]["shot"], p["b"]["shot"]) for p in res.pairs] == [(0, 2)]
    assert res.encoder == "effnet-lite0"
