"""Optional compiled kernel for the uniform cubic KAN path (float32, CPU).

``native/cubic_kan.c`` walks the 4 active bases of each input directly (no dense (N, I·(K+1))
feature matrix, about half the arithmetic of the GEMM path). It is plain C with no torch
headers: compiled once with the system C compiler (``cc -O3 -march=native``, about a second)
into ``$KADR_CACHE`` (default ``~/.cache/kadr``) and called through ctypes. When no compiler is
found, the build fails, the tensors are not float32 CPU, or ``KADR_NN_NATIVE=0``, kadr uses the
pure-torch path of :mod:`kadr.nn._cubic`; the tests check both give the same values and gradients.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import torch

_SRC = Path(__file__).with_name("native") / "cubic_kan.c"
# reassociation lets the compiler vectorise the dot products of the backward pass
_FLAGS = ["-O3", "-march=native", "-fassociative-math", "-fno-signed-zeros", "-fno-trapping-math", "-fPIC",
          "-shared", "-std=c99"]
_lock = threading.Lock()
_lib: ctypes.CDLL | None = None
_tried = False
#: Why the kernel is not in use (None when it is).
reason: str | None = None


def _build() -> ctypes.CDLL | None:
    global reason
    if os.environ.get("KADR_NN_NATIVE", "1") == "0":
        reason = "disabled by KADR_NN_NATIVE=0"
        return None
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        reason = "no C compiler (cc, gcc or clang) on PATH"
        return None
    src = _SRC.read_bytes()
    key = hashlib.sha256(src + " ".join(_FLAGS + [platform.node(), platform.machine(), cc]).encode()).hexdigest()[:16]
    cache = Path(os.environ.get("KADR_CACHE", Path.home() / ".cache" / "kadr"))
    lib_path = cache / f"cubic_kan-{key}.so"
    if not lib_path.exists():
        try:
            cache.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(suffix=".so", dir=cache)
            os.close(fd)
            flags = list(_FLAGS)
            proc = subprocess.run([cc, *flags, str(_SRC), "-o", tmp, "-lm"], capture_output=True, text=True, timeout=120)
            if proc.returncode != 0 and "-march=native" in flags:  # some compilers/CPUs reject it
                flags.remove("-march=native")
                proc = subprocess.run([cc, *flags, str(_SRC), "-o", tmp, "-lm"], capture_output=True, text=True,
                                      timeout=120)
            if proc.returncode != 0:
                reason = f"compiling {_SRC.name} failed: {proc.stderr.strip()[:300]}"
                os.unlink(tmp)
                return None
            os.replace(tmp, lib_path)
        except (OSError, subprocess.SubprocessError) as exc:
            reason = f"cannot build the kernel: {exc}"
            return None
    try:
        lib = ctypes.CDLL(str(lib_path))
    except OSError as exc:
        reason = f"cannot load {lib_path}: {exc}"
        return None
    p, i = ctypes.c_void_p, ctypes.c_int
    lib.kan_cubic_forward.argtypes = [p, p, p, p, p, i, i, i, i]
    lib.kan_cubic_backward.argtypes = [p, p, p, p, p, p, p, p, p, i, i, i, i, i, i]
    lib.kan_cubic_forward.restype = lib.kan_cubic_backward.restype = None
    reason = None
    return lib


def library() -> ctypes.CDLL | None:
    """The loaded kernel, built on first use; None when unavailable (see :data:`reason`)."""
    global _lib, _tried
    if not _tried:
        with _lock:
            if not _tried:
                _lib = _build()
                _tried = True
    return _lib


def usable(x: torch.Tensor, coef: torch.Tensor) -> bool:
    return (x.dtype == torch.float32 and coef.dtype == torch.float32 and x.device.type == "cpu"
            and coef.device.type == "cpu" and library() is not None)


def _ptr(t: torch.Tensor) -> int:
    return t.data_ptr()


class _NativeCubic(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, coef, scale, shift, grid_size):
        lib = library()
        x = x.contiguous()
        table = coef.t().contiguous()  # (I·KK, O): the rows of each input next to each other
        scale = scale.contiguous()
        shift = shift.contiguous()
        n, i_in = x.shape
        o = coef.shape[0]
        y = x.new_empty(n, o)
        lib.kan_cubic_forward(_ptr(x), _ptr(table), _ptr(scale), _ptr(shift), _ptr(y), n, i_in, o, grid_size)
        ctx.save_for_backward(x, table, scale, shift)
        ctx.grid_size = grid_size
        return y

    @staticmethod
    def backward(ctx, grad):
        x, table, scale, shift = ctx.saved_tensors
        lib = library()
        g = grad.contiguous()
        n, i_in = x.shape
        o = table.shape[1]
        want_x, want_c = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        gx = x.new_empty(n, i_in) if want_x else x.new_empty(1)
        gt = table.new_empty(table.shape) if want_c else table.new_empty(1)
        wbuf = x.new_empty(n * 6)
        ibuf = torch.empty(2 * n + ctx.grid_size + 1, dtype=torch.int32)
        lib.kan_cubic_backward(_ptr(x), _ptr(table), _ptr(scale), _ptr(shift), _ptr(g), _ptr(gx), _ptr(gt),
                               _ptr(wbuf), _ptr(ibuf), n, i_in, o, ctx.grid_size, int(want_x), int(want_c))
        return (gx if want_x else None), (gt.t() if want_c else None), None, None, None


def native_cubic_edges(x, coef, scale, shift, grid_size: int) -> torch.Tensor:
    """Same contract as :func:`kadr.nn._cubic.cubic_edges`, float32 CPU only."""
    return _NativeCubic.apply(x, coef, scale, shift, int(grid_size))
