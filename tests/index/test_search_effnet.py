"""Search with the default encoder: the scikit-image sample photos plus other pictures are
indexed; cropped / rescaled / re-encoded variants must find their original first. Dedup
thresholds are checked on the same encoder. Video keyframes are indexed through the shots layer."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from PIL import Image

from kadr.index import Index
from tests.index.conftest import library_photos


def _jpeg(a: np.ndarray, q: int) -> np.ndarray:
    b = io.BytesIO()
    Image.fromarray(a).save(b, format="JPEG", quality=q)
    return np.asarray(Image.open(b).convert("RGB"))


def _resize(a: np.ndarray, f: float) -> np.ndarray:
    return np.asarray(Image.fromarray(a).resize((max(8, int(a.shape[1] * f)), max(8, int(a.shape[0] * f))), Image.BICUBIC))


@pytest.fixture(scope="module")
def library(tmp_path_factory, effnet):
    d = tmp_path_factory.mktemp("library")
    photos = library_photos()
    for n, a in photos.items():
        Image.fromarray(a).save(d / f"{n}.png")
    # dedup material: a re-encoded half-size copy (duplicate), a 60 % crop (similar), a byte copy (exact)
    Image.fromarray(_jpeg(_resize(photos["coffee"], 0.5), 60)).save(d / "coffee_copy.jpg", quality=95)
    a = photos["rocket"]
    h, w = a.shape[:2]
    Image.fromarray(a[h // 5: -h // 5, w // 5: -w // 5]).save(d / "rocket_crop.png")
    (d / "clock_bytes.png").write_bytes((d / "clock.png").read_bytes())
    idx = Index(tmp_path_factory.mktemp("db") / "db", effnet)
    rep = idx.add(d)
    assert not rep.failed and rep.rows_written == len(photos) + 3
    return idx, photos


def test_variants_find_their_original_first(library):
    idx, photos = library
    found = 0
    names = ["astronaut", "chelsea", "rocket", "hubble_deep_field", "camera", "coins", "retina", "motorcycle", "clock"]
    for n in names:
        a = photos[n]
        h, w = a.shape[:2]
        crop = a[h // 8: h - h // 10, w // 10: w - w // 8]           # off-centre crop
        variant = _jpeg(_resize(crop, 0.6), 55)                         # rescaled, re-encoded
        hits = idx.search(variant, k=3, where="source NOT LIKE '%copy%' AND source NOT LIKE '%crop%' "
                                                 "AND source NOT LIKE '%bytes%'")
        found += os.path.basename(hits[0].source) == f"{n}.png"
    assert found == len(names)


def test_dedup_separates_duplicates_from_similar(library):
    idx, _ = library
    res = idx.dedup()
    dup = [sorted(os.path.basename(i["source"]) for i in g.items) for g in res["duplicates"]]
    sim = [sorted(os.path.basename(i["source"]) for i in g.items) for g in res["similar"]]
    assert ["coffee.png", "coffee_copy.jpg"] in dup
    assert ["clock.png", "clock_bytes.png"] in dup
    exact = {tuple(sorted(os.path.basename(i["source"]) for i in g.items)): g.exact for g in res["duplicates"]}
    assert exact[("clock.png", "clock_bytes.png")] and not exact[("coffee.png", "coffee_copy.jpg")]
    assert ["rocket.png", "rocket_crop.png"] in sim
    flat_dup = {x for g in dup for x in g}
    assert "rocket_crop.png" not in flat_dup and len(dup) == 2  # nothing else is a duplicate
    assert all(len(g) == 2 for g in sim)  # unrelated photos are not grouped


def test_video_keyframes_are_indexed_and_searchable(library, demo_clip, tmp_path):
    from kadr.io.video import VideoReader

    idx, _ = library
    path, truth = demo_clip
    rep = idx.add(path)
    assert rep.added == [str(path.resolve())] and rep.rows_written >= 4
    rows = idx.store.rows(idx.encoder_name, where="kind = 'keyframe'",
                          columns=["video", "frame_index", "time", "shot_index", "width", "height"]).to_pylist()
    assert {r["video"] for r in rows} == {str(path.resolve())} and (rows[0]["width"], rows[0]["height"]) == (320, 180)
    assert len({r["shot_index"] for r in rows}) >= 4
    with VideoReader(path) as r:
        frame = r.read(frame=30).image  # inside the first shot (frames 0-39, the astronaut)
    hits = idx.search(frame, k=1, where="kind = 'keyframe'")
    assert hits[0].shot_index == 0 and hits[0].frame_index < truth.hard[0]
    by_ref = idx.search(frame=f"{path}@#30", k=1, where="kind = 'keyframe'")
    assert by_ref[0].id == hits[0].id
    # the astronaut photo itself finds the astronaut shot among keyframes
    assert idx.search(library[1]["astronaut"], k=1, where="kind = 'keyframe'")[0].shot_index == 0
