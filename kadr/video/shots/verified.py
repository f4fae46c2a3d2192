"""``verified``: cheap candidates, checked by what the frames show, decided by a learned rule.

Three stages, all streaming:

1. **Candidates** — the ``classic`` detector (colour, luma and change-coherence signals at
   64 px) run with *recall-oriented* options (:attr:`VerifiedOptions.candidates`): it
   proposes cuts and gradual transitions with their extent and type, including many that
   are really object motion, light changes or camera moves.
2. **Cues** — for each candidate ``[s, e]`` (a cut: ``s == e``) the frames just before
   (``s-2, s-1``) and just after (``e, e+1``) are compared (:func:`cue_vector`): the best
   cosine between their EfficientNet-Lite0 embeddings (what the frames *show*; a cut
   changes it, motion and light do not), how stable the embedding is on each side, the
   colour-histogram distance, a motion-compensated RMS difference, one minus the
   zero-mean normalised cross-correlation of the luma (a light ramp rescales the
   picture, a cut replaces it), the luma step, how flat (content-free) each side is, the
   candidate's length, type and classic score.
3. **Decision** — a logistic regression on those cues, ``p = σ(w · (x - μ) / σ_x + b)``
   (one for cut candidates, one for gradual ones), fitted by ``benchmarks/shots_train.py`` on generated clips (:func:`kadr.io.synthetic.
   hard_clip`) and clips spliced from the *tuning* half of the single-shot footage only;
   its weights ship as ``kadr/video/shots/data/verified.json`` together with the training
   numbers. A candidate is a boundary when ``p >= threshold`` (stored with the weights:
   the best F1 on the tuning set).

A gradual candidate whose two sides are both content-free (flat frames, as in a grey
luma ramp) carries no picture to compare: only a dip through a solid black/white hold is a
boundary there, reported over the frames within :attr:`VerifiedOptions.dip_luma` grey
levels of the solid (the ``ground_truth.json`` convention for such dips).

Embeddings run in onnxruntime when it is installed (the ``effnet-lite0`` encoder of
:mod:`kadr.features`), on 128-px thumbnails kept in a ring buffer; only candidate frames
are embedded, so the cost follows the number of candidates, not of frames.
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from kadr._options import opt
from kadr.errors import InputError, ModelLoadError
from kadr.io.images import luma
from kadr.io.video import Frame
from kadr.video.shots.base import Ring, ShotDetector
from kadr.video.shots.classic import (WORK_SIZE, ClassicDetector, ClassicOptions, _small_from_planes, colour_histogram,
                                      shifted_rms)
from kadr.video.types import Transition

#: the shipped decision (weights, feature names, training numbers)
WEIGHTS = Path(__file__).with_name("data") / "verified.json"

#: names of the cues, in the order of :func:`cue_vector` (the weights file must agree)
CUES: tuple[str, ...] = ("emb_cos", "emb_stable", "hist", "mc", "log_mc_ratio", "structure", "luma_step", "flat",
                         "log_len", "is_cut", "is_fade", "classic_score")


def _candidate_options() -> ClassicOptions:
    # Recall first: the classic thresholds lowered so that most true boundaries are proposed;
    # the verifier removes what is motion or light. Chosen on the tuning set only (spliced
    # clips from the tuning half of ../shared/data/video/single-shot, generated clips with
    # seeds >= 100): candidate recall there, see benchmarks/shots_train.py's output.
    return ClassicOptions(cut_min=8.0, cut_ratio=1.8, hist_min=0.08, rise=1.3, kink=1.5, straightness=0.6,
                          gradual_total=8.0)


@dataclass
class VerifiedOptions:
    candidates: ClassicOptions = field(default_factory=_candidate_options, metadata={
        "help": "options of the classic candidate stage (recall-oriented, see the comment in verified.py)",
        "cli": False})
    threshold: float | None = opt(None, "probability from the learned decision above which a candidate is a "
                                        "boundary (default: the one stored with the weights, chosen for the best "
                                        "F1 on the tuning set by benchmarks/shots_train.py)")
    thumb_size: int = opt(128, "longest side (px) of the thumbnails kept for verification (embedding input is "
                               "224x224: 128 px keeps the layout of the picture at 27 KiB per frame)")
    history: int = opt(192, "frames of thumbnails kept (ring buffer): longer than the longest gradual "
                            "transition plus the latency of a fade-out (~7 s at 25 fps)")
    dip_luma: float = opt(16.0, "on content-free footage, a dip to black/white spans the frames within this many "
                                "grey levels of the solid (ground_truth.json marks the dips of fades.mp4 that way)")
    flat_std: float = opt(6.0, "luma standard deviation (grey levels, 128-px thumbnail) below which a frame "
                               "shows no content (a flat colour; embeddings mean nothing there)")
    threads: int = opt(0, "onnxruntime threads for the embeddings (0 = one per core)")
    weights: str = opt("", "a decision JSON written by benchmarks/shots_train.py (default: the shipped one)")


# ---- the decision ---------------------------------------------------------------------
@dataclass(frozen=True)
class Decision:
    """A logistic regression on standardised cues: ``p = σ(Σ w_i (x_i - μ_i) / s_i + b)``."""

    cues: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    bias: float
    meta: dict

    def probability(self, x: np.ndarray) -> np.ndarray:
        """(N, len(cues)) or (len(cues),) cue vectors → probabilities in [0, 1]."""
        z = ((np.asarray(x, np.float64) - self.mean) / self.scale) @ self.coef + self.bias
        return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))

    def to_dict(self) -> dict:
        return {"cues": list(self.cues), "mean": self.mean.tolist(), "scale": self.scale.tolist(),
                "coef": self.coef.tolist(), "bias": float(self.bias), **self.meta}

    @classmethod
    def from_dict(cls, d: dict) -> "Decision":
        try:
            cues = tuple(d["cues"])
            arrs = [np.asarray(d[k], np.float64) for k in ("mean", "scale", "coef")]
            bias = float(d["bias"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelLoadError(f"not a shot-decision file ({exc}); write one with benchmarks/shots_train.py") from None
        if cues != CUES or any(a.shape != (len(CUES),) for a in arrs):
            raise ModelLoadError(f"the decision file was trained on cues {list(cues)}; this kadr computes "
                                 f"{list(CUES)}: retrain with benchmarks/shots_train.py")
        meta = {k: v for k, v in d.items() if k not in ("cues", "mean", "scale", "coef", "bias")}
        return cls(cues, arrs[0], np.where(arrs[1] > 0, arrs[1], 1.0), arrs[2], bias, meta)


def fit_decision(x: np.ndarray, y: np.ndarray, *, l2: float = 1.0, iterations: int = 50, meta: dict | None = None
                 ) -> Decision:
    """Fit the logistic regression by Newton's method (IRLS) with an L2 penalty ``l2`` on the
    standardised weights (not on the bias); classes are weighted to equal total weight.
    ``x``: (N, len(CUES)) cue vectors, ``y``: (N,) 0/1 labels."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    if x.ndim != 2 or x.shape[1] != len(CUES) or len(y) != len(x):
        raise InputError(f"need x (N, {len(CUES)}) and y (N,), got {x.shape} and {y.shape}")
    if not 0 < y.sum() < len(y):
        raise InputError("need both positive and negative examples to fit a decision")
    mean, scale = x.mean(0), x.std(0)
    scale = np.where(scale > 1e-9, scale, 1.0)
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    sw = np.where(y > 0, 0.5 / y.sum(), 0.5 / (len(y) - y.sum())) * len(y)
    w = np.zeros(z.shape[1])
    reg = np.full(z.shape[1], l2)
    reg[-1] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ w, -50, 50)))
        g = z.T @ (sw * (p - y)) + reg * w
        h = (z * (sw * p * (1 - p))[:, None]).T @ z + np.diag(reg) + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(h, g)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return Decision(CUES, mean, scale, w[:-1], float(w[-1]), dict(meta or {}))


