"""Loading a model from a local folder (``model.pt2`` saved by ``torch.export.save``,
TorchScript ``model.pt``, or ``model.onnx``, plus an optional ``config.json``): the slot
behind learned flow and SAM-class segmenters.
Nothing is ever downloaded."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from kadr.errors import ModelLoadError


class LocalModel:
    """A callable ``model(*arrays) -> np.ndarray`` over float32 numpy inputs; a model that
    returns a list or tuple has its last element used (e.g. the final refinement)."""

    def __init__(self, folder: str | os.PathLike, *, what: str = "model"):
        self.folder = Path(folder).expanduser()
        self.what = what
        if not self.folder.is_dir():
            raise ModelLoadError(f"{what} folder not found: {str(self.folder)!r}")
        cfg_path = self.folder / "config.json"
        try:
            self.config: dict[str, Any] = json.loads(cfg_path.read_text()) if cfg_path.exists() else {}
        except json.JSONDecodeError as exc:
            raise ModelLoadError(f"{cfg_path} is not valid JSON: {exc}") from None
        pt2, pt, onnx = (self.folder / n for n in ("model.pt2", "model.pt", "model.onnx"))
        self._torch = self._onnx = None
        if pt2.exists() or pt.exists():
            import warnings

            import torch

            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit is deprecated, still supported
                    self._torch = torch.export.load(str(pt2)).module() if pt2.exists() else \
                        torch.jit.load(str(pt), map_location="cpu").eval()
            except Exception as exc:  # noqa: BLE001 - any failure here means a bad model file
                raise ModelLoadError(f"cannot load the {what} {pt2 if pt2.exists() else pt}: {exc}") from None
        elif onnx.exists():
            from kadr._onnx import onnx_session

            self._onnx = onnx_session(onnx, what=what)
        else:
            raise ModelLoadError(f"{str(self.folder)!r} holds no model.pt2 (torch.export), model.pt (TorchScript) "
                                 "or model.onnx")

    @property
    def input_size(self) -> tuple[int, int] | None:
        """(H, W) the model wants, from ``config.json``'s ``input_size``; None = any."""
        s = self.config.get("input_size")
        return None if not s else (int(s[0]), int(s[1]))

    def __call__(self, *arrays: np.ndarray) -> np.ndarray:
        if self._torch is not None:
            import torch

            try:
                with torch.inference_mode():
                    out = self._torch(*(torch.from_numpy(np.ascontiguousarray(a)) for a in arrays))
            except Exception as exc:  # noqa: BLE001
                raise ModelLoadError(f"the {self.what} in {self.folder} failed on its input: {exc}") from None
            if isinstance(out, (list, tuple)):
                out = out[-1]
            return np.asarray(out.detach().cpu().numpy())
        names = [i.name for i in self._onnx.get_inputs()]
        try:
            return np.asarray(self._onnx.run(None, dict(zip(names, arrays)))[-1])
        except Exception as exc:  # noqa: BLE001
            raise ModelLoadError(f"the {self.what} in {self.folder} failed on its input: {exc}") from None


def image_tensor(image: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    """(1, 3, H, W) float32 RGB in [0, 1] from uint8/uint16 RGB or grey, resized to ``size`` (H, W)."""
    import cv2

    x = np.asarray(image)
    if x.ndim == 2:
        x = np.repeat(x[..., None], 3, axis=2)
    scale = 65535.0 if x.dtype == np.uint16 else 255.0
    if size is not None and x.shape[:2] != size:
        x = cv2.resize(x, (size[1], size[0]), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray((x.astype(np.float32) / scale).transpose(2, 0, 1)[None])
