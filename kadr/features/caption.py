"""Captions from a captioning / small vision-language model in a local folder (never the hub).

The folder is what ``save_pretrained`` writes for an image-text-to-text model of
``transformers`` (``AutoModelForImageTextToText``: BLIP — Li et al., "BLIP: Bootstrapping
Language-Image Pre-training", ICML 2022 —, GIT, Florence-2, SmolVLM, ...) plus its processor
(``processor_config.json`` or ``preprocessor_config.json``) and tokenizer. Captioning models
(BLIP, GIT) are run unconditionally; chat VLMs (a processor with a chat template) get one
user turn, :data:`DEFAULT_INSTRUCTION`. Decoding: greedy, at most ``max_new_tokens`` tokens.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from kadr.errors import InputError, ModelLoadError
from kadr.features.base import batched
from kadr.features.hf import PROCESSOR_FILES, TOKENIZER_FILES, WEIGHT_FILES
from kadr.features.preprocess import as_rgb_uint8
from kadr.features.runtime import quiet_transformers, require

#: The request a chat VLM gets for each picture.
DEFAULT_INSTRUCTION = "Describe this image in one sentence."
#: What a caption calls itself in ``kadr describe`` output (a measured description says "measured").
KIND = "caption"


def check_caption_folder(folder: str | os.PathLike) -> tuple[Path, dict]:
    """Validate a captioning model folder; (path, config). Raises ModelLoadError with the fix."""
    path = Path(folder).expanduser()
    hint = "save one with model.save_pretrained(folder) and processor.save_pretrained(folder)"
    if not path.is_dir():
        raise ModelLoadError(f"captioning model folder not found: {str(path)!r}; {hint}")
    try:
        cfg = json.loads((path / "config.json").read_text("utf-8"))
    except FileNotFoundError:
        raise ModelLoadError(f"{str(path)!r} has no config.json: not a transformers model folder; {hint}") from None
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"{str(path / 'config.json')!r} is not valid JSON: {exc}") from None
    if not any((path / f).is_file() for f in WEIGHT_FILES):
        raise ModelLoadError(f"{str(path)!r} has no weights ({' or '.join(WEIGHT_FILES[::2])}); {hint}")
    if not any((path / f).is_file() for f in PROCESSOR_FILES):
        raise ModelLoadError(f"{str(path)!r} has no processor ({' or '.join(PROCESSOR_FILES)}); {hint}")
    if not any((path / f).is_file() for f in TOKENIZER_FILES + ("vocab.txt",)):
        raise ModelLoadError(f"{str(path)!r} has no tokenizer files: a captioner needs them to write text; {hint}")
    return path, cfg


class Captioner:
    """``caption:PATH``: one caption per picture from a local image-text-to-text model."""

    kind = KIND

    def __init__(self, folder: str | os.PathLike, *, max_new_tokens: int = 30, instruction: str = DEFAULT_INSTRUCTION,
                 batch_size: int = 4):
        if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 1:
            raise InputError(f"max_new_tokens must be an integer >= 1, got {max_new_tokens!r}")
        if not str(instruction).strip():
            raise InputError("instruction must be non-empty text")
        self.path, cfg = check_caption_folder(folder)
        self.name = f"caption:{self.path}"
        self.model_type = str(cfg.get("model_type"))
        self.max_new_tokens = max_new_tokens
        self.instruction = str(instruction)
        self.batch_size = int(batch_size)
        transformers = require("transformers")
        with quiet_transformers():
            try:
                self.model = transformers.AutoModelForImageTextToText.from_pretrained(
                    str(self.path), local_files_only=True).eval()
            except Exception as exc:  # transformers raises ValueError/OSError/KeyError… for unsupported folders
                raise ModelLoadError(f"cannot load {str(self.path)!r} as a captioning model ({self.model_type}): "
                                     f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}; kadr needs an "
                                     "image-text-to-text model (BLIP, GIT, Florence-2, SmolVLM...)") from None
            try:
                self.processor = transformers.AutoProcessor.from_pretrained(str(self.path), local_files_only=True)
            except Exception as exc:
                raise ModelLoadError(f"cannot load the processor in {str(self.path)!r}: {exc}") from None
        self.chat = bool(getattr(self.processor, "chat_template", None))

    def _inputs(self, images: list[np.ndarray]):
        from PIL import Image

        pics = [Image.fromarray(as_rgb_uint8(im)) for im in images]
        if self.chat:
            msg = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": self.instruction}]}]
            prompt = self.processor.apply_chat_template(msg, add_generation_prompt=True)
            return self.processor(images=[[p] for p in pics], text=[prompt] * len(pics), return_tensors="pt",
                                  padding=True)
        return self.processor(images=pics, return_tensors="pt")

    def describe(self, images: Sequence[np.ndarray]) -> list[str]:
        """One caption (str, whitespace-normalised) per picture."""
        import torch

        if not isinstance(images, (list, tuple)):
            raise InputError("images must be a list of RGB arrays")
        out: list[str] = []
        for b in batched(list(images), self.batch_size):
            inputs = self._inputs(b)
            with torch.inference_mode():
                ids = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False)
            if self.chat and "input_ids" in inputs:  # chat models echo the prompt: keep the answer only
                ids = ids[:, inputs["input_ids"].shape[1]:]
            texts = self.processor.batch_decode(ids, skip_special_tokens=True)
            out.extend(" ".join(t.split()) for t in texts)
        return out

    def __repr__(self) -> str:
        return f"Captioner({str(self.path)!r}, model_type={self.model_type!r})"
