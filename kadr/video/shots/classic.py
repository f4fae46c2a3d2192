"""``classic``: kadr's fast shot-boundary detector (no model, decode-bound speed).

Every frame is reduced to a small RGB image ``v_t`` (64 px on the long side, scaled by
swscale while decoding). From the frame difference ``D_t = v_t - v_{t-1}`` it keeps

* ``m_t = RMS(D_t)`` — how much the picture changed (grey levels, 0..255);
* ``c_t = cos(D_t, D_{t-1})`` — whether it changed *the same way* as the frame before.

The model behind it: a cut is one large, isolated jump; a dissolve or fade mixes two
pictures linearly, ``v_t = (1 - a_t) A + a_t B``, so for the frames of the transition
``D_t = (a_t - a_{t-1}) (B - A)`` all point the same way (``c_t`` near 1), are elevated
exactly on the frames [first changed, first settled] (the ground-truth convention) and add
up along a straight line: the *straightness* ``|v_e - v_{s-1}| / sum m_t`` is near 1.
Camera motion changes pixels without that straightness, flashes return to the picture
they left, and both are rejected:

* **cut** at frame *u*: ``m_u >= cut_min``, ``m_u >= cut_ratio * max(m_{u-1}, m_{u+1},
  median of the last frames)`` (isolation — rejects whip pans and fast zooms), and no
  frame among the next ``lookahead`` comes back near ``v_{u-1}`` (rejects flashes);
* **gradual** over [s, e]: a run of coherent changes (``c_t >= coherence``, ``m_t >=
  gradual_min``) of at least ``min_gradual`` frames that starts with a *rise* (``m`` >=
  ``rise`` x the median change before it) or, in moving footage, a *kink* (the change
  turns abruptly: ``|D_s - D_{s-1}| >= kink`` x its median before, while ``m`` grows);
  after a kink the camera's own change (the mean ``D`` just before) is removed from the
  run's changes and an opposite kink ends it. The run needs straightness >=
  ``straightness`` and a total change ``|v_e - v_{s-1}| >= gradual_total``; typed ``fade_out`` when it ends
  on a solid (black/white) frame, ``fade_in`` when it starts on one, else ``dissolve``.
  A fade-out and fade-in around a solid hold shorter than ``min_hold`` seconds is one
  dip to black (reported as one ``dissolve``); a fade-in out of the solid frames that
  open the video and a fade-out into those that close it are not shot boundaries.

Latency: a cut is reported ``lookahead`` frames after it happens; a gradual transition
when it ends (a fade-out when the following hold ends).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from kadr._options import opt
from kadr.io.images import luma as bt601_luma
from kadr.io.video import Frame
from kadr.video.shots.base import Ring, ShotDetector
from kadr.video.types import Transition

#: Working size (longest side, px) of the signals.
WORK_SIZE = 64
#: frames of per-frame signals kept (ring buffers): longer than any gradual transition or
#: fade hold the rules look back over (~40 s at 25 fps); bounded memory on endless streams
HISTORY = 1024


@dataclass
class ClassicOptions:
    cut_min: float = opt(12.0, "smallest RMS frame change (grey levels) that can be a cut")
    cut_ratio: float = opt(3.0, "a cut's change must be this many times its neighbours' (motion suppression)")
    flash_return: float = opt(0.5, "a jump whose next frames come back within this fraction of it is a flash")
    lookahead: int = opt(4, "frames looked at after a candidate cut (flash test); also the cut latency")
    gradual_min: float = opt(0.5, "smallest RMS change per frame inside a gradual transition (grey levels)")
    coherence: float = opt(0.6, "cosine between consecutive frame differences inside a gradual transition")
    rise: float = opt(1.5, "change at the start of a gradual transition / median change of the frames before it")
    kink: float = opt(1.7, "or: turn of the change (|D_t - D_t-1|) at its start / median turn before it (motion)")
    straightness: float = opt(0.75, "|total change| / sum of per-frame changes a gradual transition needs")
    gradual_total: float = opt(10.0, "smallest total RMS change (grey levels) of a gradual transition")
    min_gradual: int = opt(3, "shortest gradual transition in frames (first changed .. first settled)")
    min_hold: float = opt(0.19, "a solid hold shorter than this (s) between a fade-out and a fade-in joins them (a dip)")
    solid_std: float = opt(12.0, "luma deviation below which a dark/bright frame is solid (a fade's black/white)")
    hist_min: float = opt(0.15, "colour-histogram distance (0..1) that makes an isolated jump a cut")
    shift: int = opt(2, "largest shift (px at 64 px width) tried by the motion-compensated cut test")


_YUV420 = {"yuv420p": False, "yuvj420p": True}  # 8-bit 4:2:0 formats → full range?


def _small_from_planes(avf, size: int) -> np.ndarray | None:
    """Area-averaged RGB straight from a decoder frame's 8-bit 4:2:0 planes: each plane is
    reduced with OpenCV's INTER_AREA, then converted with the BT.601 matrix. Much cheaper
    than swscale's area filter (which converts and filters the whole picture)."""
    import cv2

    full = _YUV420.get(avf.format.name)
    w, h = avf.width, avf.height
    if full is None or size >= max(w, h):
        return None
    s = size / max(w, h)
    tw, th = max(1, round(w * s)), max(1, round(h * s))
    out = []
    for i, (pw, ph) in enumerate(((w, h), ((w + 1) // 2, (h + 1) // 2), ((w + 1) // 2, (h + 1) // 2))):
        pl = avf.planes[i]
        arr = np.frombuffer(pl, np.uint8).reshape(-1, pl.line_size)[:ph, :pw]
        out.append(cv2.resize(arr, (tw, th), interpolation=cv2.INTER_AREA).astype(np.float32))
    y, u, v = out
    u -= 128.0
    v -= 128.0
    if not full:  # limited ("TV") range → full range
        y = (y - 16.0) * (255.0 / 219.0)
        u *= 255.0 / 224.0
        v *= 255.0 / 224.0
    rgb = np.stack([y + 1.402 * v, y - 0.344136 * u - 0.714136 * v, y + 1.772 * u], axis=-1)
    return np.clip(rgb + 0.5, 0, 255).astype(np.uint8)


def small_image(frame: Frame, size: int = WORK_SIZE) -> np.ndarray:
    """The frame reduced to ``size`` px on the long side (area average), RGB uint8: from the
    decoder's YUV planes when possible (no rotation, 8-bit 4:2:0, not converted yet), else
    from ``frame.analysis_image``."""
    avf = frame.decoder_frame
    if avf is not None and not frame.rotation and not frame.is_converted("analysis_image"):
        img = _small_from_planes(avf, size)
        if img is not None:
            return img
    img = frame.analysis_image
    h, w = img.shape[:2]
    if max(h, w) > size:
        import cv2

        s = size / max(h, w)
        img = cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    return img


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x * x)))


