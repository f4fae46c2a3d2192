"""Keyframes chosen by content: the frames that best represent a shot.

For each shot kadr samples up to ``candidates`` frames evenly (streaming: a decimating
buffer that keeps every ``2**k``-th frame of the open shot, so the shot length need not
be known in advance), embeds them with an encoder (:mod:`kadr.features`) and picks:

1. among the candidates that are sharp enough (variance of the Laplacian of the luma —
   Pech-Pacheco et al., "Diatom autofocusing in brightfield microscopy", ICPR 2000 — at
   least ``min_sharpness`` × the shot's median: no motion-blurred or defocused frame), the
   **medoid**: the candidate with the smallest sum of distances to all candidates;
2. then greedy **farthest-point** selection (Gonzalez, "Clustering to minimize the maximum
   intercluster distance", TCS 1985, a 2-approximation of the k-centre problem): the sharp
   candidate farthest from its nearest keyframe is added while that distance exceeds
   ``novelty``, up to ``max_per_shot`` keyframes. A static shot gets one keyframe; a pan
   across two rooms gets one per room. ``coverage`` reports the remaining largest distance
   (0 = every candidate is represented exactly).

Distances are chordal: ``d(a, b) = ||a − b|| = sqrt(2 − 2 cos(a, b))`` for L2-normalised
embeddings (0..2). Unlike ``1 − cos`` it is a metric, which farthest-point selection needs
for its guarantee. Distances are not comparable across embedding spaces, so the default
``novelty`` depends on the encoder (:data:`NOVELTY`), calibrated on generated shots that
hold 2–3 different photos: within one photo's frames the largest distance was 0.17
(hsv-hist) / 0.53 (effnet-lite0), between photos the smallest 0.37 / 1.11 (a greyscale
photo next to another greyscale photo is the hard case for colour histograms).

Frames inside a gradual transition (dissolve, fade) are never candidates when the
transitions are known; a ``margin`` fraction at both ends of a shot is skipped too, and so
are content-free frames (:func:`kadr.features.content.content_free`: solid, near-uniform,
title cards — e.g. the black of a fade) unless the whole shot is content-free.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import numpy as np

from kadr._checks import check_range
from kadr._options import opt
from kadr.errors import InputError, OutputError
from kadr.features.content import DESCRIPTIONS, content_free
from kadr.io.video import DEFAULT_ANALYSIS_SIZE
from kadr.video.types import Keyframe, Shot, Transition

if TYPE_CHECKING:  # pragma: no cover
    from kadr.features.base import Encoder
    from kadr.io.video import Frame


#: the encoder used to compare candidate frames unless told otherwise (fast; see the benchmark)
DEFAULT_KEYFRAME_ENCODER = "hsv-hist"

#: default novelty (chordal distance) per encoder; others use NOVELTY["*"]
NOVELTY = {"hsv-hist": 0.3, "effnet-lite0": 0.8, "*": 0.5}


def default_novelty(encoder_name: str) -> float:
    return NOVELTY.get(str(encoder_name).lower(), NOVELTY["*"])


@dataclass
class KeyframeOptions:
    """How keyframes are chosen (see the module docstring for the method)."""

    encoder: str = opt(DEFAULT_KEYFRAME_ENCODER, "encoder whose embeddings decide which frames represent a shot "
                       "(an encoder name, e.g. hsv-hist, effnet-lite0)", metavar="NAME")
    max_per_shot: int = opt(3, "at most this many keyframes per shot", metavar="N")
    candidates: int = opt(24, "frames sampled per shot and compared", metavar="N")
    novelty: float | None = opt(None, "add another keyframe only while some frame is farther than this "
                                "(chordal embedding distance, 0..2) from every keyframe; default per encoder: "
                                + ", ".join(f"{k} {v}" for k, v in NOVELTY.items() if k != "*")
                                + f", others {NOVELTY['*']}", metavar="D")
    min_sharpness: float = opt(0.5, "frames less sharp than this fraction of the shot's median sharpness are "
                               "not picked (motion blur, defocus); 0 = off", metavar="F")
    margin: float = opt(0.1, "fraction of the shot skipped at both ends (transition residue)", metavar="F")

    def __post_init__(self) -> None:
        for name in ("max_per_shot", "candidates"):
            v = getattr(self, name)
            if int(v) != v or v < 1:
                raise InputError(f"{name} must be an integer >= 1, got {v!r}")
        if self.novelty is not None:
            check_range(self.novelty, "novelty", 0.0, 2.0)
        check_range(self.min_sharpness, "min_sharpness", 0.0, 1.0)
        check_range(self.margin, "margin", 0.0, 0.45)


def sharpness(rgb: np.ndarray) -> float:
    """Variance of the Laplacian of the BT.601 luma (grey levels², >= 0; larger = sharper)."""
    import cv2

    grey = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_32F).var())


def chordal_distances(embeddings: np.ndarray) -> np.ndarray:
    """(N, N) ``||e_i − e_j||`` of L2-normalised rows (= sqrt(2 − 2 cos)); all-zero rows
    (some encoders on a black frame) are at distance 0 from each other."""
    e = np.asarray(embeddings, dtype=np.float64)
    sim = np.clip(e @ e.T, -1.0, 1.0)
    zero = np.linalg.norm(e, axis=1) < 1e-6
    sim[np.ix_(zero, zero)] = 1.0
    d = np.sqrt(np.maximum(0.0, 2.0 - 2.0 * sim))
    np.fill_diagonal(d, 0.0)
    return d


def choose_keyframes(embeddings: np.ndarray, sharp: np.ndarray | None = None, *, max_k: int = 3,
                     novelty: float = 0.5, min_sharpness: float = 0.5) -> tuple[list[int], float]:
    """Pick representative rows of ``embeddings`` (N, D), rows L2-normalised.

    Returns (chosen row indices in the order they were picked — the first is the medoid of
    the sharp rows —, coverage = max over all rows of the chordal distance to the nearest
    chosen row). Rows with ``sharp < min_sharpness × median(sharp)`` are never chosen."""
    e = np.asarray(embeddings, dtype=np.float64)
    if e.ndim != 2 or e.shape[0] == 0:
        raise InputError(f"embeddings must be a non-empty (N, D) array, got shape {e.shape}")
    dist = chordal_distances(e)
    eligible = np.ones(len(e), bool)
    if sharp is not None and min_sharpness > 0:
        sharp = np.asarray(sharp, np.float64)
        eligible = sharp >= min_sharpness * float(np.median(sharp))
        if not eligible.any():
            eligible[:] = True
    total = np.where(eligible, dist.sum(axis=1), np.inf)
    chosen = [int(np.argmin(total))]
    nearest = dist[chosen[0]].copy()
    while len(chosen) < max_k:
        j = int(np.argmax(np.where(eligible, nearest, -1.0)))
        if nearest[j] <= novelty:
            break
        chosen.append(j)
        nearest = np.minimum(nearest, dist[j])
    return chosen, float(nearest.max())


@dataclass
class ShotKeyframes:
    """The keyframes of one shot plus what was learnt choosing them."""

    shot: Shot
    keyframes: list[Keyframe]
    embeddings: np.ndarray           # (k, D) float32 rows of the chosen keyframes, L2-normalised
    thumbnails: list[np.ndarray]     # analysis-size RGB images of the keyframes
    sharpness: list[float]
    candidates: int
    coverage: float

    def to_dict(self) -> dict[str, Any]:
        return {"shot": self.shot.index, "keyframes": [k.to_dict() for k in self.keyframes],
                "sharpness": [round(s, 2) for s in self.sharpness], "candidates": self.candidates,
                "coverage": round(self.coverage, 4)}


def _image_path(out_dir: Path, shot: Shot, frame: int, ext: str) -> Path:
    return out_dir / f"shot{shot.index:04d}_f{frame:06d}.{ext}"


def save_image(img: np.ndarray, path: Path, *, max_side: int | None = None, quality: int = 90) -> Path:
    """Write an RGB uint8 image (JPEG/PNG by extension), optionally downscaled; OutputError on failure."""
    from PIL import Image

    pil = Image.fromarray(img)
    if max_side and max(pil.size) > max_side:
        pil.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    try:
        pil.save(path, quality=quality) if path.suffix.lower() in (".jpg", ".jpeg") else pil.save(path)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc}; choose a writable folder") from None
    return path


def prepare_dir(path: str | os.PathLike) -> Path:
    """Create an output folder (parents too) and check it is writable."""
    p = Path(path)
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output folder {str(p)!r}: {exc}; choose a writable place") from None
    if not os.access(p, os.W_OK):
        raise OutputError(f"output folder {str(p)!r} is not writable; choose another one or fix its permissions")
    return p


class KeyframePicker:
    """Streaming keyframe choice: feed frames in order with :meth:`update`; call
    :meth:`close_shot` when a shot ends (as soon as the detector knows it).

    Candidates are buffered per open shot, at most ``2 × options.candidates`` frames. Without
    ``out_dir`` only their analysis-size images are kept; with it the decoded frames are kept
    too (the keyframes are saved at full size), pixels being converted only for the chosen ones.
    """

    def __init__(self, encoder: "str | Encoder | None" = None, options: KeyframeOptions | None = None, *,
                 out_dir: str | os.PathLike | None = None, image_format: str = "jpg", max_side: int | None = None):
        self.options = options or KeyframeOptions()
        from kadr.features import resolve_encoder

        self.encoder = resolve_encoder(encoder if encoder is not None else self.options.encoder)
        self.out_dir = prepare_dir(out_dir) if out_dir is not None else None
        if image_format not in ("jpg", "png"):
            raise InputError(f"image_format must be 'jpg' or 'png', got {image_format!r}")
        self.image_format = image_format
        self.max_side = max_side
        self._buf: list["Frame"] = []
        self._start: int | None = None
        self._step = 1
        self._excluded: list[tuple[int, int]] = []

    def exclude(self, start_frame: int, end_frame: int) -> None:
        """Never pick frames in [start_frame, end_frame) (a gradual transition)."""
        self._excluded.append((int(start_frame), int(end_frame)))

    def update(self, frame: "Frame") -> None:
        """Offer the next decoded frame (in index order). Without ``out_dir`` the frame's
        decoder buffer is released here, so call this after the frame's other consumers."""
        if self._start is None:
            self._start = frame.index
        off = frame.index - self._start
        if off % self._step:
            return
        if self.out_dir is None:  # keep only the small image: bounded memory even on 4K video
            frame.analysis_image  # noqa: B018 - converts and caches it
            frame.release()
        self._buf.append(frame)
        if len(self._buf) > 2 * self.options.candidates:
            self._step *= 2
            self._buf = [f for f in self._buf if (f.index - self._start) % self._step == 0]

    def _candidates(self, shot: Shot) -> list["Frame"]:
        inside = [f for f in self._buf if shot.start_frame <= f.index < shot.end_frame]
        clean = [f for f in inside if not any(a <= f.index < b for a, b in self._excluded)] or inside
        m = int(self.options.margin * shot.frames)
        trimmed = [f for f in clean if shot.start_frame + m <= f.index < shot.end_frame - m] or clean
        c = self.options.candidates
        if len(trimmed) > c:
            pick = np.linspace(0, len(trimmed) - 1, c).round().astype(int)
            trimmed = [trimmed[i] for i in sorted(set(pick.tolist()))]
        return trimmed

    def close_shot(self, shot: Shot) -> ShotKeyframes:
        """Choose the keyframes of ``shot`` from the frames offered so far; frames before
        ``shot.end_frame`` are then dropped from the buffer. ``shot.keyframes`` is filled."""
        cands = self._candidates(shot)
        self._buf = [f for f in self._buf if f.index >= shot.end_frame]
        self._start, self._step = (self._buf[0].index if self._buf else None), 1
        self._excluded = [(a, b) for a, b in self._excluded if b > shot.end_frame]
        if not cands:
            shot.keyframes = []
            return ShotKeyframes(shot, [], np.zeros((0, self.encoder.dim), np.float32), [], [], 0, 0.0)
        imgs = [f.analysis_image for f in cands]
        flat = [content_free(im) is not None for im in imgs]
        if any(flat) and not all(flat):  # a content-free frame never represents a shot with content
            cands = [f for f, fl in zip(cands, flat) if not fl]
            imgs = [im for im, fl in zip(imgs, flat) if not fl]
        emb = self.encoder.encode_images(imgs)
        sharp = np.array([sharpness(im) for im in imgs])
        o = self.options
        novelty = o.novelty if o.novelty is not None else default_novelty(self.encoder.name)
        order, coverage = choose_keyframes(emb, sharp, max_k=o.max_per_shot, novelty=novelty,
                                           min_sharpness=o.min_sharpness)
        order = sorted(order)  # keyframes in time order
        kfs = []
        for i in order:
            f = cands[i]
            path = None
            if self.out_dir is not None:
                path = str(save_image(f.image, _image_path(self.out_dir, shot, f.index, self.image_format),
                                      max_side=self.max_side))
            kfs.append(Keyframe(frame=int(f.index), time=round(float(f.time), 6), path=path))
        for f in cands:
            f.release()
        shot.keyframes = kfs
        return ShotKeyframes(shot, kfs, emb[order].astype(np.float32), [imgs[i] for i in order],
                             [float(sharp[i]) for i in order], len(cands), coverage)