@dataclass(frozen=True)
class Decisions:
    """The learned rule: one :class:`Decision` for cut candidates, one for gradual ones (the
    cues mean different things for a one-frame jump and a 20-frame mix), and the probability
    ``threshold`` chosen on the tuning set (``meta`` says how)."""

    cut: Decision
    gradual: Decision
    threshold: float
    meta: dict

    def probability(self, x: np.ndarray) -> float:
        """One cue vector → probability that the candidate is a true boundary."""
        d = self.cut if x[CUES.index("is_cut")] > 0.5 else self.gradual
        return float(d.probability(x))

    def to_dict(self) -> dict:
        return {"cut": self.cut.to_dict(), "gradual": self.gradual.to_dict(), "threshold": self.threshold, **self.meta}

    @classmethod
    def from_dict(cls, d: dict) -> "Decisions":
        try:
            cut, grad, thr = d["cut"], d["gradual"], float(d["threshold"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelLoadError(f"not a shot-decision file ({exc}); write one with benchmarks/shots_train.py") from None
        meta = {k: v for k, v in d.items() if k not in ("cut", "gradual", "threshold")}
        return cls(Decision.from_dict(cut), Decision.from_dict(grad), thr, meta)


@lru_cache(maxsize=4)
def load_decision(path: str = "") -> Decisions:
    """The decisions at ``path`` (default: the shipped ``data/verified.json``)."""
    p = Path(path) if path else WEIGHTS
    try:
        d = json.loads(p.read_text())
    except OSError as exc:
        raise ModelLoadError(f"cannot read the shot decision {str(p)!r}: {exc}; reinstall kadr or write one "
                             "with benchmarks/shots_train.py") from None
    except json.JSONDecodeError as exc:
        raise ModelLoadError(f"{str(p)!r} is not valid JSON ({exc})") from None
    if not isinstance(d, dict):
        raise ModelLoadError(f"{str(p)!r} is not a shot-decision file; write one with benchmarks/shots_train.py")
    return Decisions.from_dict(d)


# ---- cues -----------------------------------------------------------------------------
def structure_change(a: np.ndarray, b: np.ndarray) -> float:
    """``1 - ZNCC`` of the lumas of two images (0 = same structure up to gain and offset, as
    under a light change; ~1 = unrelated pictures), in [0, 2]; 0 when either is flat."""
    ya, yb = luma(a).ravel().astype(np.float64), luma(b).ravel().astype(np.float64)
    ya -= ya.mean()
    yb -= yb.mean()
    n = np.linalg.norm(ya) * np.linalg.norm(yb)
    return float(1.0 - ya @ yb / n) if n > 1e-6 else 0.0


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b))


