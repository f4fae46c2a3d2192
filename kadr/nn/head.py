"""Comparison heads: a small learned map applied to encoder embeddings before cosine similarity.

    h(e) = normalise(e + U · g(V e))          V: (r, D), U: (D, r), U = 0 at the start

``g`` is the identity (``kind="linear"``: a rank-r residual projection) or a
:class:`kadr.nn.KANLinear` r → r (``kind="kan"``). U starts at zero, so an untrained head
is exactly the plain cosine of the encoder. :func:`train_head` fits it with
:func:`kadr.nn.losses.info_nce`: row i of ``anchor`` and of ``positive`` are two views of one
item (two augmentations of frames of one shot), the other rows of the batch are negatives; a
batch never holds two rows of the same group (``groups``), so no positive is used as a negative.

Saved heads (:meth:`ComparisonHead.save`) are torch files holding the configuration, weights
and a free-form ``info`` dict (the encoder they were trained for, the data, the held-out score).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from kadr.errors import InputError, ModelLoadError, OutputError, ShapeError
from kadr.nn.kan import KANLinear
from kadr.nn.losses import info_nce

KINDS = ("linear", "kan")


class ComparisonHead(nn.Module):
    """Residual low-rank head over D-dim embeddings (see module doc). Input (N, D) → (N, D), rows unit norm."""

    def __init__(self, dim: int, *, rank: int = 32, kind: str = "linear", info: dict | None = None):
        super().__init__()
        if isinstance(dim, bool) or int(dim) != dim or dim < 1 or isinstance(rank, bool) or int(rank) != rank or rank < 1:
            raise InputError(f"dim and rank must be positive integers, got {dim!r}, {rank!r}")
        if kind not in KINDS:
            raise InputError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
        self.dim, self.rank, self.kind = int(dim), int(rank), kind
        self.info = dict(info or {})
        self.down = nn.Linear(self.dim, self.rank, bias=False)
        nn.init.normal_(self.down.weight, std=1 / np.sqrt(self.dim))
        self.mid = KANLinear(self.rank, self.rank, grid_range=(-2.0, 2.0)) if kind == "kan" else nn.Identity()
        self.up = nn.Linear(self.rank, self.dim, bias=False)
        nn.init.zeros_(self.up.weight)

    def forward(self, e: torch.Tensor) -> torch.Tensor:
        if e.ndim != 2 or e.shape[1] != self.dim:
            raise ShapeError(f"embeddings must be (N, {self.dim}), got {tuple(e.shape)}")
        z = self.down(e) * np.sqrt(self.dim)  # unit-norm rows → O(1) coordinates
        return F.normalize(e + self.up(self.mid(z)), dim=-1)

    @torch.no_grad()
    def transform(self, embeddings: np.ndarray) -> np.ndarray:
        """numpy (N, D) → float32 (N, D) L2-normalised, for kadr's embedding arrays."""
        e = np.asarray(embeddings, dtype=np.float32)
        if e.ndim != 2 or e.shape[1] != self.dim:
            raise ShapeError(f"embeddings must be (N, {self.dim}) for this head, got {e.shape}; "
                             f"it was trained for encoder {self.info.get('encoder', '?')!r}")
        if not e.shape[0]:
            return e
        return self.eval()(torch.from_numpy(e)).numpy().astype(np.float32)

    def save(self, path: str | os.PathLike) -> str:
        p = os.fspath(path)
        try:
            torch.save({"format": "kadr.nn.ComparisonHead/1", "dim": self.dim, "rank": self.rank, "kind": self.kind,
                        "info": self.info, "state": self.state_dict()}, p)
        except OSError as exc:
            raise OutputError(f"cannot write head {p!r}: {exc}") from None
        return p

    @classmethod
    def load(cls, path: str | os.PathLike) -> "ComparisonHead":
        p = os.fspath(path)
        if not os.path.isfile(p):
            raise ModelLoadError(f"head file not found: {p!r}; train one with benchmarks/nn_head.py --save PATH")
        try:
            blob = torch.load(p, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad file
            raise ModelLoadError(f"{p!r} is not a kadr comparison head: {exc}") from None
        if not isinstance(blob, dict) or blob.get("format") != "kadr.nn.ComparisonHead/1":
            raise ModelLoadError(f"{p!r} is not a kadr comparison head (format tag missing)")
        head = cls(blob["dim"], rank=blob["rank"], kind=blob["kind"], info=blob.get("info"))
        head.load_state_dict(blob["state"])
        return head.eval()


def train_head(anchor: np.ndarray | torch.Tensor, positive: np.ndarray | torch.Tensor, groups: Any, *,
               rank: int = 32, kind: str = "linear", temperature: float = 0.05, steps: int = 300,
               batch_size: int = 64, lr: float = 1e-3, weight_decay: float = 1e-4, seed: int = 0,
               info: dict | None = None) -> ComparisonHead:
    """Fit a :class:`ComparisonHead` with InfoNCE on pairs of views.

    anchor, positive: (N, D) embeddings, row i of each a view of item i; groups: (N,) ids (shot
    ids): rows of one group are never in a batch together, so every in-batch negative is a
    different group. Each step draws up to ``batch_size`` groups and one random row of each.
    Adam with weight decay; returns the head in eval mode.
    """
    a = torch.as_tensor(np.asarray(anchor, dtype=np.float32))
    p = torch.as_tensor(np.asarray(positive, dtype=np.float32))
    g = np.asarray(groups)
    if a.ndim != 2 or a.shape != p.shape or g.shape != (a.shape[0],):
        raise ShapeError(f"anchor and positive must be the same (N, D) and groups (N,); got {tuple(a.shape)}, "
                         f"{tuple(p.shape)}, {g.shape}")
    if not (torch.isfinite(a).all() and torch.isfinite(p).all()):
        raise InputError("embeddings contain NaN or inf")
    uniq = np.unique(g)
    if len(uniq) < 2:
        raise InputError("train_head needs at least 2 groups (shots): negatives come from other groups")
    rows_of = [np.nonzero(g == u)[0] for u in uniq]
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    head = ComparisonHead(a.shape[1], rank=rank, kind=kind, info=info)
    opt = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=weight_decay)
    head.train()
    for _ in range(int(steps)):
        chosen = rng.choice(len(uniq), size=min(batch_size, len(uniq)), replace=False)
        idx = np.array([rng.choice(rows_of[c]) for c in chosen])
        swap = rng.random(len(idx)) < 0.5  # both directions of each pair
        qa, qp = a[idx], p[idx]
        s = torch.from_numpy(swap)
        q = torch.where(s[:, None], qp, qa)
        k = torch.where(s[:, None], qa, qp)
        loss = info_nce(head(q), head(k), temperature=temperature)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return head.eval()
