"""Keyframe comparison: which shots repeat, within one video and across videos.

Every shot is represented by its keyframes (:mod:`kadr.video.keyframes`) embedded with
one encoder. The keyframe × keyframe similarity matrix is the cosine similarity of the
L2-normalised embeddings, ``S = E Eᵀ`` (range −1..1, 1 = same direction). Two shots are
as similar as their most similar keyframe pair (single linkage):
``sim(A, B) = max_{a∈A, b∈B} S[a, b]``. Pairs of different shots with ``sim ≥ threshold``
are reported as repeats / near-duplicates, and connected groups of them as repeat groups
(union-find over the pairs).

Content-free keyframes (:func:`kadr.features.content.content_free`: solid, black,
near-uniform, title cards) take no part in the matching: every black card looks like every
other, which would bury the real repeats. A shot whose keyframes are all content-free is
listed under ``content_free`` instead of being paired.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from kadr._checks import check_file, check_range
from kadr._options import opt
from kadr.errors import InputError
from kadr.features import DEFAULT as DEFAULT_ENCODER, resolve_encoder
from kadr.io.video import DEFAULT_ANALYSIS_SIZE
from kadr.video.keyframes import KeyframeOptions, ShotKeyframes, pick_keyframes

if TYPE_CHECKING:  # pragma: no cover
    from kadr.features.base import Encoder


@dataclass
class CompareOptions:
    """How shots are compared."""

    # the default encoder (kadr.features.DEFAULT): semantic, survives re-framing and grading
    encoder: str = opt(DEFAULT_ENCODER, "encoder for keyframe choice and comparison "
                       "(e.g. effnet-lite0, hsv-hist, phash)", metavar="NAME")
    # 0.8: the same photo under another zoom/pan/noise scored 0.90-0.94 with effnet-lite0, different
    # photos at most 0.38 (generated clips); colour histograms need ~0.95 (grey photos look alike)
    threshold: float = opt(0.8, "cosine similarity of the best keyframe pair at or above which two shots "
                           "are reported as repeats (for hsv-hist use ~0.95)", metavar="S")
    max_pairs: int = opt(200, "report at most this many repeat pairs (most similar first)", metavar="N")
    # opt-in learned head (kadr.nn.ComparisonHead, trained by benchmarks/nn_head.py); off by default:
    # see benchmarks/results/nn_head.md for how it scored against plain cosine on held-out clips
    head: str | None = opt(None, "apply a trained comparison head (kadr.nn.ComparisonHead file, for the same "
                           "encoder) to the keyframe embeddings before the cosine", metavar="PATH")

    def __post_init__(self) -> None:
        check_range(self.threshold, "threshold", -1.0, 1.0)
        if self.head:  # fail before any decoding
            check_file(self.head, what="comparison head file (--head)")
        if int(self.max_pairs) != self.max_pairs or self.max_pairs < 1:
            raise InputError(f"max_pairs must be an integer >= 1, got {self.max_pairs!r}")


@dataclass
class VideoShots:
    """One compared video: its name and the keyframes of each shot."""

    video: str
    shots: list[ShotKeyframes]
    fps: float | None = None
    detector: str = ""


@dataclass
class ShotComparison:
    videos: list[VideoShots]
    encoder: str
    threshold: float
    keyframe_ids: list[tuple[int, int, int]]   # (video, shot, frame) per matrix row
    matrix: np.ndarray                         # (K, K) keyframe cosine similarity
    shot_ids: list[tuple[int, int]]            # (video, shot) per shot-matrix row
    shot_matrix: np.ndarray                    # (S, S) max over keyframe pairs
    pairs: list[dict[str, Any]] = field(default_factory=list)
    groups: list[list[dict[str, int]]] = field(default_factory=list)
    content_free: list[dict[str, Any]] = field(default_factory=list)  # shots with only content-free keyframes
    head: str | None = None                    # the comparison head file applied, if any

    def to_dict(self) -> dict[str, Any]:
        return {
            "encoder": self.encoder, "metric": "cosine", "threshold": self.threshold, "head": self.head,
            "videos": [{"video": v.video, "fps": v.fps, "detector": v.detector,
                        "shots": [{**sk.shot.to_dict(), "coverage": round(sk.coverage, 4)} for sk in v.shots]}
                       for v in self.videos],
            "keyframes": [{"video": v, "shot": s, "frame": f} for v, s, f in self.keyframe_ids],
            "matrix": np.round(self.matrix.astype(np.float64), 4).tolist(),
            "shot_ids": [{"video": v, "shot": s} for v, s in self.shot_ids],
            "shot_matrix": np.round(self.shot_matrix.astype(np.float64), 4).tolist(),
            "pairs": self.pairs,
            "groups": self.groups,
            "content_free": self.content_free,
        }


def shot_similarity(blocks: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Keyframe and shot similarity from per-shot embedding blocks (k_i, D), rows L2-normalised.

    Returns (S (K, K) keyframe cosine similarity, T (n, n) with T[i, j] = max of S over the
    keyframes of shots i and j; shots without keyframes get −inf rows)."""
    if not blocks:
        return np.zeros((0, 0), np.float32), np.zeros((0, 0), np.float32)
    dims = {b.shape[1] for b in blocks if b.size}
    if len(dims) > 1:
        raise InputError(f"keyframe embeddings have different dimensions {sorted(dims)}; use one encoder")
    e = np.concatenate([np.asarray(b, np.float32) for b in blocks if b.size], axis=0) if dims else \
        np.zeros((0, 1), np.float32)
    s = np.clip(e @ e.T, -1.0, 1.0)
    owner = np.repeat(np.arange(len(blocks)), [len(b) for b in blocks])
    n = len(blocks)
    t = np.full((n, n), -np.inf, np.float32)
    # max over keyframe pairs: reduce rows per shot, then columns per shot
    rows = np.full((n, s.shape[1]), -np.inf, np.float32)
    np.maximum.at(rows, owner, s)
    np.maximum.at(t.T, owner, rows.T)  # t[:, owner[c]] = max over c of rows[:, c]
    return s, t