def pick_keyframes(source: "str | os.PathLike | Iterable[Frame]", shots: Sequence[Shot], *,
                   transitions: Sequence[Transition] = (), encoder: "str | Encoder | None" = None,
                   options: KeyframeOptions | None = None, out_dir: str | os.PathLike | None = None,
                   analysis_size: int = DEFAULT_ANALYSIS_SIZE, image_format: str = "jpg", max_side: int | None = None,
                   progress: bool | None = None) -> list[ShotKeyframes]:
    """Keyframes for every shot of a video file (one decode pass) or of an iterable of
    frames. ``shots`` must be sorted and non-overlapping; their ``keyframes`` are filled in
    place. With ``out_dir`` the keyframes are saved there (full size unless ``max_side``)
    as ``shot0003_f000123.jpg`` and ``Keyframe.path`` is set."""
    from kadr._progress import track

    shots = sorted(shots, key=lambda s: s.start_frame)
    for a, b in zip(shots, shots[1:]):
        if b.start_frame < a.end_frame:
            raise InputError(f"shots {a.index} and {b.index} overlap ({a.start_frame}-{a.end_frame} and "
                             f"{b.start_frame}-{b.end_frame}); pass non-overlapping shots")
    picker = KeyframePicker(encoder, options, out_dir=out_dir, image_format=image_format, max_side=max_side)
    for t in transitions:
        if t.end_frame > t.start_frame:
            picker.exclude(t.start_frame, t.end_frame)
    results: list[ShotKeyframes] = []
    if not shots:
        return results
    reader = None
    if isinstance(source, (str, os.PathLike)):
        from kadr.io.video import VideoReader

        reader = VideoReader(source, analysis_size=analysis_size or None)
        total = shots[-1].end_frame
        frames: Iterable = track(reader, total=total, desc="keyframes", unit="frames", enabled=progress)
    else:
        frames = source
    k = 0
    try:
        for f in frames:
            while k < len(shots) and f.index >= shots[k].end_frame:
                results.append(picker.close_shot(shots[k]))
                k += 1
            if k == len(shots):
                break
            if f.index >= shots[k].start_frame:
                picker.update(f)
        while k < len(shots):
            results.append(picker.close_shot(shots[k]))
            k += 1
    finally:
        if reader is not None:
            reader.close()
    return results


