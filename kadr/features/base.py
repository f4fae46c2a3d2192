"""The encoder extension point: one ABC, one file per implementation, a registry.

An encoder turns images into L2-normalised ``float32`` vectors of shape (N, D).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

import numpy as np

from kadr._compat import deprecated_alias, renamed_kwarg
from kadr.errors import InputError, ShapeError

#: Images the encoders accept: RGB uint8/uint16 HxWx3 arrays (see kadr.io.load_image).
ImageBatch = Sequence[np.ndarray]


def l2_normalise(x: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero), as float32."""
    x = np.asarray(x, dtype=np.float32)
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(n, eps)


@dataclass(frozen=True)
class Prediction:
    """One class of a classification: index in the label list, label text, score in [0, 1]."""

    index: int
    label: str
    score: float

    def to_dict(self) -> dict:
        return {"index": self.index, "label": self.label, "score": self.score}


def check_k(k: int) -> int:
    """``k`` (how many top results) as an int >= 1, else InputError."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise InputError(f"k (the number of top results) must be an integer >= 1, got {k!r}")
    return int(k)


def top_predictions(scores: np.ndarray, labels: Sequence[str], k: int) -> list[list[Prediction]]:
    """Per row of ``scores`` (N, C) the ``k`` best classes, best first."""
    k = min(check_k(k), scores.shape[1])
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return [[Prediction(int(i), labels[int(i)], float(row[i])) for i in idx] for row, idx in zip(scores, order)]


def check_texts(texts: Sequence[str], name: str = "text") -> list[str]:
    """A list of non-empty strings (surrounding whitespace stripped), or :class:`InputError`."""
    if isinstance(texts, str) or not isinstance(texts, (list, tuple)) or not all(isinstance(t, str) for t in texts):
        raise InputError(f"{name}s must be a list of strings, got {type(texts).__name__}")
    out = [t.strip() for t in texts]
    empty = [i for i, t in enumerate(out) if not t]
    if empty:
        raise InputError(f"{name} {empty[0] + 1} of {len(out)} is empty or only whitespace; give words to search "
                         "for, e.g. --text \"a cat on a sofa\"")
    return out


def check_same_dim(a: np.ndarray, b: np.ndarray, names: tuple[str, str] = ("a", "b")) -> None:
    """Raise :class:`ShapeError` when two embedding blocks (N, D) / (M, D') differ in D."""
    da, db = np.shape(a)[-1], np.shape(b)[-1]
    if da != db:
        raise ShapeError(
            f"embeddings of {names[0]} have dimension {da} but {names[1]} have {db}: they come from "
            "different encoders and cannot be compared; embed both with the same --encoder")


def pairwise_cosine(a: np.ndarray, b: np.ndarray, names: tuple[str, str] = ("a", "b")) -> np.ndarray:
    """(N, M) cosine similarities of every row of ``a`` (N, D) with every row of ``b`` (M, D);
    rows need not be normalised. The numpy twin of :func:`kadr.metrics.functional.pairwise_cosine`;
    the row-wise cosine of two equal-length blocks is
    :func:`kadr.metrics.functional.cosine_similarity`."""
    a2, b2 = np.atleast_2d(np.asarray(a, np.float32)), np.atleast_2d(np.asarray(b, np.float32))
    check_same_dim(a2, b2, names)
    for v, n in zip((a2, b2), names):
        if not np.isfinite(v).all():
            raise InputError(f"embeddings {n} contain NaN or infinite values; check the encoder's input")
    return l2_normalise(a2) @ l2_normalise(b2).T


#: deprecated: the name means row-wise everywhere else (``metrics.functional.cosine_similarity``)
cosine_similarity = deprecated_alias(pairwise_cosine, "cosine_similarity")


def batched(items: Iterable, size: int) -> Iterator[list]:
    """Split any iterable (a generator of frames, say) into lists of at most ``size``."""
    if size < 1:
        raise InputError(f"batch_size must be >= 1, got {size}")
    batch: list = []
    for it in items:
        batch.append(it)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


class Encoder(abc.ABC):
    """Images → L2-normalised float32 embeddings (N, dim).

    Subclasses implement :meth:`_encode_batch` (a list of RGB arrays → (n, dim) array);
    batching from iterators, normalisation and checks live here once.
    """

    #: registry name users type (e.g. "effnet-lite0", "clip:/path")
    name: str = "encoder"
    #: embedding dimension
    dim: int = 0
    #: True when the model has a text tower (encode_text works)
    supports_text: bool = False
    #: True when encode_tokens works (patch/token embeddings)
    supports_tokens: bool = False
    #: True when classify works (ImageNet classes, or text labels with a text tower)
    supports_classify: bool = False
    #: default images per forward pass
    default_batch_size: int = 16

    def prepare(self, image: np.ndarray) -> np.ndarray:
        """Per-image work that may run ahead in a loader thread (checks, resizing): for every
        image ``x``, encoding ``prepare(x)`` gives the same vector as encoding ``x``."""
        from kadr.features.preprocess import as_rgb_uint8

        return as_rgb_uint8(image)

    @abc.abstractmethod
    def _encode_batch(self, images: list[np.ndarray]) -> np.ndarray:
        """(n, dim) float array for a list of RGB uint8 images (any sizes)."""

    def encode_images(self, images: Iterable[np.ndarray], *, batch_size: int | None = None) -> np.ndarray:
        """Embed images (a list or any iterator; streamed in batches). Returns float32 (N, dim), rows L2-normalised."""
        bs = self.default_batch_size if batch_size is None else batch_size
        parts = [l2_normalise(self._encode_batch(b)) for b in batched(images, bs)]
        if not parts:
            return np.zeros((0, self.dim), np.float32)
        return np.concatenate(parts, axis=0)

    def iter_encode(self, images: Iterable[np.ndarray], *, batch_size: int | None = None) -> Iterator[np.ndarray]:
        """Yield one (n, dim) block per batch: for streams that never end."""
        bs = self.default_batch_size if batch_size is None else batch_size
        for b in batched(images, bs):
            yield l2_normalise(self._encode_batch(b))

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised float32 (len(texts), dim) text embeddings (models with a text tower)."""
        raise InputError(f"encoder {self.name!r} has no text tower; use a CLIP or SigLIP model "
                         "(clip:/path, siglip:/path) for text")

    def encode_tokens(self, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Per image a float32 (T, C) array of patch/token embeddings (ViT models)."""
        raise InputError(f"encoder {self.name!r} does not expose patch/token embeddings; "
                         "use a ViT model (clip:, siglip:, dinov2:)")

    @renamed_kwarg(topk="k")
    def classify(self, images: Iterable[np.ndarray], *, k: int = 5, labels: Sequence[str] | None = None,
                 batch_size: int | None = None) -> list[list[Prediction]]:
        """Top-``k`` predictions per image: ImageNet classes, or ``labels`` (zero-shot, text models)."""
        raise InputError(f"encoder {self.name!r} cannot classify; use effnet-lite0 (ImageNet classes) or a "
                         "CLIP/SigLIP model with text labels")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, dim={self.dim})"
