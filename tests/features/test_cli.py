"""kadr embed / classify / export-onnx as a user runs them (in-process main())."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import run_cli


_run = run_cli


@pytest.fixture(scope="module")
def folder(tmp_path_factory, photos):
    from PIL import Image

    d = tmp_path_factory.mktemp("cli")
    Image.fromarray(photos["chelsea"]).save(d / "cat.jpg", quality=95)
    Image.fromarray(photos["coffee"]).save(d / "coffee.png")
    (d / "broken.png").write_bytes(b"\x89PNG\r\n broken")
    return d


def test_classify_json_finds_the_cat(capsys, folder):
    rc, out, err = _run(capsys, "classify", str(folder / "cat.jpg"), "--k", "5", "--json")
    assert rc == 0, err
    res = json.loads(out)
    (row,) = res["results"]
    assert res["model"] == "effnet-lite0" and len(row["predictions"]) == 5
    assert {p["index"] for p in row["predictions"]} & {281, 282, 283, 284, 285}  # ImageNet cat classes


def test_classify_folder_skips_and_reports_broken(capsys, folder):
    rc, out, err = _run(capsys, "classify", str(folder), "--k", "2")
    assert rc == 0, err
    assert "cat.jpg" in out and "coffee.png" in out and "skipped" in out and "broken.png" in out


def test_classify_zero_shot_with_a_clip_folder(capsys, folder, clip_dir):
    rc, out, err = _run(capsys, "classify", str(folder / "cat.jpg"), "--encoder", f"clip:{clip_dir}",
                        "--labels", "cat, dog,car", "--k", "3", "--prompt", "a {}", "--json")
    assert rc == 0, err
    preds = json.loads(out)["results"][0]["predictions"]
    assert sorted(p["name"] for p in preds) == ["car", "cat", "dog"]
    assert sum(p["score"] for p in preds) == pytest.approx(1.0, abs=1e-4)  # CLIP: softmax over the labels
    for argv, message in ((["--labels", " , "], "--labels is empty"), ([], "text labels"),
                          (["--labels", "cat", "--prompt", "no slot"], "prompt must contain")):
        rc, _, err = _run(capsys, "classify", str(folder / "cat.jpg"), "--encoder", f"clip:{clip_dir}", *argv)
        assert rc == 2 and message in err, err


@pytest.mark.parametrize("argv,message", [
    (["--labels", "cat,,dog"], "empty label"),  # effnet-lite0 takes labels (the semantic bridge): a bad list
    (["--prompt", "a {}"], "--prompt needs --labels"),
    (["--labels", "cat, dog", "--prompt", "no slot"], "must contain"),
    (["--encoder", "hog"], "cannot classify"),
    (["--encoder", "nonsense"], "valid encoders"),
    (["--encoder", "clip"], "needs a model folder"),
    (["--k", "0"], "number of top results"),
    (["--encoder", "hog", "--backend", "torch"], "neural encoders only"),
])
def test_classify_bad_input(capsys, folder, argv, message):
    rc, out, err = _run(capsys, "classify", str(folder / "cat.jpg"), *argv)
    assert rc == 2 and message in err and out == ""


def test_embed_folder_and_video_to_parquet(capsys, folder, tmp_path, counter_clip):
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "e.parquet"
    rc, stdout, err = _run(capsys, "embed", str(folder), str(counter_clip), "--encoder", "hsv-hist", "--fps", "5",
                           "-o", str(out), "--json")
    assert rc == 0, err
    res = json.loads(stdout)
    # 2 images + a 60-frame 25 fps clip sampled at 5 fps = frames 0, 5, ..., 55
    assert res["count"] == 2 + 12 and res["dim"] == 256 and res["sources"] == 3
    assert [s["path"] for s in res["skipped"]] == [str(folder / "broken.png")]
    t = pq.read_table(out)
    assert t.num_rows == 14 and t.column("frame").to_pylist()[2:] == list(range(0, 60, 5))
    emb = np.asarray(t.column("embedding").to_pylist(), np.float32)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-5)


def test_embed_keyframes_of_shots(capsys, tmp_path, demo_clip):
    path, truth = demo_clip
    out = tmp_path / "k.npy"
    rc, stdout, err = _run(capsys, "embed", str(path), "--keyframes", "--encoder", "hsv-hist", "-o", str(out), "--json")
    assert rc == 0, err
    res = json.loads(stdout)
    meta = json.loads(out.with_suffix(".json").read_text())
    assert res["count"] == len(meta["items"]) == np.load(out).shape[0] >= 1
    assert all(it["frame"] is not None for it in meta["items"])


@pytest.mark.parametrize("argv,message", [
    (["-o", "x.csv"], ".parquet or .npy"),
    (["-o", "x.npy", "--fps", "-2"], "fps"),
    (["-o", "x.npy", "--batch-size", "0"], "batch-size"),
])
def test_embed_bad_input(capsys, folder, argv, message):
    rc, out, err = _run(capsys, "embed", str(folder), *argv)
    assert rc == 2 and message in err


def test_embed_nothing_decodable(capsys, folder, tmp_path):
    rc, out, err = _run(capsys, "embed", str(folder / "broken.png"), "-o", str(tmp_path / "x.npy"), "-e", "phash")
    assert rc == 2 and "nothing could be embedded" in err


def test_export_onnx_checks_against_torch(capsys, tmp_path, dinov2_dir):
    pytest.importorskip("onnxruntime")
    out = tmp_path / "dino.onnx"
    rc, stdout, err = _run(capsys, "export-onnx", f"dinov2:{dinov2_dir}", str(out), "--json")
    assert rc == 0, err
    res = json.loads(stdout)
    assert out.stat().st_size == res["bytes"] > 0 and res["outputs"] == ["embedding"]
    assert res["max_abs_diff"] < 1e-4 and res["input_shape"] == [3, 32, 32] and res["input_dtype"] == "float32"
    for argv, message in ((["phash", str(tmp_path / "p.onnx")], "not a neural encoder"),
                          (["effnet-lite0", str(tmp_path / "p.txt")], "must end in .onnx")):
        rc, _, err = _run(capsys, "export-onnx", *argv)
        assert rc == 2 and message in err
