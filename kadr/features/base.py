"""The encoder extension point: one ABC, one file per implementation, a registry.

An encoder turns images into L2-normalised ``float32`` vectors of shape (N, D).
"""

from __future__ import annotations

import abc
from typing import Iterable, Iterator, Sequence

import numpy as np

from kadr.errors import InputError

#: Images the encoders accept: RGB uint8/uint16 HxWx3 arrays (see kadr.io.load_image).
ImageBatch = Sequence[np.ndarray]


def l2_normalise(x: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero), as float32."""
    x = np.asarray(x, dtype=np.float32)
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(n, eps)


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
    #: default images per forward pass
    default_batch_size: int = 16

    @abc.abstractmethod
    def _encode_batch(self, images: list[np.ndarray]) -> np.ndarray:
        """(n, dim) float array for a list of RGB uint8 images (any sizes)."""

    def encode_images(self, images: Iterable[np.ndarray], *, batch_size: int | None = None) -> np.ndarray:
        """Embed images (a list or any iterator; streamed in batches). Returns float32 (N, dim), rows L2-normalised."""
        bs = batch_size or self.default_batch_size
        parts = [l2_normalise(self._encode_batch(b)) for b in batched(images, bs)]
        if not parts:
            return np.zeros((0, self.dim), np.float32)
        return np.concatenate(parts, axis=0)

    def iter_encode(self, images: Iterable[np.ndarray], *, batch_size: int | None = None) -> Iterator[np.ndarray]:
        """Yield one (n, dim) block per batch: for streams that never end."""
        bs = batch_size or self.default_batch_size
        for b in batched(images, bs):
            yield l2_normalise(self._encode_batch(b))

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        from kadr.errors import InputError as _E

        raise _E(f"encoder {self.name!r} has no text tower; use a CLIP or SigLIP model (clip:/path, siglip:/path) for text")

    def encode_tokens(self, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        from kadr.errors import InputError as _E

        raise _E(f"encoder {self.name!r} does not expose patch/token embeddings; use a ViT model (clip:, siglip:, dinov2:)")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, dim={self.dim})"