@dataclass
class LabelOptions:
    """How keyframes are labelled (``kadr analyse``)."""

    # 0.10, measured with effnet-lite0: on the black copyright cards of testvideo.mp4 and the flat
    # frames of counter.mp4 the top class scored 2-4 % ("web site", "nematode"); on real shots and
    # the sample photos labels at >= 10 % named what is shown (espresso 94 %, ibex 33 %, water
    # bottle 27 %) while those below were mostly wrong (a leaf as "rock crab" 7 %, a road as
    # "black widow" 3 %)
    min_label_score: float = opt(0.10, "labels scoring below this probability are not shown", metavar="P")

    def __post_init__(self) -> None:
        check_range(self.min_label_score, "min_label_score", 0.0, 1.0)


def label_images(images: Sequence[np.ndarray], classifier: Any, *, k: int = 3,
                 options: LabelOptions | None = None) -> list[dict[str, Any]]:
    """Per image ``{"content": None | "solid" | "title card" | "near-uniform", "text": what to
    show when there is no label, "labels": [{"label", "score"}]}``. Content-free images
    (:func:`kadr.features.content.content_free`) are not classified; labels below
    ``min_label_score`` are dropped (an image may end with none: "no confident label"); at most ``k``
    labels per image."""
    o = options or LabelOptions()
    out = []
    for img in images:
        why = content_free(img)
        out.append({"content": why, "text": DESCRIPTIONS[why] if why else None, "labels": []})
    todo = [i for i, r in enumerate(out) if r["content"] is None]
    if classifier is not None and todo:
        preds = classifier.classify([images[i] for i in todo], k=int(k))
        for i, pr in zip(todo, preds):
            out[i]["labels"] = [p.to_dict() for p in pr if float(p.score) >= o.min_label_score]
            if not out[i]["labels"]:
                out[i]["text"] = f"no confident label (all below {100 * o.min_label_score:.0f} %)"
    return out