def is_solid(img: np.ndarray, max_std: float = 12.0, luma: np.ndarray | None = None) -> bool:
    """True for a near-uniform dark (mean luma < 24) or bright (> 231) frame: a fade's end.
    The uniformity test is the content-free rule's (:func:`kadr.features.content.is_solid`)
    with this detector's looser ``solid_std`` (a fade's black is noisy)."""
    from kadr.features.content import is_solid as flat

    y = luma if luma is not None else bt601_luma(img, np.float64)
    m = float(y.mean())
    return (m < 24 or m > 231) and flat(luma=y, max_std=max_std)


def gradual_kind(solid, luma, s: int, e: int) -> str:
    """``fade_in`` out of a solid frame (the one before ``s``), ``fade_out`` into one (``e``),
    between two solid frames the darker end decides, else ``dissolve``. ``solid`` and
    ``luma`` are per-frame sequences (lists or :class:`~kadr.video.shots.base.Ring`); a frame
    no longer held counts as not solid."""
    def at(seq, i, default):
        try:
            return seq[i] if i >= 0 else default
        except IndexError:
            return default

    a = at(solid, s - 1, False)
    b = at(solid, e, False)
    if a and b:
        return "fade_out" if at(luma, e, 0.0) < at(luma, s - 1, 0.0) else "fade_in"
    return "fade_in" if a else "fade_out" if b else "dissolve"