def cue_vector(before: Sequence[np.ndarray], after: Sequence[np.ndarray], emb_before: Sequence[np.ndarray],
               emb_after: Sequence[np.ndarray], *, kind: str, length: int, score: float, flat_std: float = 6.0
               ) -> np.ndarray:
    """The cues of one candidate (order: :data:`CUES`).

    ``before`` / ``after``: thumbnails (H, W, 3) uint8 of the frames just before the
    candidate (oldest first, the last is ``s-1``) and just after it (the first is ``e``);
    ``emb_*``: their L2-normalised embeddings. ``kind``: cut/dissolve/fade_in/fade_out,
    ``length``: ``e - s`` frames, ``score``: the candidate stage's score.

    * ``emb_cos`` = max over pairs of cos(before, after) (1: same content);
    * ``emb_stable`` = min of the cosines within each side (how much motion alone moves it);
    * ``hist`` = half the L1 distance of 64-bin colour histograms of ``s-1`` and ``e``;
    * ``mc`` = motion-compensated RMS difference (best shift up to 4 px at 128 px) / 255;
    * ``log_mc_ratio`` = log(1 + ``mc`` / (the same within the sides + 1 grey level)) (a cut
      towers over the motion around it);
    * ``structure`` = ``1 - ZNCC`` of the lumas of ``s-1`` and ``e`` (light ramps keep it ~0);
    * ``luma_step`` = |mean luma after - before| / 255; ``flat`` = 1 when a side is content-free;
    * ``log_len`` = log(1 + length); ``is_cut``, ``is_fade``; ``classic_score``.
    """
    if not before or not after or len(emb_before) != len(before) or len(emb_after) != len(after):
        raise InputError("cue_vector needs at least one frame (and its embedding) on each side")
    b1, a1 = before[-1].astype(np.float32), after[0].astype(np.float32)
    cross = max(_cos(x, y) for x in emb_before for y in emb_after)
    within = [_cos(emb_before[i], emb_before[i + 1]) for i in range(len(emb_before) - 1)]
    within += [_cos(emb_after[i], emb_after[i + 1]) for i in range(len(emb_after) - 1)]
    hist = 0.5 * float(np.abs(colour_histogram(before[-1]) - colour_histogram(after[0])).sum())
    mc = shifted_rms(b1, a1, 4) if b1.shape == a1.shape else float(np.sqrt(np.mean((b1.mean() - a1.mean()) ** 2)))
    side = []
    if len(before) > 1 and before[-2].shape == b1.shape:
        side.append(shifted_rms(before[-2].astype(np.float32), b1, 4))
    if len(after) > 1 and after[1].shape == a1.shape:
        side.append(shifted_rms(a1, after[1].astype(np.float32), 4))
    base = float(np.mean(side)) if side else 0.0
    struct = structure_change(before[-1], after[0]) if b1.shape == a1.shape else 1.0
    lb, la = luma(before[-1]), luma(after[0])
    flat = float(min(lb.std(), la.std()) < flat_std)
    return np.array([cross, min(within) if within else 1.0, hist, mc / 255.0, np.log1p(mc / (base + 1.0)), struct,
                     abs(float(la.mean()) - float(lb.mean())) / 255.0, flat, np.log1p(max(0, length)),
                     float(kind == "cut"), float(kind.startswith("fade")), float(score)], np.float64)


