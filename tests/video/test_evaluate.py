"""kadr.video.evaluate and `kadr eval-shots`: matching rules checked on cases worked out
by hand (the expected counts are derived in the comments, from the TRECVID rule: one-to-one,
a prediction matches a truth interval it overlaps once the truth is widened by the tolerance)."""

from __future__ import annotations

import json

import pytest

from kadr.cli.main import main
from kadr.errors import InputError
from kadr.video.evaluate import Boundary, boundaries_from, evaluate, evaluate_files

B = Boundary


def test_hand_worked_example_tolerance_0_and_1():
    pred = [B(10, 10, "cut"), B(21, 21, "cut"), B(30, 40, "dissolve")]
    truth = [B(10, 10), B(20, 20), B(32, 38)]
    s0 = evaluate(pred, truth, tolerance=0)
    # 10↔10 exact; 21 is one frame off cut 20; [30, 40] overlaps [32, 38]: 2 of 3 both ways
    assert (s0.all.tp_pred, s0.all.n_pred, s0.all.tp_gt, s0.all.n_gt) == (2, 3, 2, 3)
    assert s0.all.precision == pytest.approx(2 / 3) and s0.all.f1 == pytest.approx(2 / 3)
    # cuts: predicted cuts 10 (hit), 21 (miss) → P = 1/2; true cuts 10 (hit), 20 (miss) → R = 1/2
    assert (s0.cuts.precision, s0.cuts.recall) == (0.5, 0.5)
    assert (s0.gradual.precision, s0.gradual.recall) == (1.0, 1.0)
    assert [(b.start, b.end) for b in s0.false_positives] == [(21, 21)]
    assert [(b.start, b.end) for b in s0.missed] == [(20, 20)]
    s1 = evaluate(pred, truth, tolerance=1)
    assert s1.all.f1 == 1.0


def test_one_to_one_and_maximum_matching():
    # two predictions inside one dissolve: one matches, the other is a false positive
    s = evaluate([B(12, 12, "cut"), B(15, 15, "cut")], [B(10, 20)])
    assert (s.all.tp_pred, s.all.n_pred, s.all.recall) == (1, 2, 1.0)
    # pred 11 could take truth 10 or 12, pred 12 only truth 12 (tolerance 1): the optimal
    # assignment matches both (a greedy one taking 11↔12 first would match one)
    s = evaluate([B(11, 11), B(12, 12)], [B(12, 12), B(10, 10)], tolerance=1)
    assert s.all.tp_pred == 2


def test_empty_cases_and_pooling():
    s = evaluate([], [])
    # nothing to find and nothing found: P and R are undefined (0/0), F1 is perfect
    assert (s.all.precision, s.all.recall, s.all.f1) == (None, None, 1.0)
    s = evaluate([B(5, 5)], [])
    assert s.all.precision == 0.0 and s.all.recall is None and s.all.f1 == 0.0
    s = evaluate([], [B(5, 5)])
    assert s.all.precision is None and s.all.recall == 0.0 and s.all.f1 == 0.0
    assert s.to_dict()["all"]["precision"] is None
    pooled = evaluate([B(5, 5)], [B(5, 5)]) + evaluate([B(7, 7)], [B(9, 9)])
    assert (pooled.all.tp_pred, pooled.all.n_pred) == (1, 2)
    with pytest.raises(InputError, match="tolerance"):
        evaluate([], [], tolerance=-1)


def test_boundaries_from_every_shape():
    entry = {"hard": [30], "gradual": [[40, 50]]}
    assert boundaries_from(entry)[0] == [B(30, 30, "cut"), B(40, 50, "gradual")]
    shots = {"video": "/x/clip.mp4", "transitions": [{"type": "fade_in", "start_frame": 3, "end_frame": 9}]}
    assert boundaries_from(shots) == ([B(3, 9, "fade_in")], "/x/clip.mp4")
    many = {"_conventions": "...", "a.mp4": entry, "clip.mp4": {"hard": [1]}}
    assert boundaries_from(many, video="/elsewhere/clip.mp4") == ([B(1, 1, "cut")], "clip.mp4")
    with pytest.raises(InputError, match="choose one with --video"):
        boundaries_from(many)
    with pytest.raises(InputError, match="start <= end"):
        boundaries_from({"gradual": [[9, 3]]})
    with pytest.raises(InputError, match="no transitions found"):
        boundaries_from({"x": 1})


