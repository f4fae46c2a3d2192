"""Self-contained HTML building blocks: inline JPEG thumbnails, SVG charts, one stylesheet.

Everything is inline (images as ``data:`` URIs, charts as SVG, no JavaScript and nothing
fetched from the network), so a report is one file that opens anywhere, offline.
"""

from __future__ import annotations

import base64
import html
import io
import os
from pathlib import Path
from typing import Sequence

import numpy as np


#: colours of the transition types in every chart
TRANSITION_COLOURS = {"cut": "#d62728", "dissolve": "#e6a700", "fade_in": "#1f77b4", "fade_out": "#6a3d9a"}

def stylesheet() -> str:
    """The one stylesheet of kadr's pages (``kadr/report/kadr.css``): inlined into reports,
    served as ``/static/kadr.css`` by ``kadr serve`` so both look the same."""
    from importlib.resources import files

    return files("kadr.report").joinpath("kadr.css").read_text(encoding="utf-8")


STYLE = stylesheet()


def esc(x: object) -> str:
    return html.escape(str(x), quote=True)


def data_uri(rgb: np.ndarray, *, max_side: int = 240, quality: int = 80) -> str:
    """An RGB uint8 image as a ``data:image/jpeg;base64,...`` URI, longest side ``max_side``."""
    from PIL import Image

    pil = Image.fromarray(np.ascontiguousarray(rgb))
    if max(pil.size) > max_side:
        pil.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    pil.save(buf, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<style>{STYLE}</style></head><body>\n{body}\n</body></html>\n")


def write_html(text: str, path: str | os.PathLike) -> Path:
    """Write the page atomically (temp file, then rename): a failed run leaves no 0-byte page."""
    from kadr._checks import write_text_atomic

    return write_text_atomic(text, path)


def legend(types: Sequence[str]) -> str:
    return '<div class="legend">' + "".join(
        f'<span><i class="sw" style="background:{TRANSITION_COLOURS.get(t, "#999")}"></i>{esc(t)}</span>'
        for t in types) + "</div>"


def _nice_step(span: float, target: int = 8) -> float:
    """A 1/2/5×10^k tick step giving about ``target`` ticks over ``span``."""
    if span <= 0:
        return 1.0
    raw = span / target
    mag = 10 ** np.floor(np.log10(raw))
    for m in (1, 2, 5, 10):
        if raw <= m * mag:
            return float(m * mag)
    return float(10 * mag)


def _time_axis(x0: float, width: float, y: float, duration: float) -> str:
    step = _nice_step(duration)
    parts = []
    t = 0.0
    while t <= duration + 1e-9 and duration > 0:
        x = x0 + width * t / duration
        parts.append(f'<line x1="{x:.1f}" y1="{y:.1f}" x2="{x:.1f}" y2="{y + 4:.1f}" stroke="#999"/>'
                     f'<text x="{x:.1f}" y="{y + 15:.1f}" text-anchor="middle">{t:g}s</text>')
        t += step
    return "".join(parts)


def _transition_marks(transitions: Sequence[dict], x_of, y0: float, y1: float) -> str:
    out = []
    for t in transitions:
        col = TRANSITION_COLOURS.get(t["type"], "#999")
        xa, xb = x_of(t["start_frame"]), x_of(t["end_frame"])
        tip = f'<title>{esc(t["type"])} {t["start_frame"]}-{t["end_frame"]} ({t["start_time"]:.2f}-{t["end_time"]:.2f}s)</title>'
        if t["end_frame"] > t["start_frame"]:
            out.append(f'<rect x="{xa:.1f}" y="{y0:.1f}" width="{max(1.5, xb - xa):.1f}" height="{y1 - y0:.1f}" '
                       f'fill="{col}" fill-opacity="0.28">{tip}</rect>')
        else:
            out.append(f'<line x1="{xa:.1f}" y1="{y0:.1f}" x2="{xa:.1f}" y2="{y1:.1f}" stroke="{col}" '
                       f'stroke-width="1.5">{tip}</line>')
    return "".join(out)


def timeline_svg(shots: Sequence[dict], transitions: Sequence[dict], frames: int, duration: float, *,
                 width: int = 1100, height: int = 46) -> str:
    """Shots as alternating bars (width ∝ frames, each a link to ``#shot<index>``) with
    transitions drawn over them."""
    n = max(1, frames)
    pad = 8
    w = width - 2 * pad
    x_of = lambda f: pad + w * f / n  # noqa: E731
    bars = []
    for s in shots:
        xa, xb = x_of(s["start_frame"]), x_of(s["end_frame"])
        fill = "#cfd8e3" if s["index"] % 2 == 0 else "#a9b8c9"
        label = (f'<text x="{(xa + xb) / 2:.1f}" y="19" text-anchor="middle">{s["index"]}</text>'
                 if xb - xa > 18 else "")
        bars.append(f'<a href="#shot{s["index"]}"><rect x="{xa:.1f}" y="4" width="{max(0.5, xb - xa):.1f}" '
                    f'height="22" fill="{fill}"><title>shot {s["index"]}: frames {s["start_frame"]}-'
                    f'{s["end_frame"] - 1}</title></rect>{label}</a>')
    body = "".join(bars) + _transition_marks(transitions, x_of, 2, 28) + _time_axis(pad, w, 28, duration)
    return f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">{body}</svg>'


def score_plot_svg(scores: Sequence[float], transitions: Sequence[dict], *, fps: float, width: int = 1100,
                   height: int = 170, label: str = "boundary score") -> str:
    """Per-frame score (0..max) as a line, transitions as coloured bands/lines, time axis."""
    v = np.nan_to_num(np.asarray(scores, np.float64), nan=0.0)
    n = len(v)
    pad_l, pad_r, top, bottom = 36, 8, 8, 24
    w, h = width - pad_l - pad_r, height - top - bottom
    if n == 0:
        return f'<svg width="{width}" height="30"><text x="4" y="18">no per-frame scores</text></svg>'
    vmax = max(1e-9, float(v.max()), 1.0 if v.max() <= 1.0 else 0.0)
    x_of = lambda f: pad_l + w * f / max(1, n - 1)  # noqa: E731
    if n > 2 * w:  # max-pool to ~2 points per pixel so spikes survive
        bins = np.array_split(np.arange(n), int(2 * w))
        xs = [x_of(b[int(np.argmax(v[b]))]) for b in bins]
        ys = [float(v[b].max()) for b in bins]
    else:
        xs, ys = [x_of(i) for i in range(n)], v.tolist()
    pts = " ".join(f"{x:.1f},{top + h * (1 - y / vmax):.1f}" for x, y in zip(xs, ys))
    grid = "".join(f'<line x1="{pad_l}" x2="{pad_l + w}" y1="{top + h * (1 - g):.1f}" y2="{top + h * (1 - g):.1f}" '
                   f'stroke="#eee"/><text x="{pad_l - 4}" y="{top + h * (1 - g) + 4:.1f}" text-anchor="end">'
                   f'{g * vmax:.2g}</text>' for g in (0, 0.5, 1))
    marks = _transition_marks(transitions, x_of, top, top + h)
    duration = (n - 1) / fps if fps else float(n - 1)
    axis = _time_axis(pad_l, w, top + h, duration) if fps else ""
    return (f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="{esc(label)}">{grid}{marks}<polyline fill="none" stroke="#333" stroke-width="1" '
            f'points="{pts}"/>{axis}</svg>')


def _colour(v: float) -> str:
    """0..1 → a perceptually ordered blue-to-yellow ramp (viridis anchor colours)."""
    anchors = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], np.float64)
    x = min(1.0, max(0.0, float(v))) * (len(anchors) - 1)
    i = min(int(x), len(anchors) - 2)
    c = anchors[i] + (anchors[i + 1] - anchors[i]) * (x - i)
    return "#%02x%02x%02x" % tuple(int(round(k)) for k in c)


