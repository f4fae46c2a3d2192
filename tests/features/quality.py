"""The same-source vs different-source benchmark of issue 5 (used by the test and the benchmark).

Sources: scikit-image's sample photos. Variants of each: the original, a centre crop
(80 %), a rescale to 50 %, JPEG quality 30, brightness x1.3, a 5 degree rotation and a
horizontal flip. Every pair of images is scored by the cosine of its embeddings; pairs
of the same source are positives. ROC AUC = P(score of a positive > score of a negative)
(ties count one half), the Mann-Whitney U statistic divided by n_pos * n_neg
(Hanley & McNeil, Radiology 1982).
"""

from __future__ import annotations

import io

import numpy as np

SOURCES = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle_left", "immunohistochemistry",
           "hubble_deep_field", "retina", "colorwheel", "camera", "moon", "coins", "page", "grass", "brick")
VARIANTS = ("original", "crop", "rescale", "jpeg", "brightness", "rotate", "flip")


def _source(name: str) -> np.ndarray:
    from skimage import data

    if name == "motorcycle_left":
        img = data.stereo_motorcycle()[0]
    else:
        img = getattr(data, name)()
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    return np.ascontiguousarray(img[:, :, :3])


def variant(img: np.ndarray, kind: str) -> np.ndarray:
    from PIL import Image, ImageEnhance

    pil = Image.fromarray(img)
    w, h = pil.size
    if kind == "original":
        out = pil
    elif kind == "crop":
        out = pil.crop((int(0.1 * w), int(0.1 * h), int(0.9 * w), int(0.9 * h)))
    elif kind == "rescale":
        out = pil.resize((w // 2, h // 2), Image.BILINEAR)
    elif kind == "jpeg":
        buf = io.BytesIO()
        pil.save(buf, "JPEG", quality=30)
        out = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    elif kind == "brightness":
        out = ImageEnhance.Brightness(pil).enhance(1.3)
    elif kind == "rotate":
        out = pil.rotate(5, resample=Image.BILINEAR, expand=False)
    elif kind == "flip":
        out = pil.transpose(Image.FLIP_LEFT_RIGHT)
    else:
        raise ValueError(kind)
    return np.asarray(out)


def dataset(max_side: int = 512) -> tuple[list[np.ndarray], np.ndarray]:
    """(images, source labels). Sources are shrunk to ``max_side`` first to keep it quick."""
    from PIL import Image

    images, labels = [], []
    for i, name in enumerate(SOURCES):
        src = _source(name)
        h, w = src.shape[:2]
        if max(h, w) > max_side:
            s = max_side / max(h, w)
            src = np.asarray(Image.fromarray(src).resize((round(w * s), round(h * s)), Image.BILINEAR))
        for kind in VARIANTS:
            images.append(variant(src, kind))
            labels.append(i)
    return images, np.asarray(labels)


def roc_auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(pos > neg) + 0.5 P(pos == neg), by ranks (Mann-Whitney U / (n_pos n_neg))."""
    from scipy.stats import rankdata

    allv = np.concatenate([pos, neg])
    ranks = rankdata(allv)  # average ranks for ties
    u = ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2
    return float(u / (len(pos) * len(neg)))


def pair_scores(emb: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    sim = emb @ emb.T
    iu = np.triu_indices(len(labels), 1)
    same = labels[iu[0]] == labels[iu[1]]
    s = sim[iu]
    return s[same], s[~same]


def encoder_auc(encoder, images, labels) -> float:
    return roc_auc(*pair_scores(encoder.encode_images(images), labels))
