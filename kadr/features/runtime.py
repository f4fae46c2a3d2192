"""Neural encoders on two runtimes: PyTorch and onnxruntime, same inputs, same outputs.

A :class:`ModelEncoder` describes its network once as a ``torch.nn.Module`` whose input is
one numpy batch (made by :meth:`ModelEncoder.preprocess`) and whose outputs are float
arrays, the first being the embedding. The module runs either

* in PyTorch (``torch.inference_mode``, channels-last memory for 4-D inputs), or
* in onnxruntime, from an ONNX file exported once from the same module (legacy
  TorchScript exporter, opset 17, dynamic batch axis) and cached under
  :func:`cache_dir` (``$KADR_CACHE_DIR``, else ``$XDG_CACHE_HOME/kadr``, else
  ``~/.cache/kadr``), keyed by model, package and runtime versions.

``backend="auto"`` picks the encoder's ``auto_backend`` (onnxruntime for EfficientNet-Lite0,
measured ~2-3x faster on CPU like for like, each at its best thread setting, in ``benchmarks/encoders.py``; PyTorch for transformers models)
and falls back to PyTorch when onnxruntime is not installed.
"""

from __future__ import annotations

import abc
import contextlib
import hashlib
import os
import tempfile
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from kadr._options import opt
from kadr.errors import (BackendUnavailableError, InputError, KadrError, KadrWarning, ModelLoadError, OutputError,
                         missing_backend)
from kadr.features.base import Encoder

BACKENDS = ("auto", "torch", "onnx")
ONNX_OPSET = 17


@dataclass
class ModelOptions:
    """Runtime options of the neural encoders (effnet-lite0, clip:, siglip:, dinov2:)."""

    backend: str = opt("auto", "inference runtime: auto (onnxruntime for effnet-lite0 when installed, "
                       "else torch), torch or onnx", choices=BACKENDS)
    threads: int = opt(0, "CPU threads for inference (0 = the library default: one per core)")


