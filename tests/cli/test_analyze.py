"""`kadr analyze` end to end, as a user runs it; bad inputs give one-line errors."""

from __future__ import annotations

import json
import numpy as np
import pytest

from kadr.cli.main import main
from tests.conftest import needs_ffmpeg, run_cli


run = run_cli


@pytest.fixture(scope="module")
def analyzed(demo_clip, tmp_path_factory):
    """analyze on the demo clip with labels (the real effnet-lite0 classifier)."""
    path, truth = demo_clip
    out = tmp_path_factory.mktemp("an") / "out"
    code = main(["analyse", str(path), "-o", str(out), "--json"])
    return code, out, truth


def test_analyze_writes_report_and_shots_json(analyzed, capsys):
    code, out, truth = analyzed
    capsys.readouterr()
    assert code == 0
    shots = json.loads((out / "shots.json").read_text())
    # the JSON format
    assert {"video", "fps", "frames", "detector", "transitions", "shots"} <= shots.keys()
    assert shots["frames"] == truth.frames and shots["fps"] == pytest.approx(25.0)
    assert shots["shots"][0]["start_frame"] == 0 and shots["shots"][-1]["end_frame"] == truth.frames
    for a, b in zip(shots["shots"], shots["shots"][1:]):
        assert a["end_frame"] == b["start_frame"]
    assert truth.hard[0] in [t["start_frame"] for t in shots["transitions"] if t["type"] == "cut"]
    fade_out = [t for t in truth.types if t[0] == "fade_out"][0]
    fade_in = [t for t in truth.types if t[0] == "fade_in"][0]
    for s in shots["shots"]:
        assert s["keyframes"], s
        for k in s["keyframes"]:
            assert s["start_frame"] <= k["frame"] < s["end_frame"]
            assert (out / k["path"]).is_file()
            black = fade_out[2] <= k["frame"] < fade_in[1]  # the hold between the fades
            if black:  # content-free: not classified, and the report says what it is
                assert k["labels"] == [] and k["content"] == "solid" and k["label_note"] == "solid frame"
            else:  # at most --topk labels, none below the LabelOptions cut-off (0.10)
                assert k["content"] is None and len(k["labels"]) <= 3
                assert all(0.10 <= p["score"] <= 1 for p in k["labels"])
    html = (out / "report.html").read_text()
    assert html.count('<div class="shot"') == len(shots["shots"]) and "<polyline" in html
    assert "solid frame" in html
    # the coffee photo of the demo's second shot is labelled as a cup of coffee (ImageNet)
    coffee = [s for s in shots["shots"] if s["start_frame"] <= truth.hard[0] + 5 < s["end_frame"]][0]
    labels = {p["label"] for k in coffee["keyframes"] for p in k["labels"]}
    assert labels & {"espresso", "cup", "coffee mug", "consomme", "eggnog"}, labels


def test_analyze_one_frame_video(tmp_path, capsys):
    from kadr.io.synthetic import sample_photo, write_video

    p = write_video([np.ascontiguousarray(sample_photo("coffee")[:200, :320])], tmp_path / "one.mp4")
    code, out, err = run(capsys, "analyse", p, "-o", tmp_path / "o", "--label-encoder", "none", "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["shots"] == 1 and res["frames"] == 1 and res["keyframes"] == 1


@pytest.mark.parametrize("make,needle", [
    (lambda d: d / "missing.mp4", "not found"),
    (lambda d: (d / "t.txt").write_text("not a video") and d / "t.txt", "t.txt"),
])
def test_analyze_bad_input(tmp_path, capsys, make, needle):
    code, out, err = run(capsys, "analyse", make(tmp_path), "-o", tmp_path / "o", "--label-encoder", "none")
    assert code == 2 and err.startswith("kadr: error:") and needle in err and err.count("\n") == 1


def test_analyze_audio_only(tmp_path, capsys):
    import subprocess

    p = tmp_path / "a.m4a"
    subprocess.run([needs_ffmpeg(), "-loglevel", "error", "-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono",
                    "-t", "0.2", str(p)], check=True)
    code, _, err = run(capsys, "analyse", p, "-o", tmp_path / "o", "--label-encoder", "none")
    assert code == 2 and "no video stream" in err, err


def test_analyze_unwritable_out(demo_clip, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = run(capsys, "analyse", demo_clip[0], "-o", blocker / "out", "--label-encoder", "none")
    assert code == 2 and "cannot create output folder" in err


def test_analyze_carries_on_over_corrupt_packets(demo_clip, tmp_path, capsys):
    data = bytearray(demo_clip[0].read_bytes())
    mid = len(data) // 2
    data[mid:mid + 3000] = bytes(3000)  # zeroed bytes mid-stream
    p = tmp_path / "broken.mp4"
    p.write_bytes(data)
    code, out, err = run(capsys, "analyse", p, "-o", tmp_path / "o", "--label-encoder", "none")
    assert code == 0, err
    saved = json.loads((tmp_path / "o" / "shots.json").read_text())
    assert saved["decode"]["corrupt_packets"] > 0 and saved["frames"] < demo_clip[1].frames
    assert saved["shots"][-1]["end_frame"] == saved["frames"]
    assert "corrupt packets skipped" in out and "corrupt packets skipped" in (tmp_path / "o" / "report.html").read_text()
