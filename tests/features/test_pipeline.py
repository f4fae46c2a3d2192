"""Folder/video embedding with a loader thread, skipping broken files, output files."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest

from kadr import features
from kadr.errors import InputError, KadrWarning, SourceNotFoundError
from kadr.features.pipeline import MediaItem, embed_paths, iter_media, prefetch, write_embeddings


@pytest.fixture(scope="module")
def media(tmp_path_factory, photos):
    """A folder with 3 images, one broken file, a hidden file and a 2 s, 10 fps video."""
    from PIL import Image

    from kadr.io.synthetic import write_video

    d = tmp_path_factory.mktemp("media")
    (d / "sub").mkdir()
    Image.fromarray(photos["chelsea"]).save(d / "a_cat.png")
    Image.fromarray(photos["coffee"]).save(d / "sub" / "b_coffee.jpg", quality=95)
    Image.fromarray(photos["rocket"][:200, :300]).save(d / "c_rocket.bmp")
    (d / "d_broken.jpg").write_bytes(b"\xff\xd8 definitely not a jpeg")
    (d / ".hidden.png").write_bytes(b"x")
    frames = [np.full((48, 64, 3), 10 * i, np.uint8) for i in range(20)]
    write_video(frames, d / "e_clip.mp4", fps=10, crf=0)
    return d


def test_walk_skips_broken_files_and_continues(media):
    skipped = []
    with pytest.warns(KadrWarning, match="d_broken"):
        items = [it for it, _ in iter_media([media], fps=2, skipped=skipped)]
    assert [s.path for s in skipped] == [str(media / "d_broken.jpg")]
    names = [it.source.rsplit("/", 1)[-1] for it in items]
    assert names[:3] == ["a_cat.png", "c_rocket.bmp", "e_clip.mp4"] and names[-1] == "b_coffee.jpg"
    video = [it for it in items if it.frame is not None]
    # 2 frames per second of a 10 fps, 2 s clip: frames 0, 5, 10, 15 at 0.0, 0.5, 1.0, 1.5 s
    assert [(it.frame, it.time) for it in video] == [(0, 0.0), (5, 0.5), (10, 1.0), (15, 1.5)]


def test_embed_paths_equals_direct_encoding(media):
    from kadr.io import load_image

    enc = features.get("hog")
    items, emb = embed_paths(enc, [media / "a_cat.png", media / "sub"], batch_size=1)
    assert [it.source for it in items] == [str(media / "a_cat.png"), str(media / "sub" / "b_coffee.jpg")]
    direct = enc.encode_images([load_image(media / "a_cat.png"), load_image(media / "sub" / "b_coffee.jpg")])
    np.testing.assert_allclose(emb, direct, atol=1e-6)
    with pytest.raises(SourceNotFoundError):
        embed_paths(enc, [media / "missing"])


def test_prepare_then_encode_equals_encode(photos):
    for name in ("effnet-lite0", "hsv-hist", "hog", "phash"):
        enc = features.get(name)
        imgs = [photos["rocket"], photos["coffee"]]
        np.testing.assert_allclose(enc.encode_images([enc.prepare(i) for i in imgs]), enc.encode_images(imgs),
                                   atol=1e-5, err_msg=name)


def test_prefetch_keeps_order_raises_and_stops():
    assert list(prefetch(range(50), depth=3, fn=lambda x: x * x)) == [x * x for x in range(50)]

    def bad():
        yield 1
        raise InputError("boom")

    with pytest.raises(InputError, match="boom"):
        list(prefetch(bad(), depth=2))
    before = threading.active_count()
    it = prefetch(iter(range(10 ** 9)), depth=2)
    assert next(it) == 0
    it.close()  # the consumer stops early: the producer thread must end
    deadline = time.time() + 5
    while threading.active_count() > before and time.time() < deadline:
        time.sleep(0.01)
    assert threading.active_count() <= before


def test_write_parquet_and_npy(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    items = [MediaItem("a.png"), MediaItem("v.mp4", 12, 0.48)]
    emb = np.eye(2, 3, dtype=np.float32)
    (p,) = write_embeddings(tmp_path / "e.parquet", items, emb, encoder="hog")
    t = pq.read_table(p)
    assert t.column("source").to_pylist() == ["a.png", "v.mp4"]
    assert t.column("frame").to_pylist() == [None, 12] and t.column("time").to_pylist() == [None, 0.48]
    np.testing.assert_array_equal(np.asarray(t.column("embedding").to_pylist(), np.float32), emb)
    assert t.schema.metadata[b"kadr.model"] == b"hog"
    npy, side = write_embeddings(tmp_path / "e.npy", items, emb, encoder="hog")
    np.testing.assert_array_equal(np.load(npy), emb)
    meta = json.loads(side.read_text())
    assert meta["model"] == "hog" and meta["items"][1] == {"source": "v.mp4", "frame": 12, "time": 0.48}
    with pytest.raises(InputError, match="parquet or .npy"):
        write_embeddings(tmp_path / "e.csv", items, emb, encoder="hog")