def cache_dir() -> Path:
    """Folder for exported ONNX files (created on demand)."""
    env = os.environ.get("KADR_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "kadr"


def onnxruntime_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


_THREADS = threading.local()


def use_torch_threads(n: int) -> None:
    """Set torch's intra-op thread count to ``n`` once for the calling thread (0: leave torch's
    default). The setting is process-wide state (per thread under OpenMP); changing it around
    every call, as the runner used to, resized the pool each batch and raced with other threads
    doing the same. The one place kadr sets it: TorchRunner and the TransNetV2 worker call this."""
    n = int(n)
    if not n or getattr(_THREADS, "n", None) == n:
        return
    import torch

    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    _THREADS.n = n


class TorchRunner:
    """Run a module on numpy batches in inference mode; returns a list of float32 arrays.
    ``threads``: torch intra-op threads, set once (:func:`use_torch_threads`); 0 = torch's default."""

    name = "torch"

    def __init__(self, module: Any, threads: int = 0):
        import torch

        self._torch = torch
        self._threads = int(threads)
        self._module = module.eval().to(memory_format=torch.channels_last)

    def __call__(self, batch: np.ndarray) -> list[np.ndarray]:
        torch = self._torch
        use_torch_threads(self._threads)
        with torch.inference_mode():
            out = self._module(torch.from_numpy(np.ascontiguousarray(batch)))
        if isinstance(out, torch.Tensor):
            out = (out,)
        return [o.float().numpy() for o in out]


class OnnxRunner:
    """Run an ONNX file in onnxruntime (CPU); same call convention as :class:`TorchRunner`."""

    name = "onnx"

    def __init__(self, path: str | os.PathLike, threads: int = 0):
        from kadr._onnx import onnx_session

        try:
            self._session = onnx_session(path, threads=int(threads) if threads else _default_threads())
        except ModelLoadError as exc:
            raise ModelLoadError(f"{exc}; delete the file and export again (kadr export-onnx ENCODER OUT.onnx)") from None
        self._input = self._session.get_inputs()[0].name
        self.path = Path(path)

    def __call__(self, batch: np.ndarray) -> list[np.ndarray]:
        return [np.asarray(o, np.float32) for o in self._session.run(None, {self._input: np.ascontiguousarray(batch)})]

    def run_inputs(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        """All outputs for a graph with several named inputs (``{name: array}``)."""
        return [np.asarray(o, np.float32)
                for o in self._session.run(None, {k: np.ascontiguousarray(v) for k, v in feeds.items()})]


def _default_threads() -> int:
    import torch

    return torch.get_num_threads()


def export_module(module: Any, example: np.ndarray, path: str | os.PathLike, *, output_names: Sequence[str],
                  input_name: str = "images") -> Path:
    """Export ``module`` (called on ``example``) to ONNX at ``path`` with a dynamic batch axis.

    Written to a temporary file first and moved into place, so a concurrent reader never
    sees half a file.
    """
    import torch

    path = Path(path).expanduser()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create folder {str(path.parent)!r}: {exc}") from None
    axes = {input_name: {0: "batch"}, **{n: {0: "batch"} for n in output_names}}
    fd, tmp = tempfile.mkstemp(suffix=".onnx", dir=path.parent)
    os.close(fd)
    try:
        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(module.eval(), (torch.from_numpy(np.ascontiguousarray(example)),), tmp,
                              input_names=[input_name], output_names=list(output_names), dynamic_axes=axes,
                              opset_version=ONNX_OPSET, dynamo=False)
        os.replace(tmp, path)
    except OSError as exc:
        raise OutputError(f"cannot write {str(path)!r}: {exc}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


class ModelEncoder(Encoder):
    """An encoder backed by one neural network, runnable in PyTorch or onnxruntime.

    Subclasses implement :meth:`build_module` (the ``torch.nn.Module``), :meth:`preprocess`
    (list of RGB images → the module's numpy input batch) and :meth:`cache_key`.
    """

    #: backend used for backend="auto" when onnxruntime is installed
    auto_backend: str = "torch"
    #: names of the module's outputs (the first is the embedding)
    output_names: tuple[str, ...] = ("embedding",)

    def __init__(self, *, backend: str = "auto", threads: int = 0):
        if backend not in BACKENDS:
            raise InputError(f"backend must be one of {', '.join(BACKENDS)}; got {backend!r}")
        if threads is None or int(threads) < 0:
            raise InputError(f"threads must be an integer >= 0, got {threads!r}")
        if backend == "onnx" and not onnxruntime_available():
            raise missing_backend("onnxruntime")
        self.requested_backend = backend
        self.threads = int(threads)
        self._module: Any = None
        self._runner: TorchRunner | OnnxRunner | None = None

    # -- to implement ------------------------------------------------------------------
    @abc.abstractmethod
    def build_module(self) -> Any:
        """The torch module: numpy batch (as tensor) → tuple of outputs (embedding first)."""

    @abc.abstractmethod
    def preprocess(self, images: list[np.ndarray]) -> np.ndarray:
        """RGB images of any size → the module's input batch."""

    @abc.abstractmethod
    def cache_key(self) -> str:
        """A string that changes whenever the exported graph would change."""

    # -- shared ------------------------------------------------------------------------
    @property
    def module(self) -> Any:
        if self._module is None:
            self._module = self.build_module().eval()
        return self._module

    @property
    def backend(self) -> str:
        """The runtime used: "torch" or "onnx" (after a fallback, the one really running)."""
        if self._runner is not None:
            return self._runner.name
        if self.requested_backend == "auto":
            return self.auto_backend if onnxruntime_available() else "torch"
        return self.requested_backend

    def _example(self) -> np.ndarray:
        return self.preprocess([np.zeros((32, 32, 3), np.uint8)] * 2)

    def onnx_path(self) -> Path:
        digest = hashlib.sha256(self.cache_key().encode()).hexdigest()[:16]
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in self.name.split(":")[0])
        return cache_dir() / "onnx" / f"{safe}-{digest}.onnx"

    def export_onnx(self, path: str | os.PathLike) -> Path:
        """Write this encoder's network as ONNX (input: the preprocessed batch)."""
        return export_module(self.module, self._example(), path, output_names=self.output_names)

    def _onnx_runner(self) -> OnnxRunner:
        path = self.onnx_path()
        if not path.exists():
            try:
                self.export_onnx(path)
            except OutputError:  # cache folder not writable: export to a temporary folder instead
                path = Path(tempfile.mkdtemp(prefix="kadr-onnx-")) / path.name
                self.export_onnx(path)
        return OnnxRunner(path, self.threads)

    @property
    def runner(self) -> TorchRunner | OnnxRunner:
        if self._runner is None:
            if self.backend == "onnx":
                try:
                    self._runner = self._onnx_runner()
                except Exception as exc:  # export or session failed: "auto" falls back, "onnx" reports
                    if self.requested_backend == "onnx":
                        if isinstance(exc, KadrError):
                            raise
                        raise ModelLoadError(f"cannot run {self.name} in onnxruntime ({type(exc).__name__}: "
                                             f"{exc}); use backend='torch' (--backend torch)") from exc
                    warnings.warn(f"{self.name}: onnxruntime unavailable ({type(exc).__name__}: {exc}); "
                                  "using PyTorch", KadrWarning, stacklevel=2)
            if self._runner is None:
                self._runner = TorchRunner(self.module, self.threads)
        return self._runner

    def run(self, images: list[np.ndarray]) -> list[np.ndarray]:
        """All outputs of the network for a list of images."""
        return self.runner(self.preprocess(images))

    def _encode_batch(self, images: list[np.ndarray]) -> np.ndarray:
        return self.run(images)[0]


@contextlib.contextmanager
def quiet_transformers():
    """While loading a model: no "Loading weights" tqdm bar of transformers unless stderr is a
    terminal (logs and CI output stay clean), and its logger at ERROR (no "weights not
    initialised" chatter for the heads kadr does not use). Restores both afterwards."""
    import sys

    tf_logging = require("transformers").utils.logging
    bar = tf_logging.is_progress_bar_enabled()
    level = tf_logging.get_verbosity()
    tty = bool(getattr(sys.stderr, "isatty", lambda: False)())
    if bar and not tty:
        tf_logging.disable_progress_bar()
    tf_logging.set_verbosity_error()
    try:
        yield
    finally:
        tf_logging.set_verbosity(level)
        if bar and not tty:
            tf_logging.enable_progress_bar()


def package_version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "?"


def require(module: str, dist: str | None = None) -> Any:
    """Import an optional dependency or raise BackendUnavailableError naming the pip package."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise missing_backend(dist or module) from None


__all__ = ["BACKENDS", "ModelOptions", "ModelEncoder", "TorchRunner", "OnnxRunner", "export_module",
           "cache_dir", "onnxruntime_available", "BackendUnavailableError", "quiet_transformers"]