def colour_histogram(img: np.ndarray, bits: int = 2) -> np.ndarray:
    """Normalised joint RGB histogram with ``2**bits`` levels per channel (64 bins by default)."""
    q = 8 - bits
    idx = ((img[..., 0] >> q).astype(np.int32) << (2 * bits)) | ((img[..., 1] >> q).astype(np.int32) << bits) | (img[..., 2] >> q)
    h = np.bincount(idx.ravel(), minlength=1 << (3 * bits)).astype(np.float32)
    return h / max(float(h.sum()), 1.0)


def shifted_rms(a: np.ndarray, b: np.ndarray, shift: int) -> float:
    """min over integer shifts |dx|, |dy| <= ``shift`` of the RMS difference of the
    overlapping parts of images ``a`` and ``b`` (H, W, C) — a cheap motion-compensated change."""
    h, w = a.shape[:2]
    best = float("inf")
    for dy in range(-shift, shift + 1):
        for dx in range(-shift, shift + 1):
            aa = a[max(0, dy):h + min(0, dy), max(0, dx):w + min(0, dx)]
            bb = b[max(0, -dy):h + min(0, -dy), max(0, -dx):w + min(0, -dx)]
            diff = aa - bb
            best = min(best, float(np.mean(diff * diff)))
    return float(np.sqrt(best))