# ---- embeddings -----------------------------------------------------------------------
class ThumbEncoder:
    """EfficientNet-Lite0 features of thumbnails, squashed to 224x224 (the whole picture,
    no crop: a change at the edges counts too), L2-normalised. Loaded on first use."""

    size = 224

    def __init__(self, threads: int = 0):
        self.threads = int(threads) or (os.cpu_count() or 1)  # explicit: no torch import for the default
        self._enc: Any = None
        self._loader: Any = None
        self._error: Exception | None = None

    def _load(self) -> None:
        from kadr.features import get as get_encoder

        enc = get_encoder("effnet-lite0", threads=self.threads)
        enc.runner  # noqa: B018 - builds the onnxruntime session (or the torch module)
        self._enc = enc

    def preload(self) -> None:
        """Start loading the network in a background thread (first use waits for it)."""
        import threading

        if self._enc is None and self._loader is None:
            self._loader = threading.Thread(target=self._guarded_load, name="kadr-shots-encoder", daemon=True)
            self._loader.start()

    def _guarded_load(self) -> None:
        try:
            self._load()
        except Exception as exc:  # reported on first use, in the caller's thread
            self._error = exc

    def __call__(self, thumbs: Sequence[np.ndarray]) -> np.ndarray:
        import cv2

        if self._loader is not None:
            self._loader.join()
            self._loader = None
            if self._error is not None:
                err, self._error = self._error, None
                raise err
        if self._enc is None:
            self._load()
        batch = np.stack([cv2.resize(t, (self.size, self.size), interpolation=cv2.INTER_LINEAR) for t in thumbs])
        feats = self._enc.runner(batch)[0]
        n = np.linalg.norm(feats, axis=1, keepdims=True)
        return (feats / np.maximum(n, 1e-12)).astype(np.float32)


def thumbnail(frame: Frame, size: int) -> np.ndarray:
    """``frame`` reduced to ``size`` px on its long side (area average), RGB uint8: from the
    decoder's 4:2:0 planes when possible (cheap), else from the converted picture."""
    avf = frame.decoder_frame
    if avf is not None and not frame.rotation:
        img = _small_from_planes(avf, size)
        if img is not None:
            return img
    img = frame.image if frame.is_converted("image") or not frame.is_converted("analysis_image") \
        else frame.analysis_image
    h, w = img.shape[:2]
    if max(h, w) > size:
        import cv2

        s = size / max(h, w)
        img = cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(img)


