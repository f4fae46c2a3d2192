"""Convex mixing of two scores or losses: ``mix(a, b, μ) = μ·a + (1 − μ)·b``."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from kadr.errors import InputError


def mix(a: Any, b: Any, mu: Any):
    """``μ·a + (1 − μ)·b`` with μ in [0, 1] (a number, array or tensor broadcasting against a
    and b). μ = 1 gives a, μ = 0 gives b. Differentiable in a, b and μ."""
    if isinstance(mu, torch.Tensor):
        bad = bool(((mu < 0) | (mu > 1) | ~torch.isfinite(mu)).any())
    else:
        m = np.asarray(mu, dtype=np.float64)
        bad = bool(((m < 0) | (m > 1) | ~np.isfinite(m)).any())
    if bad:
        raise InputError(f"mu must be in [0, 1], got {mu!r}")
    return mu * a + (1 - mu) * b