def test_eval_shots_cli(tmp_path, capsys):
    pred = {"video": "clip.mp4", "fps": 25.0, "frames": 100, "detector": "classic",
            "transitions": [{"type": "cut", "start_frame": 10, "end_frame": 10, "start_time": 0.4, "end_time": 0.4, "score": 1.0},
                            {"type": "dissolve", "start_frame": 50, "end_frame": 60, "start_time": 2.0, "end_time": 2.4, "score": 0.9}],
            "shots": []}
    (tmp_path / "pred.json").write_text(json.dumps(pred))
    (tmp_path / "gt.json").write_text(json.dumps({"clip.mp4": {"hard": [11], "gradual": [[52, 58]]}, "other.mp4": {"hard": []}}))
    assert main(["eval-shots", str(tmp_path / "pred.json"), str(tmp_path / "gt.json"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["video"] == "clip.mp4" and out["all"]["f1"] == 0.5 and out["cuts"]["recall"] == 0.0
    assert main(["eval-shots", str(tmp_path / "pred.json"), str(tmp_path / "gt.json"), "--tolerance", "1"]) == 0
    text = capsys.readouterr().out
    assert "all" in text and "1.000" in text
    (tmp_path / "bad.json").write_text("{not json")
    assert main(["eval-shots", str(tmp_path / "bad.json"), str(tmp_path / "gt.json")]) == 2
    assert "not valid JSON" in capsys.readouterr().err


def test_eval_files_on_shared_truth(tmp_path):
    from tests.conftest import shared_video_dir

    root = shared_video_dir()
    # the truth scored against itself (as a shots JSON of cuts and gradual spans) is perfect
    gt = json.loads((root / "ground_truth.json").read_text())["testvideo.mp4"]
    trans = [{"type": "cut", "start_frame": c, "end_frame": c} for c in gt["hard"]]
    trans += [{"type": "dissolve", "start_frame": s, "end_frame": e} for s, e in gt["gradual"]]
    (tmp_path / "p.json").write_text(json.dumps({"video": "testvideo.mp4", "transitions": trans}))
    scores, video = evaluate_files(tmp_path / "p.json", root / "ground_truth.json")
    assert video == "testvideo.mp4" and scores.all.f1 == 1.0 and scores.all.n_gt == 7


def test_gradual_iou_and_type_accuracy():
    """Worked by hand: truth dissolve [10, 21] (12 frames) vs prediction [12, 23]: overlap
    12..21 = 10 frames, union 10..23 = 14 → IoU 10/14; a cut at 40 inside truth [38, 45]
    (8 frames) → 1/8. Mean (10/14 + 1/8) / 2. Types: dissolve↔dissolve right, cut↔fade_out
    wrong, cut↔cut right → 2/3."""
    from kadr.video.evaluate import interval_iou

    assert interval_iou(B(10, 21), B(12, 23)) == pytest.approx(10 / 14)
    assert interval_iou(B(1, 2), B(5, 6)) == 0.0
    pred = [B(12, 23, "dissolve"), B(40, 40, "cut"), B(60, 60, "cut")]
    truth = [B(10, 21, "dissolve"), B(38, 45, "fade_out"), B(60, 60, "cut")]
    s = evaluate(pred, truth)
    assert s.gradual_iou == pytest.approx((10 / 14 + 1 / 8) / 2)
    assert s.type_accuracy == pytest.approx(2 / 3) and s.typed_pairs == 3
    d = s.to_dict()
    assert d["gradual_matched"] == 2 and d["typed_matched"] == 3
    # a plain ground-truth entry only tells cut from gradual
    s = evaluate([B(12, 23, "fade_in")], [B(10, 21, "gradual")])
    assert s.type_accuracy == 1.0
    assert evaluate([], []).gradual_iou is None


def test_typed_truth_from_generator():
    from kadr.io.synthetic import ClipTruth

    t = ClipTruth(100, 25.0, (32, 18), hard=[10], gradual=[[40, 52]], types=[("cut", 10, 10), ("fade_in", 40, 52)])
    assert boundaries_from(t.to_dict())[0] == [B(10, 10, "cut"), B(40, 52, "fade_in")]
    bad = {**t.to_dict(), "hard": [11]}
    with pytest.raises(InputError, match="disagree"):
        boundaries_from(bad)


def test_eval_shots_prints_na_with_no_predictions(tmp_path, capsys):
    (tmp_path / "pred.json").write_text(json.dumps({"video": "clip.mp4", "transitions": []}))
    (tmp_path / "gt.json").write_text(json.dumps({"hard": [5]}))
    assert main(["eval-shots", str(tmp_path / "pred.json"), str(tmp_path / "gt.json")]) == 0
    line = [ln for ln in capsys.readouterr().out.splitlines() if ln.strip().startswith("all")][0]
    assert line.split()[1] == "n/a" and "1.000" not in line