#: Frames a decoded frame waits in :func:`detect_shots_and_keyframes` before it is offered to
#: the keyframe picker, so that the shot it belongs to is already known. The classic detector
#: decides a cut 4 frames after it and a gradual transition when it is over: at most 78 frames
#: after its edit point on the shared clips and the generated demo clip (measured in issue 18).
#: A transition decided later than this (or a detector that decides only at the end of the
#: stream, like ``transnetv2`` today) makes the keyframes come from a second pass instead.
ONE_PASS_LAG = 128


@dataclass
class PassReport:
    """How :func:`detect_shots_and_keyframes` got its keyframes."""

    #: decode passes over the video: 1 (keyframes scored inside the shot pass) or 2
    passes: int
    #: frames decoded by all passes together
    frames_decoded: int
    #: why a second pass was needed (None for one pass)
    second_pass_reason: str | None = None
    #: (width, height) of the decoded frames, display rotation applied (None: no frame)
    frame_size: tuple[int, int] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"passes": self.passes, "frames_decoded": self.frames_decoded,
                "second_pass_reason": self.second_pass_reason}


def _edit_point(t: Transition) -> int:
    """The frame where a transition splits two shots (as ``shots_from_transitions`` does)."""
    return t.start_frame if t.start_frame == t.end_frame else (t.start_frame + t.end_frame + 1) // 2


