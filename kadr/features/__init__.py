"""Encoders: images → L2-normalised float32 vectors (N, D), one interface for all.

>>> from kadr import features
>>> enc = features.get("effnet-lite0")          # offline default (ImageNet EfficientNet-Lite0)
>>> emb = enc.encode_images(images)               # (N, 1280) float32, rows of unit norm
>>> enc.classify(images, k=5)                     # ImageNet classes
>>> enc.classify(images, labels=["dog", "cat"])   # zero-shot, through the semantic bridge
>>> features.get("minilm").encode_text(["a cat"]) # (1, 384) sentence embedding, offline
>>> features.get("clip:/models/clip-vit-b32")     # transformers models from a local folder
>>> features.names()                              # what can be asked for

Names: ``effnet-lite0`` (also ``-lite1``, ``-lite2``), ``minilm`` (text only: all-MiniLM-L6-v2
sentence embeddings), ``hsv-hist``, ``hog``, ``phash``, ``dhash`` and, from a local folder
holding config + weights + tokenizer/processor, ``clip:PATH``, ``siglip:PATH``, ``dinov2:PATH``.
Keyword options go to the encoder (``get("hog", cell=8)``, ``get("effnet-lite0", backend="torch")``).
Encoders are cached per (name, options): repeated ``get`` calls share one loaded model.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

from kadr._registry import Registry
from kadr.errors import InputError, UnknownNameError
from kadr.features.base import Encoder, Prediction, cosine_similarity, l2_normalise, pairwise_cosine

#: Factories: name → callable(folder or None, **options) → Encoder.
registry: Registry[Callable[..., Encoder]] = Registry("encoder")
#: Kinds whose name carries a folder: "clip:/path".
PATH_KINDS = ("clip", "siglip", "dinov2")

_cache: dict[tuple, Encoder] = {}
_lock = threading.Lock()


def _effnet(variant: int) -> Callable[..., Encoder]:
    def make(arg: None, **kw: Any) -> Encoder:
        from kadr.features.effnet import EffNetLite

        return EffNetLite(variant, **kw)

    return make


def _minilm(arg: None, **kw: Any) -> Encoder:
    from kadr.features.minilm import MiniLM

    return MiniLM(**kw)


def _hsv(arg: None, **kw: Any) -> Encoder:
    from kadr.features.hsv_hist import HsvHist

    return HsvHist(**kw)


def _hog(arg: None, **kw: Any) -> Encoder:
    from kadr.features.hog import Hog

    return Hog(**kw)


def _hash(kind: str) -> Callable[..., Encoder]:
    def make(arg: None, **kw: Any) -> Encoder:
        from kadr.features.phash import PerceptualHash

        return PerceptualHash(kind, **kw)

    return make


def _hf(kind: str) -> Callable[..., Encoder]:
    def make(arg: str, **kw: Any) -> Encoder:
        from kadr.features import hf

        return hf.load(kind, arg, **kw)

    return make


for _v in (0, 1, 2):
    registry.register(f"effnet-lite{_v}", _effnet(_v))
registry.register("minilm", _minilm)
registry.register("hsv-hist", _hsv)
registry.register("hog", _hog)
registry.register("phash", _hash("phash"))
registry.register("dhash", _hash("dhash"))
for _kind in PATH_KINDS:
    registry.register(_kind, _hf(_kind))

#: Plain (folder-less) encoders that run a network.
NEURAL_KINDS = ("effnet-lite0", "effnet-lite1", "effnet-lite2", "minilm")

#: The encoder used when none is named.
DEFAULT = "effnet-lite0"


def names() -> list[str]:
    """Every name :func:`get` accepts (folder-based kinds shown as ``kind:PATH``)."""
    return sorted(f"{n}:PATH" if n in PATH_KINDS else n for n in registry.names())


def is_neural(name: str) -> bool:
    """True for the encoders that run a network (and take ``backend`` / ``threads`` options)."""
    kind = str(name).partition(":")[0].strip().lower()
    return kind in NEURAL_KINDS or kind in PATH_KINDS


def resolve_encoder(encoder: str | Encoder = DEFAULT, **options: Any) -> Encoder:
    """An :class:`Encoder`: ``encoder`` itself, or the one its registry name names (:func:`get`).

    The one lookup every layer uses (index, keyframes, compare-shots, watch).
    """
    if isinstance(encoder, Encoder):
        return encoder
    if not isinstance(encoder, str) or not encoder.strip():
        raise InputError(f"encoder must be a registry name such as {DEFAULT!r} or an Encoder, got {encoder!r}")
    return get(encoder, **options)


def get(name: str | Encoder = DEFAULT, *, cache: bool = True, **options: Any) -> Encoder:
    """The encoder called ``name`` (see :func:`names`), built with ``options``.

    Raises ``UnknownNameError`` (listing the valid names), ``InputError`` (a folder kind
    without a folder or a plain kind with one), ``ModelLoadError`` (bad model folder) and
    ``BackendUnavailableError`` (optional package missing).
    """
    if isinstance(name, Encoder):
        return name
    kind, sep, arg = str(name).partition(":")
    kind = kind.strip().lower()
    if kind not in registry:
        raise UnknownNameError("encoder", str(name), names())
    if kind in PATH_KINDS:
        if not arg.strip():
            raise InputError(f"encoder {kind!r} needs a model folder: --encoder {kind}:/path/to/folder "
                             "(config.json, weights and tokenizer/processor files, saved with save_pretrained)")
        arg = arg.strip()
    elif sep:
        raise InputError(f"encoder {kind!r} takes no folder (got {name!r}); use --encoder {kind}")
    key = (kind, arg if kind in PATH_KINDS else None, tuple(sorted(options.items())))
    if cache:
        with _lock:
            if key in _cache:
                return _cache[key]
    enc = registry.get(kind)(arg if kind in PATH_KINDS else None, **options)
    if cache:
        with _lock:
            enc = _cache.setdefault(key, enc)
    return enc


__all__ = ["Encoder", "Prediction", "get", "resolve_encoder", "names", "is_neural", "registry", "DEFAULT", "pairwise_cosine", "cosine_similarity",
           "l2_normalise"]
