"""transformers backends: CLIP, SigLIP and DINOv2 loaded from a local folder (never the hub).

The folder is what ``save_pretrained`` writes: ``config.json``, the weights
(``model.safetensors`` or ``pytorch_model.bin``, possibly sharded), the image processor
(``preprocessor_config.json``, or ``processor_config.json`` as transformers 5 writes it) and, for CLIP/SigLIP, the tokenizer files.

* ``clip:PATH`` (Radford et al., "Learning Transferable Visual Models From Natural
  Language Supervision", ICML 2021): image embedding = projected pooled CLS token;
  text embedding = projected EOS token; zero-shot classification =
  softmax(exp(logit_scale) * cos(image, "a photo of a {label}.")).
* ``siglip:PATH`` (Zhai et al., "Sigmoid Loss for Language Image Pre-Training", ICCV 2023):
  attention-pooled image embedding; text padded to the model's full length as in training;
  zero-shot scores = sigmoid(exp(logit_scale) * cos + logit_bias) (independent per label).
* ``dinov2:PATH`` (Oquab et al., "DINOv2: Learning Robust Visual Features without
  Supervision", 2023): embedding = the final-layer-normed CLS token; no text tower.

``encode_tokens`` returns the vision transformer's last hidden state per image (T, C):
CLIP and DINOv2 put the CLS token (and DINOv2-with-registers its registers) first, then
the patches in row-major order; SigLIP has patch tokens only.
Images are preprocessed by the folder's own image processor (resize, crop, mean/std).
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from kadr._compat import renamed_kwarg
from kadr.errors import InputError, KadrWarning, ModelLoadError
from kadr.features.base import Prediction, batched, check_k, check_texts, l2_normalise, top_predictions
from kadr.features.preprocess import as_rgb_uint8
from kadr.features.runtime import ModelEncoder, package_version, quiet_transformers, require

#: kadr name → model_type values of config.json it accepts, and whether a text tower exists.
KINDS: dict[str, tuple[tuple[str, ...], bool]] = {
    "clip": (("clip",), True),
    "siglip": (("siglip",), True),
    "dinov2": (("dinov2", "dinov2_with_registers"), False),
}
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                "pytorch_model.bin.index.json")
#: The image processor's file: transformers 4 writes preprocessor_config.json; 5.x's
#: Processor.save_pretrained writes processor_config.json (with the image processor nested).
PROCESSOR_FILES = ("preprocessor_config.json", "processor_config.json")
TOKENIZER_FILES = ("tokenizer.json", "vocab.json", "spiece.model", "tokenizer.model")
DEFAULT_PROMPT = "a photo of a {}."


def check_model_folder(kind: str, folder: str | os.PathLike) -> tuple[Path, dict]:
    """Validate a model folder for ``kind``; return (path, config dict). Raises ModelLoadError."""
    path = Path(folder).expanduser()
    hint = f"save one with {kind.upper()}Model.save_pretrained(folder) plus its processor/tokenizer"
    if not path.exists():
        raise ModelLoadError(f"model folder not found: {str(path)!r}; {hint}")
    if not path.is_dir():
        raise ModelLoadError(f"{str(path)!r} is not a folder; give the folder holding config.json and the weights")
    cfg_file = path / "config.json"
    if not cfg_file.is_file():
        raise ModelLoadError(f"{str(path)!r} has no config.json: not a transformers model folder; {hint}")
    try:
        cfg = json.loads(cfg_file.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"{str(cfg_file)!r} is not valid JSON: {exc}") from None
    accepted, _ = KINDS[kind]
    model_type = cfg.get("model_type")
    if model_type in (f"{k}_vision_model" for k in ("clip", "siglip")):
        raise ModelLoadError(f"{str(path)!r} holds only the vision tower of a {model_type.split('_')[0]} model "
                             f"({model_type}): text search and zero-shot labels need its text tower too; save the "
                             f"full model ({model_type.split('_')[0].upper()}Model.save_pretrained) in the folder")
    if model_type not in accepted:
        other = next((k for k, (types, _) in KINDS.items() if model_type in types), None)
        fix = f"use {other}:{path}" if other else f"kadr supports {', '.join(k + ':PATH' for k in KINDS)}"
        raise ModelLoadError(f"{str(path)!r} holds a {model_type!r} model, not {kind}; {fix}")
    if not any((path / f).is_file() for f in WEIGHT_FILES):
        raise ModelLoadError(f"{str(path)!r} has no weights ({' or '.join(WEIGHT_FILES[::2])}); {hint}")
    if not any((path / f).is_file() for f in PROCESSOR_FILES):
        raise ModelLoadError(f"{str(path)!r} has no image processor ({' or '.join(PROCESSOR_FILES)}); "
                             "save it with AutoProcessor.save_pretrained(folder) (or AutoImageProcessor)")
    return path, cfg


def _pooled(out: Any):
    """The embedding of a get_*_features call (a tensor in transformers 4, an output object in 5)."""
    return out if not hasattr(out, "pooler_output") else out.pooler_output


class TransformersEncoder(ModelEncoder):
    """A CLIP / SigLIP / DINOv2 model from a local folder (see the module docstring)."""

    supports_tokens = True
    default_batch_size = 16
    auto_backend = "torch"

    def __init__(self, kind: str, folder: str | os.PathLike, *, backend: str = "auto", threads: int = 0,
                 prompt: str = DEFAULT_PROMPT):
        super().__init__(backend=backend, threads=threads)
        if "{}" not in prompt:
            raise InputError(f"prompt must contain '{{}}' where the label goes, got {prompt!r}")
        self.kind = kind
        self.path, _ = check_model_folder(kind, folder)
        self.name = f"{kind}:{self.path}"
        self.supports_text = self.supports_classify = KINDS[kind][1]
        self.prompt = prompt
        transformers = require("transformers")
        with quiet_transformers():
            self._load_parts(transformers)
        self.dim = self._embedding_dim()

    def _load_parts(self, transformers: Any) -> None:
        kind = self.kind
        try:
            self.model = transformers.AutoModel.from_pretrained(str(self.path), local_files_only=True).eval()
        except Exception as exc:  # transformers raises OSError/ValueError/KeyError… for broken folders
            raise ModelLoadError(f"cannot load the {kind} model in {str(self.path)!r}: {exc}") from None
        try:
            self.processor = transformers.AutoImageProcessor.from_pretrained(str(self.path), local_files_only=True)
        except Exception as exc:
            raise ModelLoadError(f"cannot load the image processor in {str(self.path)!r}: {exc}") from None

        self.tokenizer = None
        if self.supports_text:
            if not any((self.path / f).is_file() for f in TOKENIZER_FILES):
                # transformers 5 would build an empty tokenizer from config.json alone: refuse instead
                raise ModelLoadError(f"{str(self.path)!r} has no tokenizer ({' or '.join(TOKENIZER_FILES)}); save it "
                                     "with AutoTokenizer.save_pretrained(folder)")
            try:
                self.tokenizer = transformers.AutoTokenizer.from_pretrained(str(self.path), local_files_only=True)
            except Exception as exc:
                raise ModelLoadError(f"cannot load the tokenizer in {str(self.path)!r} (vocab.json + merges.txt, "
                                     f"tokenizer.json or spiece.model expected): {exc}") from None

    def _embedding_dim(self) -> int:
        c = self.model.config
        if self.kind == "clip":
            return int(c.projection_dim)
        if self.kind == "siglip":
            return int(c.vision_config.hidden_size)
        return int(c.hidden_size)

    # -- ModelEncoder ------------------------------------------------------------------
    def build_module(self):
        from torch import nn

        kind, model = self.kind, self.model

        class ImageTower(nn.Module):
            def __init__(self):
                super().__init__()
                self.model = model

            def forward(self, pixel_values):
                if kind == "dinov2":
                    return self.model(pixel_values=pixel_values).pooler_output
                return _pooled(self.model.get_image_features(pixel_values=pixel_values))

        return ImageTower().eval()

    def preprocess(self, images: list[np.ndarray]) -> np.ndarray:
        rgb = [as_rgb_uint8(im) for im in images]
        return np.asarray(self.processor(images=rgb, return_tensors="np")["pixel_values"], np.float32)

    def cache_key(self) -> str:
        stamps = [f"{f}:{(self.path / f).stat().st_mtime_ns}" for f in WEIGHT_FILES if (self.path / f).is_file()]
        return "|".join([self.kind, str(self.path.resolve()), *stamps, package_version("transformers"),
                         package_version("torch"), package_version("kadr")])

    # -- tokens, text, zero-shot -------------------------------------------------------
    def encode_tokens(self, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        import torch

        vision = self.model if self.kind == "dinov2" else self.model.vision_model
        out: list[np.ndarray] = []
        for b in batched(images, self.default_batch_size):
            with torch.inference_mode():
                hidden = vision(pixel_values=torch.from_numpy(self.preprocess(b))).last_hidden_state
            out.extend(h.float().numpy() for h in hidden)
        return out

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        if not self.supports_text:
            return super().encode_text(texts)
        import torch

        texts = check_texts(texts)
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        max_len = int(self.model.config.text_config.max_position_embeddings)
        n_tok = [len(x) for x in self.tokenizer(texts, truncation=False)["input_ids"]]
        if max(n_tok) > max_len:
            warnings.warn(f"{sum(n > max_len for n in n_tok)} text(s) longer than {max_len} tokens were truncated "
                          f"to the first {max_len} ({self.kind}'s text limit)", KadrWarning, stacklevel=2)
        padding = "max_length" if self.kind == "siglip" else True  # SigLIP was trained on padded text
        tok = self.tokenizer(list(texts), padding=padding, truncation=True, max_length=max_len, return_tensors="pt")
        # SigLIP pools the last position of the fully padded text, without an attention mask (as trained)
        keys = ("input_ids",) if self.kind == "siglip" else ("input_ids", "attention_mask")
        with torch.inference_mode():
            feats = _pooled(self.model.get_text_features(**{k: v for k, v in tok.items() if k in keys}))
        return l2_normalise(feats.float().numpy())

    def zero_shot_scores(self, image_emb: np.ndarray, text_emb: np.ndarray) -> np.ndarray:
        """(N, L) label scores from normalised embeddings: CLIP softmax, SigLIP sigmoid."""
        scale = float(self.model.logit_scale.detach().exp())
        logits = scale * image_emb @ text_emb.T
        if self.kind == "siglip":
            return 1.0 / (1.0 + np.exp(-(logits + float(self.model.logit_bias.detach()))))
        z = np.exp(logits - logits.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)

    @renamed_kwarg(topk="k")
    def classify(self, images: Iterable[np.ndarray], *, k: int = 5, labels: Sequence[str] | None = None,
                 batch_size: int | None = None) -> list[list[Prediction]]:
        if not self.supports_text:
            return super().classify(images, k=k, labels=labels, batch_size=batch_size)
        check_k(k)
        labels = [str(x).strip() for x in (labels or []) if str(x).strip()]
        if not labels:
            raise InputError(f"{self.kind} classifies zero-shot against text labels: give them, e.g. "
                             "--labels 'cat,dog,car'")
        text = self.encode_text([self.prompt.format(x) for x in labels])
        scores = self.zero_shot_scores(self.encode_images(images, batch_size=batch_size), text)
        return top_predictions(scores, labels, k)


def load(kind: str, folder: str, **options: Any) -> TransformersEncoder:
    """Encoder of ``kind`` ("clip", "siglip", "dinov2") from ``folder``."""
    if kind not in KINDS:
        raise InputError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
    return TransformersEncoder(kind, folder, **options)