class VerifiedDetector(ShotDetector):
    name = "verified"
    analysis_size = WORK_SIZE
    fast_decode = True

    def __init__(self, options: VerifiedOptions | None = None, *, decision: Decisions | None = None,
                 encoder: Any = None, **kw: Any):
        self.options = options or VerifiedOptions(**kw)
        o = self.options
        if o.threshold is not None and not 0.0 <= o.threshold <= 1.0:
            raise InputError(f"threshold must be in [0, 1], got {o.threshold!r}")
        if o.thumb_size < 16 or o.history < 8:
            raise InputError("thumb_size must be >= 16 px and history >= 8 frames")
        self.decision = decision or load_decision(o.weights)
        self.threshold = self.decision.threshold if o.threshold is None else float(o.threshold)
        self.encoder = encoder or ThumbEncoder(o.threads)
        if hasattr(self.encoder, "preload"):
            self.encoder.preload()  # load the network in the background while decoding starts
        #: every verified candidate of the last stream: (transition, cues, probability, kept)
        self.log: list[tuple[Transition, np.ndarray, float, bool]] = []
        self.keep_log = False
        super().__init__()

    def _reset(self) -> None:
        self._classic = ClassicDetector(self.options.candidates)
        self._classic.reset(self.clock.fps)
        self._classic.clock = self.clock  # one clock: times and pins are shared
        self._thumbs = Ring(self.options.history)
        self._emb: OrderedDict[int, np.ndarray] = OrderedDict()  # embedding cache (bounded)
        self.log = []

    # ---- streaming -----------------------------------------------------------------
    def _update(self, frame: Frame) -> list[Transition]:
        thumb = thumbnail(frame, self.options.thumb_size)
        while len(self._thumbs) < frame.index:  # a gap: repeat the last thumbnail
            self._thumbs.append(self._thumbs[-1] if len(self._thumbs) else thumb)
        self._thumbs.append(thumb)
        h, w = thumb.shape[:2]
        if max(h, w) > WORK_SIZE:  # the classic working image from the thumbnail (one plane reduction, not two)
            import cv2

            k = WORK_SIZE / max(h, w)
            small = cv2.resize(thumb, (max(1, round(w * k)), max(1, round(h * k))), interpolation=cv2.INTER_AREA)
        else:
            small = thumb
        cands = self._classic.update_small(frame, small)
        self._set_score(frame.index, self._classic.scores[-1] if self._classic.scores else 0.0)
        return self._verify(cands)

    def _flush(self) -> list[Transition]:
        return self._verify(self._classic._flush())

    def _set_score(self, index: int, value: float) -> None:
        self._classic.record_scores = self.record_scores
        super()._set_score(index, value)

    # ---- verification --------------------------------------------------------------
    def _embed(self, idx: list[int]) -> list[np.ndarray]:
        todo = [i for i in idx if i not in self._emb]
        if todo:
            for i, e in zip(todo, self.encoder([self._thumbs[i] for i in todo])):
                self._emb[i] = e
            while len(self._emb) > 64:
                self._emb.popitem(last=False)
        return [self._emb[i] for i in idx]

    def _sides(self, s: int, e: int) -> tuple[list[int], list[int]]:
        lo, hi = self._thumbs.start, len(self._thumbs)
        before = [i for i in (s - 2, s - 1) if lo <= i < hi]
        after = [i for i in (e, e + 1) if lo <= i < hi]
        return before, after

    def cues(self, t: Transition) -> np.ndarray | None:
        """The cue vector of a candidate (``None`` when its frames left the ring buffer)."""
        before, after = self._sides(t.start_frame, t.end_frame)
        if not before or not after:
            return None
        emb = self._embed(before + after)
        return cue_vector([self._thumbs[i] for i in before], [self._thumbs[i] for i in after],
                          emb[:len(before)], emb[len(before):], kind=t.type, length=t.end_frame - t.start_frame,
                          score=t.score, flat_std=self.options.flat_std)

    def _verify(self, cands: list[Transition]) -> list[Transition]:
        out = []
        for t in cands:
            if t.type != "cut":
                dip = self._content_free_dip(t)
                if dip is not False:
                    if dip is not None:
                        out.append(dip)
                    continue
            x = self.cues(t)
            if x is None:  # its frames are gone (a fade-out held for seconds): trust the candidate
                out.append(t)
                continue
            p = self.decision.probability(x)
            keep = p >= self.threshold
            if self.keep_log:
                self.log.append((t, x, p, keep))
            if keep:
                out.append(Transition(t.type, t.start_frame, t.end_frame, t.start_time, t.end_time, round(p, 4)))
        return out

    def _content_free_dip(self, t: Transition) -> Transition | None | bool:
        """For a gradual candidate between two content-free sides: the dip to a solid it
        contains (trimmed to the frames within ``dip_luma`` of the solid) or ``None`` (no dip:
        a luma ramp, not a boundary). ``False`` when the sides show content (verify it)."""
        before, after = self._sides(t.start_frame, t.end_frame)
        if not before or not after:
            return False
        o = self.options
        sides = [luma(self._thumbs[before[-1]]), luma(self._thumbs[after[0]])]
        if max(float(y.std()) for y in sides) >= o.flat_std:
            return False
        lo = max(t.start_frame, self._thumbs.start)
        ys = [luma(self._thumbs[i]) for i in range(lo, t.end_frame + 1)]
        means = np.array([float(y.mean()) for y in ys])
        flat = np.array([float(y.std()) < o.flat_std for y in ys])
        side_means = [float(y.mean()) for y in sides]
        dark, bright = means <= o.dip_luma, means >= 255 - o.dip_luma
        for solid, side_ok in ((dark & flat, min(side_means) > o.dip_luma),
                               (bright & flat, max(side_means) < 255 - o.dip_luma)):
            if side_ok and solid.any() and not (solid[0] or solid[-1]):
                k = np.flatnonzero(solid)
                return self.transition("dissolve", lo + int(k[0]), lo + int(k[-1]), t.score)
        return None
