"""kadr index / search / dedup as a user types them (in-process, hsv-hist: no model load)."""

from __future__ import annotations

import json
import shutil

import pytest
from PIL import Image

from kadr.cli.main import main
from kadr.io.synthetic import sample_photo


def _json(capsys, argv):
    rc = main(argv + ["--json"])
    out = capsys.readouterr()
    return rc, (json.loads(out.out) if out.out.strip() else None), out.err


@pytest.fixture()
def built(tmp_path, photo_dir, capsys):
    folder = tmp_path / "photos"
    shutil.copytree(photo_dir, folder)
    (folder / "broken.png").write_bytes(b"garbage")
    db = tmp_path / "db"
    rc, res, err = _json(capsys, ["index", "add", str(folder), "--db", str(db), "--encoder", "hsv-hist", "--no-semantic"])
    assert rc == 0 and res["added"] == 8 and res["failed"][0]["path"].endswith("broken.png")
    return folder, db


def test_add_stats_search_dedup_remove(built, capsys, tmp_path):
    folder, db = built
    rc, res, _ = _json(capsys, ["index", "add", str(folder), "--db", str(db)])  # model taken from the db
    assert rc == 0 and res["unchanged"] == 8 and res["encoder"] == "hsv-hist"
    rc, res, _ = _json(capsys, ["index", "stats", "--db", str(db)])
    assert res["tables"][0]["rows"] == 8 and res["tables"][0]["encoder"] == "hsv-hist"
    q = tmp_path / "q.jpg"
    Image.fromarray(sample_photo("chelsea")[40:-40, 50:-50]).resize((200, 120)).save(q, quality=70)
    rc, res, _ = _json(capsys, ["search", "--db", str(db), "--image", str(q), "--k", "3"])
    assert rc == 0 and res["hits"][0]["source"].endswith("chelsea.png") and res["metric"] == "cosine"
    assert [h["rank"] for h in res["hits"]] == [1, 2, 3]
    rc, res, _ = _json(capsys, ["search", "--db", str(db), "--image", str(q), "--min-score", "0.999"])
    assert res["hits"] == []
    rc, res, _ = _json(capsys, ["dedup", "--db", str(db)])
    assert rc == 0 and res["rows"] == 8 and "duplicates" in res and "similar" in res
    rc, res, _ = _json(capsys, ["index", "remove", str(folder / "sub"), "--db", str(db)])
    assert res["files_removed"] == 4
    assert main(["index", "stats", "--db", str(db)]) == 0
    assert "4 rows from 4 files" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["search", "--image", "{q}", "--where", "kind ="], "malformed --where"),
    (["search", "--text", "a cat"], "no semantic vectors"),  # indexed with --no-semantic
    (["search", "--text", "   "], "empty"),
    (["search", "--image", "{q}", "--encoder", "effnet-lite0"], "was built with encoder"),
    (["search", "--image", "{missing}"], "not found"),
    (["search", "--image", "{broken}"], "not a readable image"),
    (["search"], "give a query"),
    (["index", "add", "{missing}"], "not found"),
])
def test_one_line_errors(built, capsys, argv, message):
    folder, db = built
    subs = {"q": str(folder / "astronaut.jpg"), "missing": str(folder / "nope.jpg"), "broken": str(folder / "broken.png")}
    argv = [a.format(**subs) for a in argv] + ["--db", str(db)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("kadr: error: ") and message in err[-1]


def test_empty_and_absent_db(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["search", "--db", str(tmp_path / "empty"), "--text", "x"]) == 2
    assert "is empty" in capsys.readouterr().err
    assert main(["index", "stats", "--db", str(tmp_path / "absent")]) == 2
    assert "no index at" in capsys.readouterr().err
