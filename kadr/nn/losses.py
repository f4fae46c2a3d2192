"""Losses that are themselves comparison methods. Each is a pure function of tensors with the
formula and its paper; :class:`DinoCentre`, :func:`ema_update` and :class:`LossMix` are the
small stateful helpers around them.

Shapes: embeddings (N, D); logits (N, C); targets (N,) class indices. All losses return a
scalar (mean over the batch) and are differentiable in their inputs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from kadr.errors import InputError, ShapeError


def _tensor2(x, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise InputError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim != 2 or x.shape[0] < 1:
        raise ShapeError(f"{name} must be 2-D (N, D), got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise InputError(f"{name} must be floating point, got {x.dtype}")
    if bool(torch.isnan(x).any()):
        raise InputError(f"{name} contains NaN")
    return x


def _pair(a, b, names: tuple[str, str]) -> tuple[torch.Tensor, torch.Tensor]:
    a, b = _tensor2(a, names[0]), _tensor2(b, names[1])
    if a.shape != b.shape:
        raise ShapeError(f"{names[0]} {tuple(a.shape)} and {names[1]} {tuple(b.shape)} must have the same shape")
    return a, b


def _positive(value, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number > 0, got {value!r}") from None
    if not v > 0 or v == float("inf"):
        raise InputError(f"{name} must be a finite number > 0, got {value!r}")
    return v


def info_nce(query: torch.Tensor, positive: torch.Tensor, *, temperature: float = 0.05) -> torch.Tensor:
    """InfoNCE with in-batch negatives, the SimCSE form (Gao et al. 2021, eq. 1; van den Oord et al. 2018).

        ℓ_i = −log [ exp(sim(q_i, p_i)/τ) / Σ_j exp(sim(q_i, p_j)/τ) ],  sim = cosine,

    averaged over the batch: query row i's positive is positive row i, every other positive row
    is a negative. query, positive: (N, D); τ = ``temperature`` > 0 (SimCSE uses 0.05).
    """
    q, p = _pair(query, positive, ("query", "positive"))
    tau = _positive(temperature, "temperature")
    logits = F.normalize(q, dim=-1) @ F.normalize(p, dim=-1).t() / tau
    return F.cross_entropy(logits, torch.arange(q.shape[0], device=q.device))


def siglip_loss(image_emb: torch.Tensor, text_emb: torch.Tensor, *, t, b) -> torch.Tensor:
    """Pairwise sigmoid loss of SigLIP (Zhai et al. 2023, Algorithm 1).

        z_ij = t · x̂_i · ŷ_j + b,   ℓ = −(1/n) Σ_i Σ_j log σ(l_ij · z_ij),   l_ij = 1 if i = j else −1,

    with x̂, ŷ the L2-normalised embeddings (N, D). ``t`` is the multiplicative scale (= exp of
    the learnable log-scale t', the paper starts at t' = log 10) and ``b`` the bias (paper: −10);
    both may be floats or learnable 0-d tensors.
    """
    x, y = _pair(image_emb, text_emb, ("image_emb", "text_emb"))
    t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
    b = torch.as_tensor(b, dtype=x.dtype, device=x.device)
    if t.numel() != 1 or b.numel() != 1:
        raise ShapeError("t and b must be scalars")
    if not bool(t > 0):
        raise InputError(f"t (the scale, exp of the log-scale) must be > 0, got {float(t)}")
    n = x.shape[0]
    logits = t * (F.normalize(x, dim=-1) @ F.normalize(y, dim=-1).t()) + b
    labels = 2 * torch.eye(n, dtype=x.dtype, device=x.device) - 1
    return -F.logsigmoid(labels * logits).sum() / n


def _dino_pair(s: torch.Tensor, t: torch.Tensor, centre: torch.Tensor, st: float, tt: float) -> torch.Tensor:
    teacher = F.softmax((t.detach() - centre) / tt, dim=-1)
    return -(teacher * F.log_softmax(s / st, dim=-1)).sum(-1).mean()


def dino_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, centre: torch.Tensor, *,
              student_temp: float = 0.1, teacher_temp: float = 0.04) -> torch.Tensor:
    """DINO's centred, sharpened cross-entropy (Caron et al. 2021, Algorithm 1).

        P_t = softmax((t − c)/τ_t) (no gradient),  P_s = softmax(s/τ_s),  H = −Σ_k P_t,k log P_s,k,

    averaged over the batch. Shapes (N, K) for one pair of views; or (V_s, N, K) student and
    (V_t, N, K) teacher views, in which case H is averaged over all pairs (v_t, v_s) with
    v_t ≠ v_s (the multi-crop form: the teacher's global views are the first V_t student views).
    ``centre`` (K,) or (1, K) is the running mean of teacher logits (see :class:`DinoCentre`).
    """
    st, tt = _positive(student_temp, "student_temp"), _positive(teacher_temp, "teacher_temp")
    for v, name in ((student_logits, "student_logits"), (teacher_logits, "teacher_logits")):
        if not isinstance(v, torch.Tensor) or v.ndim not in (2, 3):
            raise ShapeError(f"{name} must be a (N, K) or (views, N, K) tensor")
        if bool(torch.isnan(v).any()):
            raise InputError(f"{name} contains NaN")
    if not isinstance(centre, torch.Tensor):
        raise InputError("centre must be a tensor (K,) or (1, K); see kadr.nn.DinoCentre")
    s, t = student_logits, teacher_logits
    if s.ndim != t.ndim or s.shape[-2:] != t.shape[-2:]:
        raise ShapeError(f"student {tuple(s.shape)} and teacher {tuple(t.shape)} logits must agree in (N, K)")
    if centre.shape[-1] != s.shape[-1] or centre.numel() != s.shape[-1]:
        raise ShapeError(f"centre must have {s.shape[-1]} entries, got shape {tuple(centre.shape)}")
    centre = centre.reshape(-1)
    if s.ndim == 2:
        return _dino_pair(s, t, centre, st, tt)
    terms = [_dino_pair(s[vs], t[vt], centre, st, tt)
             for vt in range(t.shape[0]) for vs in range(s.shape[0]) if vs != vt]
    if not terms:
        raise ShapeError("multi-view dino_loss needs at least one student view different from each teacher view")
    return torch.stack(terms).mean()


class DinoCentre(nn.Module):
    """The running centre of DINO's teacher outputs: c ← m·c + (1 − m)·mean_batch(t).

    ``centre`` is a (1, dim) buffer starting at 0 (Caron et al. 2021, Algorithm 1, m = 0.9).
    ``update(teacher_logits)`` accepts (N, dim) or (V, N, dim) and returns the new centre.
    """

    def __init__(self, dim: int, momentum: float = 0.9):
        super().__init__()
        if isinstance(dim, bool) or int(dim) != dim or dim < 1:
            raise InputError(f"dim must be a positive integer, got {dim!r}")
        if not 0 <= float(momentum) < 1:
            raise InputError(f"momentum must be in [0, 1), got {momentum!r}")
        self.momentum = float(momentum)
        self.register_buffer("centre", torch.zeros(1, int(dim)))

    @torch.no_grad()
    def update(self, teacher_logits: torch.Tensor) -> torch.Tensor:
        t = teacher_logits.detach()
        if t.shape[-1] != self.centre.shape[-1]:
            raise ShapeError(f"teacher logits must end in {self.centre.shape[-1]}, got {tuple(t.shape)}")
        mean = t.reshape(-1, t.shape[-1]).mean(0, keepdim=True).to(self.centre.dtype)
        self.centre.mul_(self.momentum).add_(mean, alpha=1 - self.momentum)
        return self.centre

    def forward(self) -> torch.Tensor:
        return self.centre


@torch.no_grad()
def ema_update(teacher: nn.Module, student: nn.Module, momentum: float) -> None:
    """θ_t ← m·θ_t + (1 − m)·θ_s for every parameter (DINO Algorithm 1; BYOL; mean teacher).

    Buffers (e.g. batch-norm statistics) are copied from the student. The two modules must have
    the same parameter names and shapes.
    """
    if not 0 <= float(momentum) <= 1:
        raise InputError(f"momentum must be in [0, 1], got {momentum!r}")
    tp, sp = dict(teacher.named_parameters()), dict(student.named_parameters())
    if tp.keys() != sp.keys() or any(tp[k].shape != sp[k].shape for k in tp):
        raise ShapeError("teacher and student must have the same parameters (names and shapes)")
    m = float(momentum)
    for k, p in tp.items():
        p.mul_(m).add_(sp[k].detach().to(p.dtype), alpha=1 - m)
    sb = dict(student.named_buffers())
    for k, b in teacher.named_buffers():
        if k in sb and sb[k].shape == b.shape:
            b.copy_(sb[k])


def kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, *, temperature: float = 4.0) -> torch.Tensor:
    """Knowledge distillation (Hinton et al. 2015): T² · KL(softmax(t/T) ‖ softmax(s/T)).

    Averaged over the batch; the T² factor keeps gradient magnitudes comparable across T.
    The teacher is not detached: pass ``teacher_logits.detach()`` for the usual frozen teacher.
    """
    s, t = _pair(student_logits, teacher_logits, ("student_logits", "teacher_logits"))
    tau = _positive(temperature, "temperature")
    return F.kl_div(F.log_softmax(s / tau, -1), F.log_softmax(t / tau, -1), reduction="batchmean",
                    log_target=True) * tau * tau


def gce_loss(logits: torch.Tensor, target: torch.Tensor, *, tau: float) -> torch.Tensor:
    """The generalised cross-entropy family Φ1^τ (Mao, Mohri, Zhong 2023, arXiv 2304.07288, eq. 2).

        u = Σ_{y' ≠ y} exp(h_{y'} − h_y),   Φ1^τ = log(1 + u) (τ = 1),  ((1 + u)^{1−τ} − 1)/(1 − τ) (τ ≠ 1)

    τ = 1 is the cross-entropy, τ = 0 the sum-exponential loss, τ = 2 is 1 − p_y (MAE-like).
    Computed stably as log(1 + u) = logsumexp(h) − h_y and expm1((1 − τ)·CE)/(1 − τ).
    logits (N, C), target (N,) integer classes; returns the batch mean. τ ≥ 0.
    """
    h = _tensor2(logits, "logits")
    if not isinstance(target, torch.Tensor) or target.ndim != 1 or target.shape[0] != h.shape[0]:
        raise ShapeError(f"target must be a 1-D tensor of {h.shape[0]} class indices")
    if target.is_floating_point() or (target.numel() and (int(target.min()) < 0 or int(target.max()) >= h.shape[1])):
        raise InputError(f"target must hold integer classes in [0, {h.shape[1] - 1}]")
    try:
        tau = float(tau)
    except (TypeError, ValueError):
        raise InputError(f"tau must be a number >= 0, got {tau!r}") from None
    if not 0 <= tau < float("inf"):
        raise InputError(f"tau must be a finite number >= 0, got {tau!r}")
    ce = torch.logsumexp(h, -1) - h.gather(1, target.long().unsqueeze(1)).squeeze(1)
    if tau == 1:
        return ce.mean()
    return (torch.expm1((1 - tau) * ce) / (1 - tau)).mean()


class LossMix(nn.Module):
    """The recursive learnable mix of n losses:

        L = (1 − β1)·L1 + β1·((1 − β2)·L2 + β2·(… (1 − β_{n−1})·L_{n−1} + β_{n−1}·L_n)),  β_i = σ(w_i)

    so the effective weights (1 − β1), β1(1 − β2), … always sum to 1. ``w`` starts at 0
    (β = ½) unless ``init`` (n − 1 values of β) says otherwise. ``forward(*losses)`` takes n scalar
    (or same-shape) losses. This is the input-free form of :class:`kadr.metrics.LearnableMix`
    (whose gates depend on an input x); kadr.nn sits below kadr.metrics in the layers and so
    keeps its own few lines instead of importing it.
    Note: minimising L over β alone moves the weight to the smallest loss; train β with care
    (a separate, slower optimiser, or fixed β for a schedule).
    """

    def __init__(self, n: int, *, init: list[float] | None = None):
        super().__init__()
        if isinstance(n, bool) or int(n) != n or n < 2:
            raise InputError(f"n must be an integer >= 2 (there is nothing to mix otherwise), got {n!r}")
        self.n = int(n)
        if init is None:
            w = torch.zeros(self.n - 1)
        else:
            beta = torch.as_tensor(init, dtype=torch.float32)
            if beta.shape != (self.n - 1,) or not bool(((beta > 0) & (beta < 1)).all()):
                raise InputError(f"init must be {self.n - 1} values in (0, 1), got {init!r}")
            w = torch.logit(beta)
        self.w = nn.Parameter(w)

    @property
    def beta(self) -> torch.Tensor:
        return torch.sigmoid(self.w)

    def weights(self) -> torch.Tensor:
        """Effective weight of each loss (n,), summing to 1."""
        beta = self.beta
        rest = torch.cumprod(torch.cat([beta.new_ones(1), beta]), 0)  # Π_{j<i} β_j
        return rest * torch.cat([1 - beta, beta.new_ones(1)])

    def forward(self, *losses: torch.Tensor) -> torch.Tensor:
        if len(losses) != self.n:
            raise InputError(f"LossMix was built for {self.n} losses, got {len(losses)}")
        beta = self.beta
        out = losses[-1]
        for i in range(self.n - 2, -1, -1):
            out = (1 - beta[i]) * losses[i] + beta[i] * out
        return out