class ClassicDetector(ShotDetector):
    name = "classic"
    analysis_size = WORK_SIZE
    fast_decode = True

    def __init__(self, options: ClassicOptions | None = None, **kw: float):
        self.options = options or ClassicOptions(**kw)
        super().__init__()

    def _reset(self) -> None:
        o = self.options
        self._recent: deque[tuple[int, np.ndarray]] = deque(maxlen=o.lookahead + 3)  # (index, v)
        self._m = Ring(HISTORY)  # m_t per frame
        self._hd = Ring(HISTORY)  # colour-histogram distance to the previous frame
        self._hist: np.ndarray | None = None
        self._prev_d: np.ndarray | None = None
        self._ds: deque[tuple[int, np.ndarray]] = deque(maxlen=6)  # recent (index, D_t)
        self._e = Ring(HISTORY, [0.0])  # |D_t - D_{t-1}| per frame
        self._run_motion: np.ndarray | float = 0.0
        self._run_kink: np.ndarray | None = None
        self._run_ebase = 1.0
        self._run_turned = False
        self._solid = Ring(HISTORY)
        self._lum = Ring(HISTORY)
        self._lead_solid = 0  # solid frames at the very start of the stream
        self._solid_since: int | None = None  # first frame of the current run of solid frames
        self._run: list[int] | None = None  # [start index a-1, last index]
        self._run_ref: np.ndarray | None = None  # v_{s-1}
        self._run_path = 0.0
        self._pending_fade_out: Transition | None = None
        self._last = -1

    # ---- per-frame signals ------------------------------------------------------
    def _update(self, frame: Frame) -> list[Transition]:
        return self.update_small(frame, small_image(frame))

    def update_small(self, frame: Frame, img: np.ndarray) -> list[Transition]:
        """:meth:`_update` with the frame's working image (:func:`small_image`, RGB uint8)
        already made — for a detector that derives it from a picture it needs anyway."""
        o = self.options
        t = frame.index
        v = img.astype(np.float32)
        y = bt601_luma(img, np.float64)
        lum = float(y.mean())
        solid = is_solid(img, o.solid_std, y)
        prev = self._recent[-1] if self._recent else None
        if prev is not None and prev[1].shape == v.shape:
            d = v - prev[1]
            m = float(np.sqrt(np.mean(d * d)))
            pd = self._prev_d
            c = 0.0
            if pd is not None and m > 1e-6 and self._m[-1] > 1e-6:
                c = float(np.vdot(d, pd) / (np.linalg.norm(d) * np.linalg.norm(pd)))
        else:
            d, m, c = None, 0.0, 0.0
        self._m.append(m)
        hist = colour_histogram(img)
        self._hd.append(0.5 * float(np.abs(hist - self._hist).sum()) if self._hist is not None else 0.0)
        self._hist = hist
        if solid and self._lead_solid == t:
            self._lead_solid += 1
        self._solid_since = (t if self._solid_since is None else self._solid_since) if solid else None
        self._solid.append(solid)
        self._lum.append(lum)
        out: list[Transition] = []
        out += self._track_gradual(t, m, c, d, v, prev)
        self._prev_d = d
        if d is not None:
            self._ds.append((t, d))
        self._recent.append((t, v))
        self._set_score(t, 1.0 - np.exp(-m / o.cut_min))
        out += self._decide_cut(t - o.lookahead)
        out += self._release_fade_out(t, solid)
        self._last = t
        return out

    # ---- cuts -------------------------------------------------------------------
    def _decide_cut(self, u: int) -> list[Transition]:
        o = self.options
        if u < 1 or u >= len(self._m):
            return []
        mu = self._m[u]
        if mu < o.cut_min:
            return []
        after = self._m[u + 1] if u + 1 < len(self._m) else 0.0
        if mu < o.cut_ratio * max(self._m[u - 1], after) and mu < o.cut_ratio * o.cut_min:
            return []  # not isolated and not large: leave it to the motion-compensated test
        frames = {i: v for i, v in self._recent}
        before = frames.get(u - 1)
        if before is None:
            return []
        # an isolated jump of the colour histogram (motion barely moves it) ...
        hu = self._hd[u]
        hist_ok = hu >= o.hist_min and hu >= o.cut_ratio * max(self._hd[u - 1], self._hd[u + 1] if u + 1 < len(self._hd) else 0.0)
        if not hist_ok:  # ... or of the motion-compensated change (camera moves shrink under a small shift)
            mc = shifted_rms(frames[u], before, o.shift)
            near = [shifted_rms(frames[i], frames[i - 1], o.shift) for i in (u - 1, u + 1) if i in frames and i - 1 in frames]
            if mc < o.cut_min or mc < o.cut_ratio * max(near, default=0.0):
                return []
        for j in range(u + 1, u + 1 + o.lookahead):
            vj = frames.get(j)
            if vj is not None and float(np.sqrt(np.mean((vj - before) ** 2))) < o.flash_return * mu:
                return []
        return [self.transition("cut", u, u, min(1.0, mu / (4 * o.cut_min)))]

    # ---- gradual transitions ------------------------------------------------------
    def _track_gradual(self, t: int, m: float, c: float, d: np.ndarray | None, v: np.ndarray, prev) -> list[Transition]:
        o = self.options
        pd = self._prev_d
        kink = float(np.sqrt(np.mean((d - pd) ** 2))) if d is not None and pd is not None and d.shape == pd.shape else 0.0
        self._e.append(kink)  # |D_t - D_{t-1}|: the change of the change
        active = m >= o.gradual_min and c >= o.coherence and m < o.cut_min * 2
        if active and self._run is None:
            # a transition adds its change on top of the shot's own motion: it shows as a rise
            # of the change, or as a kink (the change turns abruptly, then stays steady)
            hist = self._m[max(1, t - 12):t - 1]  # the frames before the first changed one
            if len(hist) < 3 or len(self._ds) < 3:
                return []
            base = min(float(np.median(hist)), float(np.median(hist[-4:])))
            ebase = float(np.median(self._e[max(2, t - 13):t - 1]))
            rose = self._m[t - 1] >= o.rise * base and m >= o.rise * base
            turned = (self._e[t - 1] >= o.kink * ebase and self._m[t - 1] >= 1.2 * base
                      and max(self._m[t - 2], self._m[t - 1]) < o.cut_min)  # not the wake of a cut
            active = rose or turned
            if active:
                s = t - 1  # the first changed frame is the one before the first coherent pair
                ref = self._before(s)
                if ref is None:
                    return []
                # the camera's own change per frame just before, removed from the run's changes
                motion = np.mean([x for i, x in self._ds if i < s][-4:], axis=0) if turned and not rose else 0.0
                first = self._ds[-1][1] if self._ds and self._ds[-1][0] == s else None
                if first is None:
                    return []
                self._run = [s, t]
                self._run_ref, self._run_motion, self._run_ebase = ref, motion, max(ebase, 1e-6)
                self._run_turned = turned and not rose
                self._run_kink = first - self._ds[-2][1] if len(self._ds) >= 2 else first
                self._run_path = _rms(first - motion) + _rms(d - motion)
                return []
        elif active:
            # an abrupt turn against the run's first one ends it (motion goes on after a dissolve)
            ended = (self._run_turned and kink >= o.kink * self._run_ebase
                     and float(np.vdot(d - pd, self._run_kink)) < 0)
            if not ended:
                self._run[1] = t
                self._run_path += _rms(d - self._run_motion)
                return []
        if self._run is None:
            return []
        s, e = self._run
        ref, path, motion = self._run_ref, self._run_path, self._run_motion
        self._run = self._run_ref = None
        ve = prev[1] if prev is not None and prev[0] == e else None
        if ve is None or e - s + 1 < o.min_gradual:
            return []
        total = _rms(ve - ref - (e - s + 1) * motion)
        if total < o.gradual_total or total < o.straightness * path:
            return []
        return self._gradual(s, e, total / max(path, 1e-6))

    def _before(self, s: int) -> np.ndarray | None:
        for i, v in self._recent:
            if i == s - 1:
                return v
        return None

    def _gradual(self, s: int, e: int, score: float) -> list[Transition]:
        o = self.options
        kind = gradual_kind(self._solid, self._lum, s, e)
        tr = self.transition(kind, s, e, score)
        out: list[Transition] = []
        pend = self._pending_fade_out
        if kind == "fade_in":
            if self._lead_solid >= s and self.clock.time(s) - self.clock.time(0) < o.min_hold:
                return out  # fading in from a short solid lead-in: there is no shot before it
            if pend is not None:
                self._pending_fade_out = None
                if self._hold_seconds(pend.start_frame, e) < o.min_hold:
                    return [self.transition("dissolve", pend.start_frame, e, min(pend.score, score))]
                out.append(pend)
            return out + [tr]
        if pend is not None:
            out.append(pend)
            self._pending_fade_out = None
        if kind == "fade_out":
            self._pending_fade_out = tr
            return out
        return out + [tr]

    def _hold_seconds(self, s: int, e: int) -> float:
        """Duration of the solid plateau of a dip [s, e]: frames within half a grey level of its
        darkest (or brightest) frame — robust to where the fades' ends round to."""
        lum = np.asarray(self._lum[s:e + 1])
        ref = lum.min() if lum.min() < 128 else lum.max()
        n = int(np.sum(np.abs(lum - ref) <= 0.5))
        per_frame = (self.clock.time(e) - self.clock.time(s)) / max(1, e - s)
        return n * per_frame

    def _release_fade_out(self, t: int, solid: bool) -> list[Transition]:
        """Emit a pending fade-out once the hold after it is over and no fade-in follows."""
        pend = self._pending_fade_out
        if pend is None or solid or self._run is not None or t <= pend.end_frame:
            return []
        if self.clock.time(t) - self.clock.time(pend.end_frame) < self.options.min_hold and self._m[t] >= self.options.gradual_min:
            return []  # maybe the start of a fade-in: wait for it
        self._pending_fade_out = None
        return [pend]

    def _flush(self) -> list[Transition]:
        out: list[Transition] = []
        last = self._last
        for u in range(max(1, last - self.options.lookahead + 1), last + 1):
            out += self._decide_cut(u)
        if self._run is not None and self._recent:
            self._m.append(0.0)
            out += self._track_gradual(last + 1, 0.0, 0.0, None, self._recent[-1][1], self._recent[-1])
        pend = self._pending_fade_out
        self._pending_fade_out = None
        if pend is not None:
            tail = self.clock.time(last + 1) - self.clock.time(pend.end_frame)
            all_solid = pend.end_frame >= len(self._solid) or (
                self._solid_since is not None and self._solid_since <= pend.end_frame)
            if not all_solid or tail >= self.options.min_hold:
                out.append(pend)  # a fade-out into a short solid tail has no shot after it
        return out
