"""HTML reports: self-contained, one card per shot, charts that keep what matters."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import numpy as np
import pytest

from kadr.report import render_analysis, render_contact_sheet
from kadr.report.contact_sheet import video_letter
from kadr.report.html import _colour, heatmap_svg, score_plot_svg


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _tags(text):
    p = _Tags()
    p.feed(text)
    return p.tags


def _result():
    shots = [{"index": i, "start_frame": a, "end_frame": b, "start_time": a / 25, "end_time": b / 25,
              "keyframes": [{"frame": a + 2, "time": (a + 2) / 25, "path": None,
                             "labels": [{"label": "espresso <cup>", "score": 0.8}]}]}
             for i, (a, b) in enumerate([(0, 40), (40, 69), (69, 100)])]
    trans = [{"type": "cut", "start_frame": 40, "end_frame": 40, "start_time": 1.6, "end_time": 1.6, "score": 0.9},
             {"type": "dissolve", "start_frame": 63, "end_frame": 75, "start_time": 2.52, "end_time": 3.0, "score": 0.7}]
    return {"video": "/x/clip.mp4", "fps": 25.0, "frames": 100, "detector": "classic", "shots": shots,
            "transitions": trans, "probe": {"codec": "h264", "duration": 4.0}, "timings": {"shots": 0.5}}


def test_analysis_report_is_self_contained_and_complete():
    res = _result()
    thumbs = {k["frame"]: np.full((90, 160, 3), 100, np.uint8) for s in res["shots"] for k in s["keyframes"]}
    scores = np.zeros(100)
    scores[40] = 0.9
    text = render_analysis(res, thumbnails=thumbs, scores=scores)
    tags = _tags(text)
    imgs = [a for t, a in tags if t == "img"]
    assert len(imgs) == 3 and all(a["src"].startswith("data:image/jpeg;base64,") for a in imgs)
    assert not any(t == "script" for t, _ in tags)
    assert not re.search(r'(src|href)="https?:', text)  # nothing fetched from the network
    assert sum(t == "svg" for t, _ in tags) == 2       # timeline + score plot
    assert len(re.findall(r'<div class="shot" id="shot\d+">', text)) == 3
    assert text.count('<a href="#shot') == 3  # timeline bars link to the shot cards
    assert "espresso &lt;cup&gt;" in text and "80%" in text  # labels escaped
    assert "1 cut, 1 dissolve" in text


def test_report_without_frames_or_scores():
    text = render_analysis({"video": "empty.mp4", "fps": 25.0, "frames": 0, "detector": "classic", "shots": [],
                            "transitions": []})
    assert "no frames, no shots" in text


def test_score_plot_keeps_spikes_when_pooling():
    v = np.zeros(20000)
    v[12345] = 1.0
    svg = score_plot_svg(v, [], fps=25.0, width=600)
    pts = re.search(r'points="([^"]+)"', svg).group(1).split()
    assert len(pts) < 2 * 600
    ys = [float(p.split(",")[1]) for p in pts]
    assert min(ys) == pytest.approx(8.0)  # the top of the plot area: the spike survived max-pooling


def test_heatmap_cells_and_colours():
    m = np.array([[1.0, 0.2, 0.95], [0.2, 1.0, 0.1], [0.95, 0.1, 1.0]])
    svg = heatmap_svg(m, ["a", "b", "c"], threshold=0.9)
    assert svg.count("<rect") == 9 + 20                 # cells + colour bar
    assert svg.count('stroke="#ff2020"') == 2            # (a, c) and (c, a)
    # end points of matplotlib's viridis colormap (#440154 at 0, #fde725 at 1)
    assert _colour(0.0) == "#440154" and _colour(1.0) == "#fde725"


def test_contact_sheet():
    res = {"encoder": "tiny", "metric": "cosine", "threshold": 0.9,
           "videos": [{"video": "a.mp4", "shots": [{"index": 0, "start_frame": 0, "end_frame": 10,
                                                    "keyframes": [{"frame": 3}]},
                                                   {"index": 1, "start_frame": 10, "end_frame": 20,
                                                    "keyframes": [{"frame": 15}]}]}],
           "keyframes": [{"video": 0, "shot": 0, "frame": 3}, {"video": 0, "shot": 1, "frame": 15}],
           "matrix": [[1.0, 0.93], [0.93, 1.0]], "shot_ids": [{"video": 0, "shot": 0}, {"video": 0, "shot": 1}],
           "shot_matrix": [[1.0, 0.93], [0.93, 1.0]],
           "pairs": [{"a": {"video": 0, "shot": 0}, "b": {"video": 0, "shot": 1}, "similarity": 0.93,
                      "kind": "within"}], "groups": [[{"video": 0, "shot": 0}, {"video": 0, "shot": 1}]]}
    thumbs = {(0, 3): np.zeros((20, 30, 3), np.uint8), (0, 15): np.ones((20, 30, 3), np.uint8)}
    text = render_contact_sheet(res, thumbnails=thumbs)
    assert "1 pairs, 1 groups" in text and "A0" in text and "A1" in text
    assert sum(t == "img" for t, _ in _tags(text)) == 4  # 2 in the pair table + 2 in the shot grid
    assert [video_letter(i) for i in (0, 25, 26, 27)] == ["A", "Z", "AA", "AB"]
