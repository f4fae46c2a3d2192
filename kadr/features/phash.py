"""Perceptual hashes (pHash, dHash) via the ``imagehash`` library, compared by Hamming distance.

* pHash (Zauner, "Implementation and benchmarking of perceptual image hash functions",
  2010; imagehash.phash): greyscale, resize to 4k x 4k (k = hash_size), 2-D DCT, keep the
  k x k lowest frequencies, bit = coefficient > their median.
* dHash (Krawetz, "Kind of like that", 2013; imagehash.dhash): greyscale, resize to
  (k+1) x k, bit = pixel brighter than its right neighbour.

Hashes are boolean (N, k*k) arrays; :func:`hamming` counts differing bits. As an
embedding a hash becomes the vector (2*bit - 1) / k (unit norm), so the dot product of two
embeddings is 1 - 2 * hamming / k^2: cosine ranking = Hamming ranking.
"""

from __future__ import annotations


import numpy as np

from kadr.errors import InputError
from kadr.features.base import Encoder, check_same_dim
from kadr.features.preprocess import as_rgb_uint8
from kadr.features.runtime import require

HASHES = ("phash", "dhash")


#: Hash side k: k*k bits; 8 → the 64-bit hash of imagehash's default (and of Zauner's pHash).
HASH_SIZE = 8


def hash_bits(images, kind: str = "phash", hash_size: int = HASH_SIZE) -> np.ndarray:
    """Boolean (N, hash_size^2) perceptual hashes of RGB images."""
    from PIL import Image

    imagehash = require("imagehash")
    if kind not in HASHES:
        raise InputError(f"hash kind must be one of {', '.join(HASHES)}; got {kind!r}")
    if int(hash_size) != hash_size or hash_size < 2:
        raise InputError(f"hash_size must be an integer >= 2, got {hash_size!r}")
    fn = getattr(imagehash, kind)
    rows = [fn(Image.fromarray(as_rgb_uint8(im)), hash_size=int(hash_size)).hash.ravel() for im in images]
    return np.stack(rows).astype(bool) if rows else np.zeros((0, hash_size * hash_size), bool)


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) numbers of differing bits between boolean hashes a (N, B) and b (M, B)."""
    a2, b2 = np.atleast_2d(np.asarray(a, bool)), np.atleast_2d(np.asarray(b, bool))
    check_same_dim(a2, b2, ("the first hashes", "the second hashes"))
    return (a2[:, None, :] != b2[None, :, :]).sum(-1)


def to_hex(bits: np.ndarray) -> list[str]:
    """Hex strings of boolean hashes (same text as ``str(imagehash.ImageHash)``)."""
    out = []
    for row in np.atleast_2d(bits):
        v = 0
        for bit in row:
            v = (v << 1) | int(bit)
        out.append(f"{v:0{(len(row) + 3) // 4}x}")
    return out


class PerceptualHash(Encoder):
    """``phash`` / ``dhash``: a perceptual hash as a ±1/k vector (dot = 1 - 2 Hamming / k^2)."""

    default_batch_size = 64

    def __init__(self, kind: str = "phash", hash_size: int = HASH_SIZE):
        if kind not in HASHES:
            raise InputError(f"hash kind must be one of {', '.join(HASHES)}; got {kind!r}")
        self.kind, self.hash_size = kind, int(hash_size)
        self.name = kind
        self.dim = self.hash_size ** 2

    def hashes(self, images) -> np.ndarray:
        return hash_bits(images, self.kind, self.hash_size)

    def _encode_batch(self, images: list[np.ndarray]) -> np.ndarray:
        return (self.hashes(images).astype(np.float32) * 2 - 1) / self.hash_size