class _DelayedFeeder:
    """Feeds a :class:`KeyframePicker` from inside the shot pass: frames wait ``lag`` frames
    in a delay line, so each shot is closed exactly where the two-pass order would close it."""

    def __init__(self, picker: KeyframePicker, lag: int):
        from collections import deque

        self.picker, self.lag = picker, int(lag)
        self.line: "deque[Frame]" = deque()
        self.bounds: list[int] = []          # edit points decided, not yet reached by the picker
        self.start = 0                       # first frame of the open shot
        self.offered = -1                    # last frame index offered to the picker
        self.closed: dict[tuple[int, int], ShotKeyframes] = {}
        self.late: str | None = None
        self.frame_size: tuple[int, int] | None = None

    def transition(self, t: Transition) -> None:
        b = _edit_point(t)
        if b <= self.offered or t.start_frame < self.start:
            self.late = self.late or (f"the {t.type} at frames {t.start_frame}-{t.end_frame} was decided more "
                                      f"than {self.lag} frames after it")
            return
        if t.end_frame > t.start_frame:
            self.picker.exclude(t.start_frame, t.end_frame)
        if b > self.start and b not in self.bounds:
            self.bounds = sorted([*self.bounds, b])

    def frame(self, f: "Frame") -> None:
        if self.frame_size is None:
            self.frame_size = (f.width, f.height)
        if self.picker.out_dir is None:  # only the analysis image is needed: bounded memory
            f.analysis_image  # noqa: B018 - converts and caches it
            f.release()
        self.line.append(f)
        if len(self.line) > self.lag:
            self._offer(self.line.popleft())

    def _close(self, end: int) -> None:
        res = self.picker.close_shot(Shot(len(self.closed), self.start, end, 0.0, 0.0))
        self.closed[(self.start, end)] = res
        self.start = end

    def _offer(self, f: "Frame") -> None:
        while self.bounds and self.bounds[0] <= f.index:
            self._close(self.bounds.pop(0))
        self.picker.update(f)
        self.offered = f.index

    def finish(self, shots: Sequence[Shot]) -> list[ShotKeyframes] | None:
        """The keyframes of the final ``shots``; None when the shared pass could not give them."""
        while self.line:
            self._offer(self.line.popleft())
        if self.late is not None:
            return None
        if shots and self.start < shots[-1].end_frame:
            self._close(shots[-1].end_frame)
        out = []
        for s in shots:
            res = self.closed.get((s.start_frame, s.end_frame))
            if res is None:
                self.late = f"shot {s.index} ({s.start_frame}-{s.end_frame}) was not closed by the shared pass"
                return None
            s.keyframes = res.shot.keyframes
            res.shot = s
            out.append(res)
        return out


