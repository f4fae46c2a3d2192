"""The HTML contact sheet of ``kadr compare-shots``: thumbnails of every shot's keyframes,
the repeat pairs side by side, and the keyframe × keyframe similarity matrix as a heat map."""

from __future__ import annotations

import string
from typing import Any, Mapping

import numpy as np

from kadr.report.html import data_uri, esc, heatmap_svg, page

#: above this many keyframes the heat map shows shots (max over their keyframes) instead
MAX_HEATMAP_KEYFRAMES = 300


def video_letter(i: int) -> str:
    """0 → A, 1 → B, ... 26 → AA (labels of videos in the sheet)."""
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = string.ascii_uppercase[r] + s
    return s


def render_contact_sheet(result: Mapping[str, Any], *, thumbnails: Mapping[tuple[int, int], np.ndarray] | None = None) -> str:
    """HTML text. ``result`` is ``ShotComparison.to_dict()``; ``thumbnails`` maps
    (video index, frame) to the keyframe's RGB image."""
    thumbnails = thumbnails or {}
    videos = result["videos"]

    def thumb(v: int, frame: int, h: int = 90) -> str:
        img = thumbnails.get((v, frame))
        if img is None:
            return ""
        return f'<img src="{data_uri(img, max_side=200)}" style="height:{h}px" title="{video_letter(v)} frame {frame}">'

    def shot_label(v: int, s: int) -> str:
        return f"{video_letter(v)}{s}"

    parts = ["<h1>compare-shots</h1>",
             f'<div class="muted">encoder {esc(result["encoder"])} · {esc(result["metric"])} similarity of keyframe '
             f'embeddings · a shot pair repeats when its best keyframe pair ≥ {result["threshold"]:g}</div>',
             '<table class="kv">' + "".join(
                 f"<tr><td>{video_letter(i)}</td><td>{esc(v['video'])} ({len(v['shots'])} shots)</td></tr>"
                 for i, v in enumerate(videos)) + "</table>"]
    pairs = result.get("pairs", [])
    parts.append(f"<h2>Repeated shots ({len(pairs)} pairs, {len(result.get('groups', []))} groups)</h2>")
    if pairs:
        first_kf = {(vi, s["index"]): [k["frame"] for k in s["keyframes"]]
                    for vi, v in enumerate(videos) for s in v["shots"]}
        rows = []
        for p in pairs:
            a, b = p["a"], p["b"]
            ta = "".join(thumb(a["video"], f, 70) for f in first_kf.get((a["video"], a["shot"]), [])[:2])
            tb = "".join(thumb(b["video"], f, 70) for f in first_kf.get((b["video"], b["shot"]), [])[:2])
            rows.append(f"<tr><td><b>{shot_label(a['video'], a['shot'])}</b></td><td>{ta}</td>"
                        f"<td>{p['similarity']:.3f}<br><span class='muted'>{esc(p['kind'])}</span></td>"
                        f"<td>{tb}</td><td><b>{shot_label(b['video'], b['shot'])}</b></td></tr>")
        parts.append('<table class="pairs">' + "".join(rows) + "</table>")
        parts.append("<p>groups: " + "; ".join(
            ", ".join(shot_label(m["video"], m["shot"]) for m in g) for g in result.get("groups", [])) + "</p>")
    else:
        parts.append("<p class='muted'>no shot pair reaches the threshold</p>")
    for vi, v in enumerate(videos):
        parts.append(f"<h2>{video_letter(vi)}: {esc(v['video'])}</h2>")
        cards = []
        for s in v["shots"]:
            kfs = "".join(thumb(vi, k["frame"]) for k in s["keyframes"])
            cards.append(f'<div class="shot"><h3>{shot_label(vi, s["index"])} · frames {s["start_frame"]}–'
                         f'{s["end_frame"] - 1}</h3><div class="kfs">{kfs}</div></div>')
        parts.append('<div class="shots">' + "".join(cards) + "</div>")
    kf = result.get("keyframes", [])
    if len(kf) <= MAX_HEATMAP_KEYFRAMES:
        labels = [f"{video_letter(k['video'])}{k['shot']}·{k['frame']}" for k in kf]
        parts.append("<h2>Keyframe × keyframe similarity</h2>"
                     + heatmap_svg(np.asarray(result["matrix"], np.float64).reshape(len(kf), len(kf)), labels,
                                   vmin=0.0, vmax=1.0, threshold=result["threshold"]))
    else:
        ids = result["shot_ids"]
        labels = [shot_label(s["video"], s["shot"]) for s in ids]
        m = np.asarray([[np.nan if x is None else x for x in row] for row in result["shot_matrix"]], np.float64)
        parts.append(f"<h2>Shot × shot similarity</h2><p class='muted'>{len(kf)} keyframes are too many for a "
                     "readable keyframe matrix; each cell is the best keyframe pair of two shots</p>"
                     + heatmap_svg(m, labels, vmin=0.0, vmax=1.0, threshold=result["threshold"]))
    return page("kadr compare-shots", "\n".join(parts))
