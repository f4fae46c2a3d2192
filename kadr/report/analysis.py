"""report.html of ``kadr analyse``: what the video is, where its shots change, what each shot shows.

Sections: the probe facts; a timeline of the shots with the transitions drawn over it;
the detector's per-frame boundary score with the transitions marked; one card per shot
with its keyframes (inline thumbnails) and their classification labels.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Mapping, Sequence

import numpy as np

from kadr.report.html import data_uri, esc, legend, page, score_plot_svg, timeline_svg

_PROBE_KEYS = ("container", "codec", "width", "height", "rotation", "avg_fps", "vfr", "frame_count", "duration",
               "has_audio")


def _fmt_time(t: float) -> str:
    m, s = divmod(max(0.0, float(t)), 60)
    return f"{int(m):02d}:{s:05.2f}"


def _labels_html(labels: Sequence[Mapping[str, Any]] | None, note: str | None = None) -> str:
    if labels is None:
        return ""
    if not labels:
        return f'<div class="lab muted">{esc(note or "nothing to label")}</div>'
    return '<div class="lab">' + "<br>".join(
        f'<b>{esc(p["label"])}</b> {100 * float(p["score"]):.0f}%' for p in labels) + "</div>"


def render_analysis(result: Mapping[str, Any], *, thumbnails: Mapping[int, np.ndarray] | None = None,
                    scores: Sequence[float] | None = None) -> str:
    """HTML text of the report.

    ``result`` is the analyse result (the shots JSON plus ``probe``, ``timings`` and per
    keyframe ``labels``: [{"label", "score"}]); ``thumbnails`` maps a keyframe's frame
    index to its RGB image; ``scores`` is the per-frame boundary score."""
    thumbnails = thumbnails or {}
    video = str(result.get("video", ""))
    shots = list(result.get("shots", []))
    trans = list(result.get("transitions", []))
    fps = float(result.get("fps") or 0.0)
    frames = int(result.get("frames") or 0)
    probe = result.get("probe") or {}
    duration = float(probe.get("duration") or (frames / fps if fps else 0.0))
    kinds = Counter(t["type"] for t in trans)
    # shots.json written before the glossary rename say keyframe_encoder / classifier
    kf_enc = result.get("encoder") or result.get("keyframe_encoder")
    label_enc = result.get("label_encoder") or result.get("classifier")
    parts = [f"<h1>{esc(video.rsplit('/', 1)[-1])}</h1>",
             f'<div class="muted">{esc(video)} · kadr analyse · detector {esc(result.get("detector", "?"))}'
             + (f' · keyframes by {esc(kf_enc)}' if kf_enc else "")
             + (f' · labels by {esc(label_enc)}' if label_enc else "") + "</div>"]
    rows = "".join(f"<tr><td>{esc(k)}</td><td>{esc(probe[k])}</td></tr>" for k in _PROBE_KEYS if k in probe)
    summary = (f"<tr><td>shots</td><td>{len(shots)}</td></tr><tr><td>transitions</td><td>"
               + (", ".join(f"{n} {esc(k)}" for k, n in sorted(kinds.items())) or "none") + "</td></tr>")
    timings = result.get("timings") or {}
    if timings:
        summary += "<tr><td>time</td><td>" + ", ".join(f"{esc(k)} {float(v):.2f}s" for k, v in timings.items()) \
                   + "</td></tr>"
    decode = result.get("decode") or {}
    if decode.get("corrupt_packets") or decode.get("lost"):
        summary += (f"<tr><td>decoding</td><td>{decode.get('corrupt_packets', 0)} corrupt packets skipped, "
                    f"{decode.get('lost', 0)} frames lost</td></tr>")
    parts.append(f'<table class="kv">{rows}{summary}</table>')
    types = sorted(kinds) or ["cut"]
    parts.append("<h2>Timeline</h2>" + legend(types) + timeline_svg(shots, trans, frames, duration))
    if scores is not None and len(scores):
        parts.append("<h2>Boundary score per frame</h2>"
                     '<div class="muted">the detector\'s score of each frame (0..1); coloured: the transitions it '
                     "reported</div>" + score_plot_svg(scores, trans, fps=fps))
    parts.append("<h2>Shots</h2>")
    cards = []
    for s in shots:
        kfs = []
        for k in s.get("keyframes", []):
            img = thumbnails.get(int(k["frame"]))
            pic = f'<img src="{data_uri(img)}" alt="frame {k["frame"]}">' if img is not None else ""
            kfs.append(f'<div class="kf">{pic}<div class="cap">frame {k["frame"]} · {_fmt_time(k["time"])}</div>'
                       f'{_labels_html(k.get("labels"), k.get("label_note"))}</div>')
        n = s["end_frame"] - s["start_frame"]
        cards.append(f'<div class="shot" id="shot{s["index"]}"><h3>Shot {s["index"]} · {_fmt_time(s["start_time"])}'
                     f'–{_fmt_time(s["end_time"])} · {n} frames</h3><div class="kfs">{"".join(kfs)}</div></div>')
    parts.append('<div class="shots">' + "".join(cards) + "</div>" if cards else "<p>no frames, no shots</p>")
    return page(f"kadr analyse: {video}", "\n".join(parts))
