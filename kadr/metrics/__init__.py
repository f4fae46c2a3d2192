"""Comparison metrics: structural (SSIM, MS-SSIM, PSNR...), vector, semantic (CLIPScore,
ViTScore), CKA, mixing, streaming forms and a registry with metadata.

    from kadr import metrics
    metrics.get("ssim")(a, b)                 # callable + .higher_is_better, .range, ...
    metrics.functional.ms_ssim(a, b)          # pure functions
    metrics.streaming.CentredSimilarity(...)  # streaming centred-softmax similarity
"""

from kadr.metrics import functional, streaming
from kadr.metrics.learnable import LearnableMix
from kadr.metrics.registry import INPUT_KINDS, REGISTRY, Metric, get, names

__all__ = ["functional", "streaming", "LearnableMix", "INPUT_KINDS", "REGISTRY", "Metric", "get", "names"]