def heatmap_svg(matrix: np.ndarray, labels: Sequence[str], *, vmin: float = 0.0, vmax: float = 1.0,
                cell: int | None = None, threshold: float | None = None) -> str:
    """A square similarity matrix as coloured cells (hover shows the value); cells at or
    above ``threshold`` off the diagonal get a red outline."""
    m = np.asarray(matrix, np.float64)
    n = m.shape[0]
    if n == 0:
        return "<p class='muted'>no keyframes</p>"
    cell = cell or int(max(4, min(28, 640 // n)))
    lab_w = 70
    size = lab_w + n * cell + 60
    out = []
    for i in range(n):
        y = lab_w + i * cell
        if cell >= 10:
            out.append(f'<text x="{lab_w - 4}" y="{y + cell * 0.7:.1f}" text-anchor="end">{esc(labels[i])}</text>')
            out.append(f'<text transform="translate({lab_w + i * cell + cell * 0.7:.1f},{lab_w - 4}) rotate(-60)">'
                       f'{esc(labels[i])}</text>')
        for j in range(n):
            val = m[i, j]
            fin = np.isfinite(val)
            col = _colour((val - vmin) / max(1e-9, vmax - vmin)) if fin else "#ddd"
            hot = threshold is not None and i != j and fin and val >= threshold
            stroke = ' stroke="#ff2020" stroke-width="1.5"' if hot else ""
            out.append(f'<rect x="{lab_w + j * cell}" y="{y}" width="{cell}" height="{cell}" fill="{col}"{stroke}>'
                       f'<title>{esc(labels[i])} × {esc(labels[j])}: {val:.3f}</title></rect>')
    # colour bar
    bx = lab_w + n * cell + 14
    for k in range(20):
        out.append(f'<rect x="{bx}" y="{lab_w + (19 - k) * n * cell / 20:.1f}" width="12" '
                   f'height="{n * cell / 20 + 0.5:.1f}" fill="{_colour(k / 19)}"/>')
    out.append(f'<text x="{bx + 15}" y="{lab_w + 10}">{vmax:g}</text>'
               f'<text x="{bx + 15}" y="{lab_w + n * cell}">{vmin:g}</text>')
    return f'<svg width="{size}" height="{size - 40}" role="img">{"".join(out)}</svg>'
