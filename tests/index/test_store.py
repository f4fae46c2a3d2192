"""The LanceDB store and kadr.Index with a tiny classical encoder (no model needed)."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
from PIL import Image

from kadr.errors import InputError, SourceNotFoundError
from kadr.index import Index, StoreOptions
from kadr.index.schema import hamming64, phash64
from kadr.io.synthetic import sample_photo


@pytest.fixture()
def db(tmp_path, photo_dir, thumb_encoder):
    folder = tmp_path / "photos"
    shutil.copytree(photo_dir, folder)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 this is not a jpeg")
    idx = Index(tmp_path / "db", thumb_encoder)
    with pytest.warns(UserWarning, match="broken.jpg"):
        rep = idx.add(folder)
    return idx, folder, rep


def test_add_is_idempotent_and_lists_corrupt_files(db):
    idx, folder, rep = db
    assert len(rep.added) == 8 and rep.rows_written == 8
    assert [f["path"] for f in rep.failed] == [str((folder / "broken.jpg").resolve())]
    with pytest.warns(UserWarning):
        again = idx.add(folder)
    assert again.unchanged == 8 and again.rows_written == 0 and not again.added
    rows = idx.store.rows(idx.encoder_name, columns=["id", "source", "kind", "width", "height", "phash"])
    assert rows.num_rows == 8 and len(set(rows.column("id").to_pylist())) == 8
    astro = [r for r in rows.to_pylist() if r["source"].endswith("astronaut.jpg")][0]
    assert (astro["width"], astro["height"], astro["kind"]) == (512, 512, "image")


def test_changed_file_is_replaced_touched_file_is_not(db):
    idx, folder, _ = db
    target = folder / "sub" / "coffee.png"
    before = idx.search(str(target), k=1)[0]
    Image.fromarray(sample_photo("brick")).save(target)  # new content
    touched = folder / "sub" / "rocket.jpg"
    os.utime(touched, ns=(1, 1))  # new mtime, same bytes → content hash says unchanged
    with pytest.warns(UserWarning):
        rep = idx.add(folder)
    assert rep.replaced == [str(target.resolve())] and rep.unchanged == 7
    assert idx.store.count(idx.encoder_name) == 8
    hit = idx.search(sample_photo("brick"), k=1)[0]
    assert hit.source == str(target.resolve()) and hit.id == before.id and hit.score > 0.99


def test_cropped_rescaled_reencoded_query_finds_original(db, tmp_path):
    idx, folder, _ = db
    for name in ("astronaut", "coffee", "chelsea", "rocket"):
        img = sample_photo(name)
        h, w = img.shape[:2]
        q = Image.fromarray(img[h // 10: -h // 10, w // 12: -w // 12]).resize((w // 2, h // 2))
        qp = tmp_path / f"q_{name}.jpg"
        q.save(qp, quality=60)
        hits = idx.search(str(qp), k=3)
        assert os.path.basename(hits[0].source).startswith(name), hits
        assert hits[0].score > hits[1].score and hits[0].metric == "cosine"


def test_where_min_score_and_combine(db):
    idx, folder, _ = db
    q = sample_photo("chelsea")
    only_sub = idx.search(q, k=10, where=f"source LIKE '{(folder / 'sub').resolve()}%'")
    assert only_sub and all("/sub/" in h.source for h in only_sub) and len(only_sub) == 4
    top = idx.search(q, k=10)
    cut = (top[0].score + top[1].score) / 2
    assert [h.source for h in idx.search(q, k=10, min_score=cut)] == [top[0].source]
    # two queries combined by max: both originals rank first and second
    both = idx.search(images=[sample_photo("coins"), sample_photo("camera")], k=2, combine="max")
    assert sorted(os.path.basename(h.source).split(".")[0] for h in both) == ["camera", "coins"]


def test_clear_errors(db, tmp_path, thumb_encoder):
    idx, folder, _ = db
    with pytest.raises(InputError, match="malformed --where"):
        idx.search(sample_photo("coins"), where="kind = ")
    with pytest.raises(InputError, match="empty or only whitespace"):
        idx.search(text="  ")
    with pytest.raises(InputError, match="was built with encoder"):
        Index(idx.path, "some-other-encoder").search(sample_photo("coins"))
    with pytest.raises(InputError, match="is empty"):
        Index(tmp_path / "empty", thumb_encoder).search(sample_photo("coins"))
    with pytest.raises(SourceNotFoundError):
        Index(tmp_path / "nowhere", create=False)
    with pytest.raises(SourceNotFoundError):
        idx.search(str(tmp_path / "missing.jpg"))


def test_remove_and_stats(db):
    idx, folder, _ = db
    st = idx.stats()["tables"][0]
    assert (st["rows"], st["files"], st["kinds"], st["search"]) == (8, 8, {"image": 8}, "exact")
    res = idx.remove([folder / "sub", folder / "not-indexed.png"])
    assert res["files_removed"] == 4 and res["rows_removed"] == 4
    assert res["not_in_index"] == [str(folder / "not-indexed.png")]
    assert idx.stats()["tables"][0]["rows"] == 4


def test_ann_index_recall_against_exact(tmp_path):
    """Above exact_max_rows an IVF-PQ index is built; its top-10 must agree with exact numpy
    search (recall@10 ≥ 0.9 on clustered data), filters included."""
    from kadr.index.store import Store

    rng = np.random.default_rng(0)
    dim, n = 32, 3000
    centres = rng.normal(size=(20, dim))
    x = centres[rng.integers(0, 20, n)] + 0.35 * rng.normal(size=(n, dim))
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    st = Store(tmp_path / "ann", options=StoreOptions(exact_max_rows=1000))
    rows = [{"id": str(i), "source": f"/v/{i}.png", "kind": "image" if i % 4 else "keyframe", "vector": v.tolist(),
             "encoder": "toy", "dim": dim} for i, v in enumerate(x)]
    st.replace_sources("toy", dim, [], rows)
    assert st.maintain("toy") == "created" and st.has_ann("toy")
    q = x[:40] + 0.05 * rng.normal(size=(40, dim)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    exact = np.argsort(-(q @ x.T), axis=1)[:, :10]
    got = [[int(h.id) for h in st.search("toy", v, k=10)] for v in q]
    recall = np.mean([len(set(g) & set(e)) / 10 for g, e in zip(got, exact)])
    assert recall >= 0.9, recall
    key = np.array([i % 4 == 0 for i in range(n)])  # the filter keeps 750 rows → exact on them
    ex_f = [np.flatnonzero(key)[np.argsort(-(v @ x[key].T))[:10]] for v in q]
    got_f = [[int(h.id) for h in st.search("toy", v, k=10, where="kind = 'keyframe'")] for v in q]
    assert all(list(a) == b for a, b in zip(ex_f, got_f))


def test_phash_matches_imagehash_bits():
    import imagehash

    img = sample_photo("camera")
    ref = imagehash.phash(Image.fromarray(img))
    ours = phash64(img)
    assert format(ours & (2**64 - 1), "016x") == str(ref)  # imagehash's hex string of the same 64 bits
    assert int(hamming64(np.int64(ours), np.int64(ours))) == 0
    assert int(hamming64(np.int64(0), np.int64(-1))) == 64


def test_ann_index_lifecycle_created_refreshed_retrained_dropped(tmp_path):
    """The size rules of Store.maintain: none below exact_max_rows, created above it, new rows
    folded in (optimized), retrained after the table doubled, dropped when it shrinks back."""
    from kadr.index.store import Store

    rng = np.random.default_rng(2)
    st = Store(tmp_path / "life", options=StoreOptions(exact_max_rows=600, retrain_growth=2.0))

    def add(a: int, b: int) -> None:
        x = rng.normal(size=(b - a, 16)).astype(np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        st.replace_sources("toy", 16, [], [{"id": str(i), "source": f"/s/{i}", "kind": "image", "vector": v.tolist()}
                                          for i, v in zip(range(a, b), x)])

    add(0, 500)
    assert st.maintain("toy") == "none" and not st.has_ann("toy")
    add(500, 800)
    assert st.maintain("toy") == "created" and st.has_ann("toy")
    add(800, 900)
    assert st.maintain("toy") == "optimized" and st.maintain("toy") == "ok"
    add(900, 1700)  # 1700 >= 2 × 800 trained rows: the centroids are stale
    assert st.maintain("toy") == "retrained"
    st.delete_where("toy", "CAST(id AS INT) >= 300")
    assert st.maintain("toy") == "none" and not st.has_ann("toy")
    assert len(st.search("toy", np.eye(16, dtype=np.float32)[0], k=5)) == 5
