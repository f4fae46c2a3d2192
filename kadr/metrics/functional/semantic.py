"""Semantic scores on embeddings: CLIPScore, cosine distance and ViTScore on token sets."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch

from kadr._checks import check_positive
from kadr.errors import InputError, ShapeError
from kadr.metrics.functional._inputs import from_numpy, vector_out, vector_pair
from kadr.metrics.functional.vectors import EPS, _normalise

#: Hessel et al. 2021 (EMNLP), "CLIPScore: A Reference-free Evaluation Metric for Image
#: Captioning", Sec. 3: CLIP-S(c, v) = w · max(cos(c, v), 0) with w = 2.5.
CLIP_SCORE_W = 2.5


def clip_score(image_emb: Any, text_emb: Any, *, w: float = CLIP_SCORE_W):
    """CLIPScore ``w · max(cos(image, text), 0)`` row-wise (Hessel et al. 2021), w = 2.5.
    Range [0, w]. Shapes (D,) → float or (N, D) → N values. Differentiable."""
    check_positive(w, "w")
    p = vector_pair(image_emb, text_emb)
    cos = (_normalise(p.x, EPS) * _normalise(p.y, EPS)).sum(-1)
    return vector_out(w * cos.clamp(min=0), p)


def cosine_distance(a: Any, b: Any):
    """``d = 1 − cos(a, b)`` row-wise (the distance form of CLIP-style similarity). Range [0, 2]."""
    p = vector_pair(a, b)
    return vector_out(1 - (_normalise(p.x, EPS) * _normalise(p.y, EPS)).sum(-1), p)


class TokenScore(NamedTuple):
    """ViTScore result: greedy-matching precision, recall and F1 (floats or (N,) values)."""

    precision: Any
    recall: Any
    f1: Any


def _tokens(v: Any, name: str) -> tuple[torch.Tensor, bool, bool]:
    numpy = not isinstance(v, torch.Tensor)
    t = from_numpy(np.asarray(v)) if numpy else v
    if t.ndim not in (2, 3):
        raise ShapeError(f"{name} must be a token set (T, D) or a batch (N, T, D), got shape {tuple(t.shape)}")
    if t.shape[-2] == 0:
        raise InputError(f"{name} has no tokens")
    if not t.is_floating_point():
        t = t.to(torch.float32)
    if not bool(torch.isfinite(t).all()):
        raise InputError(f"{name} contains NaN or infinite values")
    single = t.ndim == 2
    return (t[None] if single else t), single, numpy


def vit_score(candidate: Any, reference: Any) -> TokenScore:
    r"""ViTScore: BERTScore's greedy matching (Zhang et al. 2020, ICLR, eq. 1–3) applied to
    ViT patch/token embeddings (Zhu et al. 2023, "ViTScore")::

        R = 1/|ref|  Σ_{r ∈ ref}  max_{c ∈ cand} cos(r, c)
        P = 1/|cand| Σ_{c ∈ cand} max_{r ∈ ref}  cos(r, c)
        F = 2 R P / (R + P)

    candidate (Tc, D) and reference (Tr, D) token sets (counts may differ), or batches
    (N, Tc, D) / (N, Tr, D); numpy in → floats / arrays, torch in → tensors. Range [-1, 1] (F is 0 when R + P = 0). Differentiable
    (almost everywhere, through the max).
    """
    c, s1, n1 = _tokens(candidate, "candidate")
    r, s2, n2 = _tokens(reference, "reference")
    if c.shape[-1] != r.shape[-1] or c.shape[0] != r.shape[0]:
        raise ShapeError(f"candidate {tuple(c.shape)} and reference {tuple(r.shape)} must have the same "
                         "embedding size (and batch size)")
    dtype = torch.promote_types(c.dtype, r.dtype)
    sim = _normalise(r.to(dtype), EPS) @ _normalise(c.to(dtype), EPS).transpose(1, 2)  # (N, Tr, Tc)
    recall = sim.max(2).values.mean(1)
    precision = sim.max(1).values.mean(1)
    denom = recall + precision
    f1 = torch.where(denom != 0, 2 * recall * precision / torch.where(denom != 0, denom, 1), 0)
    numpy = n1 and n2
    if s1 and s2:
        conv = (lambda t: float(t[0])) if numpy else (lambda t: t[0])
    else:
        conv = (lambda t: t.detach().numpy()) if numpy else (lambda t: t)
    return TokenScore(conv(precision), conv(recall), conv(f1))
