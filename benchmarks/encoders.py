"""Encoder speed: images/s per encoder, torch vs onnxruntime, batch 1/16/64, and folder embedding.

Run: ``.venv/bin/python benchmarks/encoders.py [VIDEO] [--thorough]`` (default video:
../shared/data/video/testvideo.mp4). Writes benchmarks/results/encoders.md.

Inputs are real frames: 64 frames of the video scaled to 640x360 (the stream-watch size).
Everything runs in one process, one timed pass after a warm-up batch (best of 3 passes with
``--thorough``), so ratios are comparable even on a shared machine. Parts:

1. model throughput of every encoder on 640x360 frames (preprocessing included), with the
   peer doing the same job directly: the EfficientNet-Lite0 package used as its README
   shows (NCHW float, ``torch.no_grad``), ``skimage.feature.hog``, ``cv2.calcHist``,
   ``imagehash``;
2. effnet-lite0 on one thread (what a single-core stream watcher gets);
3. end-to-end folder embedding (JPEG decode + resize in the loader thread + model) against
   the model alone on already-decoded, already-resized images (goal: >= 0.8x);
4. ROC AUC of the quality check (tests/features/quality.py).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from _common import SHARED_VIDEO, best_of, machine_line, markdown_table, write_result  # noqa: E402
from kadr import features  # noqa: E402
from kadr.features.effnet import EffNetLite0, build_network  # noqa: E402
from kadr.features.pipeline import embed_paths  # noqa: E402
from kadr.io import VideoReader  # noqa: E402

N_FRAMES = 64
SIZE = (640, 360)


def frames(video: Path, n: int, step: int = 4) -> list[np.ndarray]:
    """``n`` frames, every ``step``-th, scaled to 640x360 by the decoder."""
    out = []
    with VideoReader(video, analysis_size=SIZE) as r:
        for f in r:
            if f.index % step == 0:
                out.append(f.analysis_image.copy())
            if len(out) == n:
                break
    return out


def say(msg: str) -> None:
    print(f"[encoders] {msg}", file=sys.stderr, flush=True)


def rate(fn, n: int, repeats: int, warmup=None) -> float:
    (warmup or fn)()
    t, _ = best_of(fn, repeats)
    return n / t


def peer_effnet(images: list[np.ndarray], batch: int):
    """The package's own way: NCHW float32 tensors, torch.no_grad, no channels-last.
    Returns (timed run, warm-up run); the same resize + crop as kadr is included."""
    import torch

    net = build_network().body.eval()
    prep = features.get("effnet-lite0").prepare

    def run(imgs=images):
        with torch.no_grad():
            for i in range(0, len(imgs), batch):
                x = np.stack([prep(im) for im in imgs[i:i + batch]]).astype(np.float32)
                x = torch.from_numpy((x - 127.0) / 128.0).permute(0, 3, 1, 2).contiguous()
                net.extract_features(x).mean(dim=(2, 3))
    return run, lambda: run(images[:batch])


def encode_fn(enc, images, batch):
    return lambda: enc.encode_images(images, batch_size=batch)


def warm(enc, images, batch):
    return lambda: enc.encode_images(images[:batch], batch_size=batch)


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    repeats = 3 if "--thorough" in sys.argv else 1
    video = Path(args[0]) if args else SHARED_VIDEO / "testvideo.mp4"
    imgs = frames(video, N_FRAMES)
    say(f"{len(imgs)} frames decoded")
    rows = []

    # 1. effnet-lite0: torch vs onnxruntime vs the package used plainly, batch 1 / 16 / 64, each engine
    #    at 1 thread and at one thread per core: every engine is reported at its own best setting
    #    (PyTorch's OpenMP threads busy-wait, so on a shared machine 1 thread is often its best).
    import torch

    default_threads = torch.get_num_threads()
    thread_counts = sorted({1, os.cpu_count() or 1})
    encs = {(eng, t): EffNetLite0(backend=eng, threads=t) for eng in ("torch", "onnx") for t in thread_counts}
    speed: dict[tuple[str, int, int], float] = {}
    for batch in (1, 16, 64):
        sub = imgs[:max(32, batch)]  # 32 images per pass (64 for batch 64)
        for t in thread_counts:
            torch.set_num_threads(t)
            run, warmup = peer_effnet(sub, batch)
            speed["peer", batch, t] = rate(run, len(sub), repeats, warmup)
            torch.set_num_threads(default_threads)
            for eng in ("torch", "onnx"):
                enc = encs[eng, t]
                speed[eng, batch, t] = rate(encode_fn(enc, sub, batch), len(sub), repeats, warm(enc, sub, 16))
            say(f"effnet batch {batch}, {t} thread(s): "
                + ", ".join(f"{k} {speed[k, batch, t]:.1f}/s" for k in ("peer", "torch", "onnx")))
    eff: dict[tuple[str, int], float] = {}
    best_t: dict[tuple[str, int], int] = {}
    for who in ("peer", "torch", "onnx"):
        for batch in (1, 16, 64):
            best_t[who, batch] = max(thread_counts, key=lambda t: speed[who, batch, t])
            eff[who, batch] = speed[who, batch, best_t[who, batch]]
    for batch in (1, 16, 64):
        for who, label in (("peer", "efficientnet-lite-pytorch, plain NCHW + no_grad (peer)"),
                           ("torch", "**kadr effnet-lite0, torch** (channels-last, inference_mode)"),
                           ("onnx", "**kadr effnet-lite0, onnxruntime** (default)")):
            rows.append([label, batch, best_t[who, batch], round(eff[who, batch], 1),
                         " / ".join(f"{speed[who, batch, t]:.1f}" for t in thread_counts),
                         f"{eff[who, batch] / eff['peer', batch]:.2f}×"])
    onnx_enc = encs["onnx", max(thread_counts)]

    # 1b. classical encoders vs the libraries called directly
    import cv2
    import imagehash
    from PIL import Image
    from skimage.feature import hog as sk_hog

    hog_enc = features.get("hog")

    def peer_hog():
        for im in imgs:
            sk_hog(np.asarray(Image.fromarray(im).resize((128, 128), Image.BILINEAR)), orientations=9,
                   pixels_per_cell=(16, 16), cells_per_block=(2, 2), block_norm="L2-Hys", channel_axis=-1)

    def peer_hist():
        for im in imgs:
            small = cv2.resize(im, (256, 144), interpolation=cv2.INTER_AREA)
            h = cv2.calcHist([cv2.cvtColor(small, cv2.COLOR_RGB2HSV)], [0, 1, 2], None, [16, 4, 4],
                             [0, 180, 0, 256, 0, 256])
            np.sqrt(h / h.sum())

    def peer_hash(kind):
        fn = getattr(imagehash, kind)
        return lambda: [fn(Image.fromarray(im)) for im in imgs]

    classical = [("hog", peer_hog, "skimage.feature.hog (peer)"), ("hsv-hist", peer_hist, "cv2.calcHist (peer)"),
                 ("phash", peer_hash("phash"), "imagehash.phash (peer)"),
                 ("dhash", peer_hash("dhash"), "imagehash.dhash (peer)")]
    for name, peer, peer_label in classical:
        p = rate(peer, len(imgs), repeats)
        k = rate(encode_fn(hog_enc if name == "hog" else features.get(name), imgs, 64), len(imgs), repeats)
        rows.append([peer_label, 64, "—", round(p, 1), "—", "1.00×"])
        rows.append([f"**kadr {name}**", 64, "—", round(k, 1), "—", f"{k / p:.2f}×"])
        say(f"{name}: peer {p:.1f}/s, kadr {k:.1f}/s")

    torch.set_num_threads(default_threads)

    # 3. folder embedding end to end vs model only
    with tempfile.TemporaryDirectory() as tmp:
        sub = imgs[:32]
        for i, im in enumerate(sub):
            Image.fromarray(im).save(Path(tmp) / f"f{i:03d}.jpg", quality=90)
        prepared = [onnx_enc.prepare(im) for im in sub]
        model_only = rate(lambda: onnx_enc.encode_images(prepared, batch_size=16), len(sub), repeats,
                          warm(onnx_enc, prepared, 16))
        pipeline = rate(lambda: embed_paths(onnx_enc, [tmp], batch_size=16), len(sub), repeats,
                        warm(onnx_enc, prepared, 16))
        say(f"folder: model only {model_only:.1f}/s, pipeline {pipeline:.1f}/s")

    # 4. quality
    from tests.features.quality import SOURCES, VARIANTS, dataset, encoder_auc

    qimgs, qlab = dataset()
    aucs = {name: encoder_auc(features.get(name), qimgs, qlab)
            for name in ("effnet-lite0", "hsv-hist", "hog", "phash", "dhash")}
    say("quality: " + ", ".join(f"{k} {v:.4f}" for k, v in aucs.items()))

    best_default = max(eff["onnx", b] / eff["torch", b] for b in (1, 16, 64))
    text = [
        "# Encoders",
        "",
        f"Frames of `{video.name}` (every 4th, decoder-scaled to 640x360; 32 per pass, 64 for batch 64), "
        f"{machine_line()}. Best of {repeats} timed pass(es) after a warm-up, one process;",
        "a shared machine, so compare ratios within a table. images/s include the encoder's preprocessing",
        "(resize + crop for effnet-lite0) and L2 normalisation; the peers do the same work directly.",
        "",
        "## Throughput, every engine at its best thread setting",
        "",
        f"Each effnet-lite0 engine ran at {' and '.join(map(str, thread_counts))} thread(s); the table gives "
        "the best (column \"threads\") and all of them. The classical encoders are single-threaded numpy/OpenCV.",
        "",
        markdown_table(["encoder", "batch", "threads (best)", "images/s", "images/s at "
                        + " / ".join(f"{t} thr" for t in thread_counts), "vs peer"], rows),
        "",
        "onnxruntime vs torch for effnet-lite0, each at its best thread setting: "
        + ", ".join(f"batch {b}: **{eff['onnx', b] / eff['torch', b]:.2f}×**" for b in (1, 16, 64))
        + f" (best {best_default:.2f}×). onnxruntime is the default (`backend=\"auto\"`);",
        "its output matches torch within 1e-4 (tests/features/test_effnet.py).",
        "",
        "## Folder embedding end to end",
        "",
        markdown_table(["what", "images/s", "ratio"], [
            ["model only (effnet-lite0 onnx, images already decoded and resized to 224)", round(model_only, 1),
             "1.00×"],
            ["**kadr embed_paths** (JPEG decode + resize in the loader thread + model)", round(pipeline, 1),
             f"**{pipeline / model_only:.2f}×**"],
        ]),
        "",
        "Goal: pipeline >= 0.8x model-only throughput (decoding overlapped with inference).",
        "",
        "## Quality: same source vs different source (ROC AUC)",
        "",
        f"{len(SOURCES)} scikit-image photos x {len(VARIANTS)} variants ({', '.join(VARIANTS)}); "
        "all pairs scored by cosine, same-source pairs positive (tests/features/quality.py).",
        "",
        markdown_table(["encoder", "ROC AUC"], [[k, f"{v:.4f}"] for k, v in aucs.items()]),
        "",
        "Reproduce: `.venv/bin/python benchmarks/encoders.py [VIDEO]`.",
        "",
    ]
    write_result("encoders", "\n".join(text))


if __name__ == "__main__":
    main()