def detect_shots_and_keyframes(source: "str | os.PathLike", *, detector: Any = "auto",
                               encoder: "str | Encoder | None" = None, options: KeyframeOptions | None = None,
                               out_dir: str | os.PathLike | None = None,
                               analysis_size: int = DEFAULT_ANALYSIS_SIZE, image_format: str = "jpg",
                               max_side: int | None = None, decode_threads: int = 0, progress: bool | None = None,
                               lag: int = ONE_PASS_LAG) -> tuple[Any, list[ShotKeyframes], PassReport]:
    """Shots and their keyframes in **one decode pass**: the keyframe candidates are offered to
    a :class:`KeyframePicker` from ``detect_shots(on_frame=..., on_transition=...)``, each frame
    ``lag`` frames after it was decoded (see :data:`ONE_PASS_LAG`), so the result equals
    ``pick_keyframes`` run on the detected shots. Frames are decoded with the deblocking filter
    on (pristine pictures for the keyframes). If the detector decides a transition too late,
    the keyframes come from a second pass and the report says why.

    Returns ``(ShotDetection, [ShotKeyframes per shot], PassReport)``; ``shots[i].keyframes``
    are filled in place. ``analysis_size`` is the size the keyframes are compared at.
    """
    from kadr.video.shots import detect_shots

    picker = KeyframePicker(encoder, options, out_dir=out_dir, image_format=image_format, max_side=max_side)
    feeder = _DelayedFeeder(picker, lag)
    det = detect_shots(source, detector=detector, analysis_size=analysis_size or None,
                       decode_threads=decode_threads, on_frame=feeder.frame, on_transition=feeder.transition,
                       progress=progress, fast_decode=False)
    decoded = det.decode.decoded if det.decode is not None else det.frames
    results = feeder.finish(det.shots)
    if results is not None:
        return det, results, PassReport(1, decoded, frame_size=feeder.frame_size)
    results = pick_keyframes(source, det.shots, transitions=det.transitions, encoder=picker.encoder,
                             options=picker.options, out_dir=out_dir, analysis_size=analysis_size,
                             image_format=image_format, max_side=max_side, progress=progress)
    return det, results, PassReport(2, decoded + det.frames, feeder.late, feeder.frame_size)
