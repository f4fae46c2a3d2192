"""The allow-list of `kadr serve`: only listed files, no traversal, no symlink escape."""

from __future__ import annotations

import os

import pytest

from kadr.web.catalog import NotListedError, file_key, load_analysis, safe_file


def test_safe_file_refuses_a_swapped_in_symlink(tmp_path):
    a = tmp_path / "a.jpg"
    a.write_bytes(b"x")
    secret = tmp_path / "secret.txt"
    secret.write_text("do not serve")
    listed = {str(a.resolve())}
    assert safe_file(a.resolve(), listed) == a.resolve()
    a.unlink()
    os.symlink(secret, a)  # the listed path now points elsewhere
    with pytest.raises(NotListedError):
        safe_file(a, listed)
    listed.add(str(secret.resolve()))  # unless the target is itself listed
    assert safe_file(a, listed) == secret.resolve()


def test_safe_file_missing(tmp_path):
    with pytest.raises(NotListedError):
        safe_file(tmp_path / "gone.jpg", {str(tmp_path / "gone.jpg")})


def test_keyframe_files_stay_inside_the_analysis(tmp_path):
    import json

    d = tmp_path / "an"
    (d / "keyframes").mkdir(parents=True)
    (d / "keyframes" / "k.jpg").write_bytes(b"j")
    (tmp_path / "outside.jpg").write_bytes(b"o")
    (tmp_path / "clip.mp4").write_bytes(b"v")
    shots = {"video": "clip.mp4", "shots": [{"index": 0, "keyframes": [
        {"frame": 1, "path": "keyframes/k.jpg"}, {"frame": 2, "path": "../outside.jpg"},
        {"frame": 3, "path": "/etc/passwd"}]}]}
    (d / "shots.json").write_text(json.dumps(shots))
    a = load_analysis(d / "shots.json", [tmp_path])
    assert a.video == (tmp_path / "clip.mp4").resolve()  # found next to the analysis folder
    assert a.keyframe_file(1) == (d / "keyframes" / "k.jpg").resolve()
    assert a.keyframe_file(2) is None and a.keyframe_file(3) is None


def test_file_key_is_stable_and_opaque():
    k = file_key("/a/b.mp4")
    assert k == file_key("/a/b.mp4") and len(k) == 16 and "/" not in k and k != file_key("/a/c.mp4")