def _groups(n: int, edges: list[tuple[int, int]]) -> list[list[int]]:
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    comp: dict[int, list[int]] = {}
    for i in range(n):
        comp.setdefault(find(i), []).append(i)
    return [sorted(c) for c in comp.values() if len(c) > 1]


def compare(videos: Sequence[VideoShots], *, encoder: str, options: CompareOptions | None = None) -> ShotComparison:
    """Similarity matrices, repeat pairs and groups of the shots of ``videos`` (keyframes
    already chosen, with embeddings from one encoder)."""
    from kadr.features.content import content_free

    o = options or CompareOptions()
    head = None
    if o.head:
        from kadr.nn.head import ComparisonHead

        head = ComparisonHead.load(o.head)
    blocks, shot_ids, kf_ids, shown, free = [], [], [], [], []
    for vi, v in enumerate(videos):
        for sk in v.shots:
            blocks.append(head.transform(sk.embeddings) if head is not None and len(sk.embeddings) else sk.embeddings)
            shot_ids.append((vi, sk.shot.index))
            kf_ids.extend((vi, sk.shot.index, k.frame) for k in sk.keyframes)
            why = [content_free(im) for im in sk.thumbnails] if len(sk.thumbnails) == len(sk.embeddings) else \
                [None] * len(sk.embeddings)
            keep = np.array([w is None for w in why], bool)
            shown.append(np.asarray(blocks[-1])[keep] if len(keep) else blocks[-1])
            if len(keep) and not keep.any():
                free.append({"video": vi, "shot": sk.shot.index, "content": why[0]})
    s, _ = shot_similarity(blocks)
    _, t = shot_similarity(shown)  # repeats are decided on keyframes that show something
    n = len(shot_ids)
    iu, ju = np.triu_indices(n, k=1)
    vals = t[iu, ju] if n > 1 else np.zeros(0, np.float32)
    hit = np.nonzero(vals >= o.threshold)[0]
    hit = hit[np.argsort(-vals[hit], kind="stable")]
    edges = [(int(iu[h]), int(ju[h])) for h in hit]
    pairs = []
    for a, b in edges[: o.max_pairs]:
        (va, sa), (vb, sb) = shot_ids[a], shot_ids[b]
        pairs.append({"a": {"video": va, "shot": sa}, "b": {"video": vb, "shot": sb},
                      "similarity": round(float(t[a, b]), 4), "kind": "within" if va == vb else "across"})
    groups = [[{"video": shot_ids[i][0], "shot": shot_ids[i][1]} for i in g] for g in _groups(n, edges)]
    return ShotComparison(list(videos), encoder, float(o.threshold), kf_ids, s, shot_ids, t, pairs, groups, free,
                          head=str(o.head) if o.head else None)


def compare_videos(sources: Sequence[str | os.PathLike], *, options: CompareOptions | None = None,
                   keyframe_options: KeyframeOptions | None = None, detector: Any = "auto",
                   encoder: "Encoder | None" = None, analysis_size: int = DEFAULT_ANALYSIS_SIZE,
                   progress: bool | None = None) -> ShotComparison:
    """Detect shots in each video (:func:`kadr.video.shots.detect_shots`), choose keyframes
    with the comparison encoder (``encoder`` instance, else ``options.encoder`` by name) and
    compare every shot with every other."""
    import dataclasses

    from kadr.video.export import ShotList
    from kadr.video.shots import detect_shots

    o = options or CompareOptions()
    if not sources:
        raise InputError("give at least one video to compare")
    enc = resolve_encoder(encoder if encoder is not None else o.encoder)
    kopts = dataclasses.replace(keyframe_options or KeyframeOptions(), encoder=enc.name)
    videos = []
    for src in sources:
        sl = ShotList.from_detection(detect_shots(str(src), detector=detector))
        res = pick_keyframes(str(src), sl.shots, transitions=sl.transitions, encoder=enc, options=kopts,
                             analysis_size=analysis_size, progress=progress)
        videos.append(VideoShots(str(src), res, sl.fps, sl.detector))
    return compare(videos, encoder=enc.name, options=o)
