"""Encoder lookup for the index layer (names go through the kadr.features registry)."""

from __future__ import annotations

from typing import Any

from kadr.errors import BackendUnavailableError, InputError
from kadr.features.base import Encoder

#: Encoder used when none is given and the index has no table yet.
DEFAULT_ENCODER = "effnet-lite0"


def resolve_encoder(encoder: Any) -> Encoder:
    """An :class:`Encoder` instance, or a registry name looked up in ``kadr.features``."""
    if isinstance(encoder, Encoder):
        return encoder
    if not isinstance(encoder, str) or not encoder:
        raise InputError(f"encoder must be a name such as {DEFAULT_ENCODER!r} or an Encoder, got {encoder!r}")
    try:
        from kadr.features import get
    except ImportError:
        raise BackendUnavailableError("kadr.features has no encoder registry in this installation; "
                                      "pass an Encoder instance") from None
    obj = get(encoder)
    if isinstance(obj, type) or (callable(obj) and not isinstance(obj, Encoder)):
        obj = obj()
    if not isinstance(obj, Encoder):
        raise InputError(f"{encoder!r} did not resolve to an Encoder (got {type(obj).__name__})")
    return obj
