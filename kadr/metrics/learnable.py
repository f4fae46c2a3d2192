"""``LearnableMix``: an input-dependent convex mix of scores or losses, μ = σ(Wx + b)."""

from __future__ import annotations

import torch
from torch import nn

from kadr.errors import InputError, ShapeError
from kadr.metrics.functional.mix import mix


class LearnableMix(nn.Module):
    """Mix ``n_terms`` scores/losses with weights predicted from an input ``x``.

    Two terms: ``μ = σ(W x + b)`` (one gate), ``out = μ·t₀ + (1 − μ)·t₁`` (:func:`mix`).
    More terms are mixed recursively, each level with its own gate:
    ``out = mix(t₀, mix(t₁, mix(t₂, …)), μ₀)``, so the effective weights are
    μ₀, (1−μ₀)μ₁, (1−μ₀)(1−μ₁)μ₂, … and always sum to 1. The module's output can itself be a
    term of another ``LearnableMix`` (trees of mixes).

    ``forward(x (B, in_features), *terms)`` with each term of shape (B,) (or broadcastable)
    returns (B,); the gates of the last call are kept in ``last_mu`` (B, n_terms − 1).
    The gates start at μ = 0.5 (zero weights and bias) unless ``init_mu`` says otherwise.
    """

    def __init__(self, in_features: int, n_terms: int = 2, *, init_mu: float = 0.5):
        super().__init__()
        if int(in_features) < 1:
            raise InputError(f"in_features must be >= 1, got {in_features!r}")
        if int(n_terms) < 2:
            raise InputError(f"n_terms must be >= 2 (there is nothing to mix otherwise), got {n_terms!r}")
        if not 0 < init_mu < 1:
            raise InputError(f"init_mu must be in (0, 1), got {init_mu!r}")
        self.n_terms = int(n_terms)
        self.gate = nn.Linear(int(in_features), self.n_terms - 1)
        nn.init.zeros_(self.gate.weight)
        nn.init.constant_(self.gate.bias, float(torch.logit(torch.tensor(init_mu))))
        self.last_mu: torch.Tensor | None = None

    def forward(self, x: torch.Tensor, *terms: torch.Tensor) -> torch.Tensor:
        if len(terms) != self.n_terms:
            raise InputError(f"LearnableMix was built for {self.n_terms} terms, got {len(terms)}")
        if x.ndim != 2 or x.shape[1] != self.gate.in_features:
            raise ShapeError(f"x must be (B, {self.gate.in_features}), got {tuple(x.shape)}")
        mu = torch.sigmoid(self.gate(x))  # (B, n_terms - 1)
        self.last_mu = mu.detach()
        out = terms[-1]
        for i in range(self.n_terms - 2, -1, -1):
            out = mix(terms[i], out, mu[:, i])
        return out

    def weights(self, x: torch.Tensor) -> torch.Tensor:
        """Effective weight of each term (B, n_terms); rows sum to 1."""
        mu = torch.sigmoid(self.gate(x))
        rest = torch.ones_like(mu[:, :1])
        cols = []
        for i in range(self.n_terms - 1):
            cols.append(rest * mu[:, i:i + 1])
            rest = rest * (1 - mu[:, i:i + 1])
        return torch.cat(cols + [rest], 1)
