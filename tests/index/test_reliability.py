"""Failure modes of the index found by a sweep of hostile runs (issue 16): concurrent writers,
damaged folders, a lost kadr_index.json, non-UTF-8 file names, `;` in --where, NaN queries."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kadr.errors import IndexBusyError, IndexDamagedError, InputError
from kadr.index import Index
from kadr.index._lock import WriteLock
from kadr.index.check import check_index
from kadr.index.store import check_where

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "KADR_NO_PROGRESS": "1"}


def _kadr(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "kadr", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=ROOT, env=ENV, **kw)


def _ids(idx: Index) -> list[str]:
    return idx.store.rows(idx.encoder_name, columns=["id"]).column("id").to_pylist()


@pytest.fixture()
def db(tmp_path, photo_dir, thumb_encoder):
    idx = Index(tmp_path / "db", thumb_encoder)
    idx.add(photo_dir, progress=False)
    return idx


def test_two_concurrent_cli_writers_give_each_file_once(tmp_path, photo_dir):
    # before the write lock, both runs saw an empty table and each wrote every file (28 rows
    # for 14 images); now the second waits for the first and finds everything unchanged
    d = tmp_path / "db"
    procs = [_kadr("index", "add", str(photo_dir), "--db", str(d), "--encoder", "hsv-hist", "--json") for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    idx = Index(d)
    ids = _ids(idx)
    assert len(ids) == len(set(ids)) == 8
    assert check_index(d)["ok"]


def test_second_writer_fails_with_one_line_when_told_not_to_wait(db, photo_dir, tmp_path, thumb_encoder):
    with WriteLock(db.path):  # another writer holds the folder
        with pytest.raises(IndexBusyError, match=f"being written by pid {os.getpid()}"):
            Index(db.path, thumb_encoder).add(photo_dir, wait=0, progress=False)
    d2 = tmp_path / "db2"
    d2.mkdir()
    with WriteLock(d2):
        p = _kadr("index", "add", str(photo_dir), "--db", str(d2), "--encoder", "hsv-hist", "--wait", "0.2")
        out, err = p.communicate(timeout=120)
    assert p.returncode == 2 and err.strip().count("\n") == 0 and "kadr: error:" in err and "--wait" in err
    Index(db.path, thumb_encoder).add(photo_dir, wait=0, progress=False)  # released: works


def test_check_repair_removes_duplicate_rows_of_an_old_table(db):
    t = db.store.table(db.encoder_name)
    t.add(t.search().limit(3).to_arrow())  # what two unlocked writers left behind
    n = len(set(_ids(db)))
    rep = check_index(db.path)
    assert not rep["ok"] and [p["kind"] for p in rep["problems"]] == ["duplicates"]
    assert "3 duplicate rows of 3 files" in rep["problems"][0]["detail"]
    fixed = check_index(db.path, repair=True)
    assert fixed["ok"] and fixed["problems"][0]["repaired"]
    again = Index(db.path, db._encoder)
    assert sorted(_ids(again)) == sorted(set(_ids(again))) and len(_ids(again)) == n
    hits = again.search(vector=np.ones(again.encoder.dim), k=20)
    assert len({h.source for h in hits}) == len(hits)
    assert check_index(db.path)["problems"] == []


def _damage(path: Path, how: str) -> None:
    table = next(path.glob("*.lance"))
    if how == "data-deleted":
        for f in (table / "data").iterdir():
            f.unlink()
    elif how == "data-truncated":
        for f in (table / "data").iterdir():
            f.write_bytes(f.read_bytes()[:100])
    elif how == "manifests-garbage":
        for f in (table / "_versions").glob("*.manifest"):
            f.write_bytes(b"garbage\n")
    elif how == "versions-missing":
        shutil.rmtree(table / "_versions")


@pytest.mark.parametrize("how", ["data-deleted", "data-truncated", "manifests-garbage", "versions-missing"])
def test_damaged_folder_gives_one_line_naming_it_and_check_repairs(db, photo_dir, thumb_encoder, how):
    _damage(db.path, how)
    for call in (lambda i: i.stats(), lambda i: i.search(vector=np.ones(i.encoder.dim)),
                 lambda i: i.add(photo_dir, progress=False)):
        with pytest.raises(IndexDamagedError, match="kadr index check") as e:
            call(Index(db.path, thumb_encoder))
        assert str(db.path) in str(e.value) and "\n" not in str(e.value)
    p = _kadr("index", "stats", "--db", str(db.path))
    out, err = p.communicate(timeout=120)
    assert p.returncode == 2 and err.startswith("kadr: error: the index at") and "internal" not in err
    assert not check_index(db.path)["ok"]
    rep = check_index(db.path, repair=True)
    assert rep["ok"] and rep["problems"][0]["kind"] == "table-unreadable"
    idx = Index(db.path, thumb_encoder)
    idx.add(photo_dir, progress=False)  # the rerun the repair message asks for
    assert len(_ids(idx)) == len(set(_ids(idx))) == 8 and check_index(db.path)["ok"]


@pytest.mark.parametrize("content", [None, b"{garbage", b"[1, 2]"])
def test_lost_or_garbage_meta_file_is_an_error_not_an_empty_index(db, thumb_encoder, content):
    meta = db.path / "kadr_index.json"
    meta.unlink() if content is None else meta.write_bytes(content)
    with pytest.raises(IndexDamagedError, match="kadr_index.json is (missing|unreadable).*check --repair"):
        Index(db.path).stats()
    rep = check_index(db.path, repair=True)
    assert rep["ok"] and rep["problems"][0]["kind"] in ("meta-missing", "meta-unreadable")
    st = Index(db.path).stats()  # the encoder name comes back from the rows
    assert st["tables"][0]["encoder"] == thumb_encoder.name and st["tables"][0]["rows"] == 8


def test_non_utf8_file_names_are_indexed_found_and_removed(tmp_path, photo_dir, thumb_encoder):
    if sys.platform == "darwin":
        pytest.skip("macOS file systems refuse names that are not UTF-8")
    d = tmp_path / "pics"
    d.mkdir()
    src = next(photo_dir.glob("*.png")).read_bytes()
    raw = os.fsencode(d) + b"/caf\xe9-latin1.png"  # a Latin-1 camera's name
    with open(raw, "wb") as f:
        f.write(src)
    (d / "ok.png").write_bytes(src)
    idx = Index(tmp_path / "db", thumb_encoder)
    rep = idx.add(d, progress=False)
    assert rep.failed == [] and len(rep.added) == 2
    assert "caf\\xe9-latin1.png" in " ".join(rep.added)  # shown with the undecodable byte escaped
    assert idx.add(d, progress=False).unchanged == 2  # the rerun recognises it
    from kadr.index.schema import source_path

    hits = idx.search(image=str(d / "ok.png"), k=2)
    assert {os.fsencode(source_path(h.source)) for h in hits} == {raw, os.fsencode(d / "ok.png")}
    assert idx.remove(os.fsdecode(raw))["files_removed"] == 1
    p = _kadr("index", "add", str(d), "--db", str(tmp_path / "db2"), "--encoder", "hsv-hist", "--json")
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0 and '"failed": []' in out, err


def test_where_with_a_semicolon_is_refused(db):
    with pytest.raises(InputError, match="contains ';'"):
        db.search(vector=np.ones(db.encoder.dim), where="kind = 'image'; DROP TABLE x")
    with pytest.raises(InputError, match="contains ';'"):
        db.store.count(db.encoder_name, "kind = 'image';")
    assert check_where("source LIKE '%;%'") == "source LIKE '%;%'"  # inside a literal it is text
    assert db.search(vector=np.ones(db.encoder.dim), where="source NOT LIKE '%;%'")


@pytest.mark.parametrize("bad", [np.nan, np.inf, 0.0])
def test_search_with_a_nan_or_zero_vector_is_an_error(db, bad):
    v = np.ones(db.encoder.dim)
    v[:] = bad if bad == 0 else 1.0
    if bad != 0:
        v[3] = bad
    with pytest.raises(InputError, match="NaN|zero"):
        db.search(vector=v)
