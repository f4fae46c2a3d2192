"""Vector metrics: row-wise cosine / dot / L1 / L2 and their pairwise (A×B) forms, plus a
chunked cosine top-k search.

Row-wise functions take numpy or torch ``(D,)`` (one pair → float) or ``(N, D)`` (→ N
values; a single row broadcasts against N rows). Pairwise functions take ``A (n, D)`` and
``B (m, D)`` and return an ``(n, m)`` matrix (numpy in → numpy out), computed ``chunk`` rows
of A at a time so the working memory beyond the output is O(chunk · m).
Differentiable (torch input): all but :func:`topk_cosine`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from kadr._compat import renamed_kwarg
from kadr._checks import check_choice
from kadr.errors import InputError, ShapeError
from kadr.metrics.functional._inputs import as_matrix, vector_out, vector_pair

#: rows of A per block in pairwise forms (working memory ≈ chunk × m floats)
DEFAULT_CHUNK = 4096
EPS = 1e-12


def _normalise(x: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    return x / x.norm(dim=-1, keepdim=True).clamp(min=eps)


def cosine_similarity(a: Any, b: Any, *, eps: float = EPS):
    """``cos(a, b) = a·b / (‖a‖ ‖b‖)`` row-wise; a zero vector gives 0. Range [-1, 1]."""
    p = vector_pair(a, b)
    return vector_out((_normalise(p.x, eps) * _normalise(p.y, eps)).sum(-1), p)


def dot(a: Any, b: Any):
    """Inner product ``a·b`` row-wise (equals cosine for L2-normalised embeddings)."""
    p = vector_pair(a, b)
    return vector_out((p.x * p.y).sum(-1), p)


def l1_distance(a: Any, b: Any):
    """``Σ |a_i - b_i|`` row-wise. Range [0, ∞)."""
    p = vector_pair(a, b)
    return vector_out((p.x - p.y).abs().sum(-1), p)


def l2_distance(a: Any, b: Any):
    """Euclidean distance ``‖a - b‖₂`` row-wise. Range [0, ∞)."""
    p = vector_pair(a, b)
    return vector_out((p.x - p.y).norm(dim=-1), p)


def _two_matrices(a: Any, b: Any, chunk: int, names: tuple[str, str] = ("A", "B")
                  ) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """(n, D) and (m, D) tensors of a common float dtype, and whether both came as numpy."""
    if not isinstance(chunk, (int, np.integer)) or chunk < 1:
        raise InputError(f"chunk must be a positive integer, got {chunk!r}")
    x, _, n1 = as_matrix(a, names[0])
    y, _, n2 = as_matrix(b, names[1])
    if x.shape[1] != y.shape[1]:
        raise ShapeError(f"{names[0]} and {names[1]} have different dimensions {x.shape[1]} vs {y.shape[1]}")
    dtype = torch.promote_types(x.dtype, y.dtype)
    return x.to(dtype), y.to(dtype), n1 and n2


def _blocks(x: torch.Tensor, y: torch.Tensor, chunk: int, fn) -> torch.Tensor:
    return torch.cat([fn(x[i:i + chunk], y) for i in range(0, x.shape[0], chunk)]) if x.shape[0] else \
        x.new_zeros((0, y.shape[0]))


def pairwise_cosine(a: Any, b: Any, *, chunk: int = DEFAULT_CHUNK, eps: float = EPS):
    """All-pairs cosine similarity ``S[i, j] = cos(A_i, B_j)``, shape (n, m)."""
    x, y, numpy = _two_matrices(a, b, chunk)
    yn = _normalise(y, eps)
    out = _blocks(x, yn, chunk, lambda xa, yb: _normalise(xa, eps) @ yb.T)
    return out.detach().numpy() if numpy else out


def pairwise_distance(a: Any, b: Any, *, metric: str = "l2", chunk: int = DEFAULT_CHUNK):
    """All-pairs distances (n, m): ``"l2"`` Euclidean (via ‖a‖² + ‖b‖² − 2a·b, clamped at 0),
    ``"l1"`` city-block, or ``"dot"`` inner products (a similarity)."""
    check_choice(metric, "metric", ("l2", "l1", "dot"))
    x, y, numpy = _two_matrices(a, b, chunk)
    if metric == "dot":
        fn = lambda xa, yb: xa @ yb.T  # noqa: E731
    elif metric == "l2":
        y2 = (y * y).sum(-1)
        fn = lambda xa, yb: ((xa * xa).sum(-1, keepdim=True) + y2 - 2 * xa @ yb.T).clamp(min=0).sqrt()  # noqa: E731
    else:
        fn = lambda xa, yb: torch.cdist(xa, yb, p=1)  # noqa: E731
    out = _blocks(x, y, chunk, fn)
    return out.detach().numpy() if numpy else out


@renamed_kwarg(normalized="normalised")
def topk_cosine(queries: Any, database: Any, k: int, *, chunk: int = 16384, normalised: bool = False,
                eps: float = EPS) -> tuple[Any, Any]:
    """The ``k`` most cosine-similar database rows for each query.

    queries (q, D), database (m, D) → ``(scores (q, k), indices (q, k))``, best first (numpy
    in → numpy out). The database is scanned ``chunk`` rows at a time, keeping a running top-k,
    so memory is O(q · (chunk + k)) whatever m is. ``normalised=True`` skips re-normalising
    rows that are already L2-normalised (kadr embeddings are). Not differentiable.
    """
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise InputError(f"k must be a positive integer, got {k!r}")
    q, db, numpy = _two_matrices(queries, database, chunk, ("queries", "database"))
    m = db.shape[0]
    k = min(int(k), m)
    if k == 0:
        raise InputError("the database is empty")
    with torch.no_grad():
        qn = q if normalised else _normalise(q, eps)
        best_s = qn.new_full((q.shape[0], 0), -float("inf"))
        best_i = torch.zeros((q.shape[0], 0), dtype=torch.long)
        buf = qn.new_empty((q.shape[0], min(chunk, m)))  # reused: no fresh pages per block
        for start in range(0, m, chunk):
            block = db[start:start + chunk]
            if not normalised:
                block = _normalise(block, eps)
            if block.shape[0] == buf.shape[1]:
                s = torch.mm(qn, block.T, out=buf)
            else:
                s = qn @ block.T
            kk = min(k, s.shape[1])
            ts, ti = s.topk(kk, dim=1)
            cand_s = torch.cat([best_s, ts], 1)
            cand_i = torch.cat([best_i, ti + start], 1)
            keep = cand_s.topk(min(k, cand_s.shape[1]), dim=1)
            best_s = keep.values
            best_i = cand_i.gather(1, keep.indices)
    if numpy:
        return best_s.numpy(), best_i.numpy()
    return best_s, best_i
