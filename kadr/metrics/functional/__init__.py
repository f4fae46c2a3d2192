"""Pure metric functions (no state, no I/O). See each function's docstring for the formula,
shapes, range and source paper.

Images: numpy HxW / HxWxC (one pair → float) or torch (N,C,H,W) (→ N values).
Vectors: (D,) or (N, D) row-wise; ``pairwise_*`` (n, D) × (m, D) → (n, m).
"""

from kadr.metrics.functional.cka import cka, gram, hsic, minibatch_cka
from kadr.metrics.functional.mix import mix
from kadr.metrics.functional.semantic import CLIP_SCORE_W, TokenScore, clip_score, cosine_distance, vit_score
from kadr.metrics.functional.structural import (
    MS_SSIM_WEIGHTS, SSIMResult, gaussian_window, mae, ms_ssim, ms_ssim_scales, mse, psnr, ssim,
)
from kadr.metrics.functional.vectors import (
    cosine_similarity, dot, l1_distance, l2_distance, pairwise_cosine, pairwise_distance, topk_cosine,
)

__all__ = [
    "cka", "gram", "hsic", "minibatch_cka", "mix", "CLIP_SCORE_W", "TokenScore", "clip_score",
    "cosine_distance", "vit_score", "MS_SSIM_WEIGHTS", "SSIMResult", "gaussian_window", "mae",
    "ms_ssim", "ms_ssim_scales", "mse", "psnr", "ssim", "cosine_similarity", "dot", "l1_distance",
    "l2_distance", "pairwise_cosine", "pairwise_distance", "topk_cosine",
]
