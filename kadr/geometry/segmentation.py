"""Segmentation and regions: SLIC, Felzenszwalb and watershed (scikit-image), GrabCut from
a box (OpenCV), a slot for SAM-class models from a local folder; region descriptors and
matching the regions of two frames.

Label maps are (H, W) ``int32`` with labels 0..K-1. Sources: SLIC — Achanta et al.,
TPAMI 2012; Felzenszwalb & Huttenlocher, IJCV 2004; watershed on the Sobel gradient
(Beucher & Meyer 1993) with compact markers (Neubert & Protzel, ICPR 2014); GrabCut —
Rother, Kolmogorov & Blake, SIGGRAPH 2004; histogram intersection — Swain & Ballard,
IJCV 1991; assignment — Kuhn's Hungarian method (scipy ``linear_sum_assignment``).

**SAM-class models** (``method=<folder>``): the folder holds ``model.pt2`` (``torch.export.save``),
``model.pt`` (TorchScript) or ``model.onnx`` and optionally ``config.json``
``{"input_size": [H, W]}``. The model takes one tensor (1, 3, H, W) float32 RGB in [0, 1]
and returns either mask logits
(1, K, H, W) — each pixel gets the label of its largest logit — or a label map (1, H, W).
Export an automatic-mask-generator pipeline to that interface to plug it in.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from kadr._checks import check_positive, check_range, check_same_shape
from kadr._options import opt
from kadr._registry import Registry
from kadr.errors import InputError, ModelLoadError, ShapeError

SegmentFn = Callable[..., np.ndarray]
SEGMENTERS: Registry[SegmentFn] = Registry("segmentation method")


@dataclass
class SegmentOptions:
    method: str = opt("felzenszwalb", "segmentation method (slic, felzenszwalb, watershed, or a model folder)",
                      metavar="NAME|DIR")
    work_size: int = opt(480, "longest side (px) frames are segmented at (labels are scaled back; 0 = full size)")
    segments: int = opt(48, "about how many regions (SLIC / watershed markers; Felzenszwalb's scale follows it)")
    compactness: float = opt(10.0, "SLIC compactness (higher = squarer regions)")
    min_area: float = opt(0.002, "regions smaller than this fraction of the frame are ignored when matching")
    iou_weight: float = opt(0.5, "weight of overlap (IoU) vs descriptor similarity in the region match score")
    min_score: float = opt(0.3, "a pair scoring below this is not a match (the regions appeared/vanished)")
    changed_below: float = opt(0.75, "a matched pair whose colour similarity or IoU is below this counts as changed")


def _rgb(image: np.ndarray) -> np.ndarray:
    from kadr.geometry.masks import _unit_rgb

    return _unit_rgb(image, "image")


def _relabel(labels: np.ndarray) -> np.ndarray:
    _, inv = np.unique(labels, return_inverse=True)
    return inv.reshape(labels.shape).astype(np.int32)


def slic(image: np.ndarray, *, segments: int = 48, compactness: float = 10.0, **_: Any) -> np.ndarray:
    """SLIC superpixels in CIELAB (scikit-image ``slic``)."""
    from skimage.segmentation import slic as sk_slic

    check_positive(segments, "segments")
    return _relabel(sk_slic(_rgb(image), n_segments=int(segments), compactness=float(compactness),
                            start_label=0, channel_axis=-1, convert2lab=True))


def felzenszwalb(image: np.ndarray, *, segments: int = 48, **_: Any) -> np.ndarray:
    """Felzenszwalb–Huttenlocher graph segmentation; ``scale`` = pixels / segments / 4 and
    ``min_size`` = pixels / segments / 8 so that roughly ``segments`` regions come out."""
    from skimage.segmentation import felzenszwalb as sk_fz

    check_positive(segments, "segments")
    rgb = _rgb(image)
    n = rgb.shape[0] * rgb.shape[1] / float(segments)
    return _relabel(sk_fz(rgb, scale=max(n / 4.0, 1.0), sigma=0.8, min_size=max(int(n / 8), 5), channel_axis=-1))


def watershed(image: np.ndarray, *, segments: int = 48, **_: Any) -> np.ndarray:
    """Compact watershed of the Sobel gradient of luma from ``segments`` grid markers."""
    from skimage.color import rgb2gray
    from skimage.filters import sobel
    from skimage.segmentation import watershed as sk_ws

    check_positive(segments, "segments")
    return _relabel(sk_ws(sobel(rgb2gray(_rgb(image))), markers=int(segments), compactness=1e-3))


for _name, _fn in (("slic", slic), ("felzenszwalb", felzenszwalb), ("watershed", watershed)):
    SEGMENTERS.register(_name, _fn)


class ModelSegmenter:
    """A SAM-class segmenter from a local folder (see module docstring)."""

    def __init__(self, folder: str | os.PathLike):
        from kadr.geometry._local_model import LocalModel

        self.model = LocalModel(folder, what="segmentation model")

    def __call__(self, image: np.ndarray, **_: Any) -> np.ndarray:
        import cv2

        from kadr.geometry._local_model import image_tensor

        h, w = np.asarray(image).shape[:2]
        _rgb(image)
        out = self.model(image_tensor(image, self.model.input_size))
        if out.ndim == 4 and out.shape[0] == 1:
            labels = out[0].argmax(axis=0)
        elif out.ndim == 3 and out.shape[0] == 1:
            labels = out[0]
        else:
            raise ModelLoadError(f"segmentation model in {self.model.folder} returned shape {out.shape}; "
                                 "expected mask logits (1, K, H, W) or labels (1, H, W)")
        labels = labels.astype(np.int32)
        if labels.shape != (h, w):
            labels = cv2.resize(labels, (w, h), interpolation=cv2.INTER_NEAREST)
        return _relabel(labels)


def segment(image: np.ndarray, method: str = "felzenszwalb", **params: Any) -> np.ndarray:
    """Label map (H, W) int32 of ``image`` by a registered method or a model folder."""
    if method not in SEGMENTERS and (Path(str(method)).expanduser().is_dir() or "/" in str(method)):
        return ModelSegmenter(method)(image, **params)  # a missing folder gets ModelLoadError
    return SEGMENTERS.get(method)(image, **params)


def grabcut(image: np.ndarray, box: Sequence[float], *, iterations: int = 5) -> np.ndarray:
    """Foreground mask (H, W) bool of the object inside ``box`` = (x, y, w, h) (OpenCV GrabCut)."""
    import cv2

    rgb = np.asarray(image)
    _rgb(rgb)
    if rgb.dtype != np.uint8:
        rgb = (rgb >> 8).astype(np.uint8)
    h, w = rgb.shape[:2]
    try:
        x, y, bw, bh = (int(round(float(v))) for v in box)
    except (TypeError, ValueError):
        raise InputError(f"box must be x,y,w,h numbers, got {box!r}") from None
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + bw, w), min(y + bh, h)
    if bw <= 0 or bh <= 0 or x1 - x0 < 2 or y1 - y0 < 2:
        raise InputError(f"box {tuple(box)} does not cover at least 2x2 pixels of the {w}x{h} image")
    if (x1 - x0) * (y1 - y0) >= (w - 1) * (h - 1):
        raise InputError("the box covers the whole image; GrabCut needs background outside the box")
    check_positive(iterations, "iterations")
    mask = np.zeros((h, w), np.uint8)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.grabCut(np.ascontiguousarray(rgb[..., ::-1]), mask, (x0, y0, x1 - x0, y1 - y0), bgd, fgd, int(iterations),
                cv2.GC_INIT_WITH_RECT)
    return (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)


# ----------------------------------------------------------------------------- regions

@dataclass
class Region:
    """One region: ``bbox`` (x, y, w, h), ``centroid`` (x, y), ``mean_rgb`` in [0, 1],
    L1-normalised HSV ``histogram`` (8×4×4 bins), optional L2-normalised ``embedding``."""

    label: int
    area: int
    bbox: tuple[int, int, int, int]
    centroid: tuple[float, float]
    mean_rgb: tuple[float, float, float]
    histogram: np.ndarray = field(repr=False)
    embedding: np.ndarray | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "area": self.area, "bbox": list(self.bbox),
                "centroid": [round(c, 2) for c in self.centroid], "mean_rgb": [round(c, 4) for c in self.mean_rgb]}


HIST_BINS = (8, 4, 4)


def describe_regions(image: np.ndarray, labels: np.ndarray, *,
                     embed: Callable[[list[np.ndarray]], np.ndarray] | None = None) -> list[Region]:
    """Descriptors of every label of ``labels`` in ``image``.

    ``embed`` (optional): a function from a list of RGB uint8 crops to (N, D) embeddings
    (e.g. an encoder's ``encode``); each region's crop is its bounding box with the pixels
    outside the region filled with the region's mean colour."""
    from kadr.geometry.masks import hsv

    rgb = _rgb(image)
    labels = np.asarray(labels)
    check_same_shape(rgb[..., 0], labels, ("image", "labels"))
    if labels.dtype.kind not in "iu" or labels.min() < 0:
        raise InputError("labels must be a non-negative integer map")
    labels = labels.astype(np.int64)
    k = int(labels.max()) + 1
    flat = labels.ravel()
    area = np.bincount(flat, minlength=k)
    c = hsv(image)
    hb = np.minimum((c[..., 0] * HIST_BINS[0]).astype(np.int64), HIST_BINS[0] - 1)
    sb = np.minimum((c[..., 1] * HIST_BINS[1]).astype(np.int64), HIST_BINS[1] - 1)
    vb = np.minimum((c[..., 2] * HIST_BINS[2]).astype(np.int64), HIST_BINS[2] - 1)
    nb = int(np.prod(HIST_BINS))
    joint = (hb * HIST_BINS[1] + sb) * HIST_BINS[2] + vb
    hist = np.bincount(flat * nb + joint.ravel(), minlength=k * nb).reshape(k, nb).astype(np.float32)
    hist /= np.maximum(hist.sum(1, keepdims=True), 1)
    ys, xs = np.mgrid[0:labels.shape[0], 0:labels.shape[1]]
    cx = np.bincount(flat, xs.ravel(), k) / np.maximum(area, 1)
    cy = np.bincount(flat, ys.ravel(), k) / np.maximum(area, 1)
    means = np.stack([np.bincount(flat, rgb[..., i].ravel(), k) for i in range(3)], 1) / np.maximum(area, 1)[:, None]
    from scipy import ndimage

    slices = ndimage.find_objects(labels + 1)
    regions = []
    for lab in range(k):
        if area[lab] == 0 or slices[lab] is None:
            continue
        sy, sx = slices[lab]
        regions.append(Region(lab, int(area[lab]), (sx.start, sy.start, sx.stop - sx.start, sy.stop - sy.start),
                              (float(cx[lab]), float(cy[lab])), tuple(float(v) for v in means[lab]), hist[lab]))
    if embed is not None and regions:
        img8 = (rgb * 255).round().astype(np.uint8)
        crops = []
        for r in regions:
            x, y, w, h = r.bbox
            crop = img8[y:y + h, x:x + w].copy()
            crop[labels[y:y + h, x:x + w] != r.label] = (np.asarray(r.mean_rgb) * 255).round().astype(np.uint8)
            crops.append(crop)
        emb = np.asarray(embed(crops), np.float32)
        if emb.ndim != 2 or len(emb) != len(regions):
            raise ShapeError(f"embed returned shape {emb.shape}; expected ({len(regions)}, D)")
        emb /= np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
        for r, e in zip(regions, emb):
            r.embedding = e
    return regions


def label_iou(la: np.ndarray, lb: np.ndarray) -> np.ndarray:
    """IoU matrix (Ka, Kb) between every label of ``la`` and every label of ``lb``."""
    check_same_shape(la, lb, ("labels A", "labels B"), hint="segment frames of the same size")
    ka, kb = int(la.max()) + 1, int(lb.max()) + 1
    inter = np.bincount(la.ravel().astype(np.int64) * kb + lb.ravel(), minlength=ka * kb).reshape(ka, kb)
    aa, ab = inter.sum(1), inter.sum(0)
    union = aa[:, None] + ab[None, :] - inter
    return inter / np.maximum(union, 1)


def region_similarity(ra: Sequence[Region], rb: Sequence[Region]) -> np.ndarray:
    """Descriptor similarity (Na, Nb) in [0, 1]: histogram intersection ``Σ min(h_a, h_b)``,
    averaged with ``(1 + cos) / 2`` of the embeddings when both sides have them."""
    ha = np.stack([r.histogram for r in ra]) if ra else np.zeros((0, int(np.prod(HIST_BINS))))
    hb = np.stack([r.histogram for r in rb]) if rb else np.zeros((0, int(np.prod(HIST_BINS))))
    sim = np.minimum(ha[:, None, :], hb[None, :, :]).sum(-1)
    if ra and rb and all(r.embedding is not None for r in [*ra, *rb]):
        ea, eb = np.stack([r.embedding for r in ra]), np.stack([r.embedding for r in rb])
        sim = (sim + (1 + ea @ eb.T) / 2) / 2
    return sim


@dataclass
class RegionDiff:
    """What changed between the regions of two frames."""

    matched: list[dict[str, Any]]
    appeared: list[Region]
    vanished: list[Region]
    regions_a: int
    regions_b: int

    @property
    def changed(self) -> list[dict[str, Any]]:
        return [m for m in self.matched if m["status"] == "changed"]

    def to_dict(self) -> dict[str, Any]:
        return {"regions_a": self.regions_a, "regions_b": self.regions_b,
                "summary": {"same": len(self.matched) - len(self.changed), "changed": len(self.changed),
                            "appeared": len(self.appeared), "vanished": len(self.vanished)},
                "matched": self.matched, "appeared": [r.to_dict() for r in self.appeared],
                "vanished": [r.to_dict() for r in self.vanished]}


def match_regions(ra: Sequence[Region], rb: Sequence[Region], la: np.ndarray, lb: np.ndarray, *,
                  iou_weight: float = 0.5, min_score: float = 0.3, changed_below: float = 0.75) -> RegionDiff:
    """One-to-one matching maximising ``iou_weight·IoU + (1 − iou_weight)·similarity``
    (Hungarian). Pairs below ``min_score`` are dropped: their regions count as vanished
    (from ``a``) or appeared (in ``b``). A kept pair is ``changed`` when its similarity or
    its IoU is below ``changed_below``, else ``same``."""
    from scipy.optimize import linear_sum_assignment

    check_range(iou_weight, "iou_weight", 0, 1)
    check_range(min_score, "min_score", 0, 1)
    check_range(changed_below, "changed_below", 0, 1)
    iou_all = label_iou(la, lb)
    iou = iou_all[np.ix_([r.label for r in ra], [r.label for r in rb])] if ra and rb else np.zeros((len(ra), len(rb)))
    sim = region_similarity(ra, rb)
    score = iou_weight * iou + (1 - iou_weight) * sim
    rows, cols = linear_sum_assignment(-score) if score.size else (np.zeros(0, int), np.zeros(0, int))
    matched, used_a, used_b = [], set(), set()
    for i, j in zip(rows, cols):
        if score[i, j] < min_score:
            continue
        used_a.add(i)
        used_b.add(j)
        status = "changed" if min(sim[i, j], iou[i, j]) < changed_below else "same"
        matched.append({"a": ra[i].label, "b": rb[j].label, "iou": round(float(iou[i, j]), 4),
                        "similarity": round(float(sim[i, j]), 4), "score": round(float(score[i, j]), 4),
                        "status": status, "bbox_a": list(ra[i].bbox), "bbox_b": list(rb[j].bbox)})
    return RegionDiff(matched, [r for j, r in enumerate(rb) if j not in used_b],
                      [r for i, r in enumerate(ra) if i not in used_a], len(ra), len(rb))


def segment_at(image: np.ndarray, options: SegmentOptions) -> np.ndarray:
    """Labels of ``image`` segmented at ``options.work_size`` and scaled back to its size."""
    import cv2

    h, w = image.shape[:2]
    f = options.work_size / max(h, w) if options.work_size else 1.0
    if f >= 1.0:
        return segment(image, options.method, segments=options.segments, compactness=options.compactness)
    small = cv2.resize(image, (max(2, round(w * f)), max(2, round(h * f))), interpolation=cv2.INTER_AREA)
    labels = segment(small, options.method, segments=options.segments, compactness=options.compactness)
    return _relabel(cv2.resize(labels, (w, h), interpolation=cv2.INTER_NEAREST))


def compare_regions(a: np.ndarray, b: np.ndarray, options: SegmentOptions | None = None, *,
                    embed: Callable[[list[np.ndarray]], np.ndarray] | None = None) -> tuple[RegionDiff, np.ndarray, np.ndarray]:
    """Segment both frames, describe and match their regions: (diff, labels a, labels b)."""
    o = options or SegmentOptions()
    a, b = np.asarray(a), np.asarray(b)
    check_same_shape(a, b, ("A", "B"), hint="region matching needs frames of the same size; resize one first")
    check_range(o.min_area, "min_area", 0, 1)
    la, lb = (segment_at(x, o) for x in (a, b))
    min_px = o.min_area * a.shape[0] * a.shape[1]
    ra = [r for r in describe_regions(a, la, embed=embed) if r.area >= min_px]
    rb = [r for r in describe_regions(b, lb, embed=embed) if r.area >= min_px]
    diff = match_regions(ra, rb, la, lb, iou_weight=o.iou_weight, min_score=o.min_score,
                         changed_below=o.changed_below)
    return diff, la, lb


def draw_regions(image: np.ndarray, labels: np.ndarray, highlight: dict[int, tuple[int, int, int]] | None = None) -> np.ndarray:
    """RGB uint8: region boundaries in white, ``highlight`` labels tinted with their colour."""
    from skimage.segmentation import find_boundaries

    out = (_rgb(image) * 255).round().astype(np.uint8)
    for lab, colour in (highlight or {}).items():
        m = labels == lab
        out[m] = (out[m] * 0.5 + np.asarray(colour) * 0.5).astype(np.uint8)
    out[find_boundaries(labels, mode="inner")] = 255
    return out
