"""The one place an onnxruntime session is built (encoders, learned flow, segmenters).

CPU execution provider, ``inter_op`` 1 thread, and **no spinning**: onnxruntime's worker
threads busy-wait between operators by default, which on a CPU shared with video decoder
threads (or other processes) halved the batch-1 speed of EfficientNet-Lite0 on a loaded
2-core machine (``benchmarks/encoders.py``). onnxruntime is imported here, lazily.
"""

from __future__ import annotations

import os
from typing import Any

from kadr.errors import ModelLoadError, missing_backend


def onnx_session(path: str | os.PathLike, *, threads: int = 0, what: str = "ONNX model") -> Any:
    """An ``onnxruntime.InferenceSession`` for ``path`` (``threads`` intra-op threads, 0 =
    onnxruntime's default: one per core). ModelLoadError when onnxruntime rejects the file."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise missing_backend("onnxruntime") from None
    so = ort.SessionOptions()
    so.intra_op_num_threads = max(0, int(threads))
    so.inter_op_num_threads = 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types for bad files
        raise ModelLoadError(f"onnxruntime cannot load the {what} {str(path)!r}: {exc}") from None
