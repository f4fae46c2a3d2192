"""EfficientNet-Lite0 / Lite1 / Lite2: speed, classification agreement, retrieval AUC — one run.

Run: ``flock /work/notes/bench.lock .venv/bin/python benchmarks/effnet_variants.py``.
Writes ``benchmarks/results/effnet_variants.md``.

* speed: images/s of ``encode_images`` (onnxruntime, the default backend, preprocessing
  included) on 48 frames of ``testvideo.mp4`` scaled to 640x360, batch 16, after a warm-up;
* retrieval: ROC AUC of the same-source vs different-source quality check of
  ``tests/features/quality.py`` (15 scikit-image photos x 7 variants);
* classification agreement: share of the 105 quality images (and of their 15 originals) on
  which two variants give the same top-1 ImageNet class, and each variant's probability for
  the cat classes on ``skimage.data.chelsea()`` (a tabby cat).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from _common import SHARED_VIDEO, machine_line, markdown_table, write_result  # noqa: E402

VARIANTS = ("effnet-lite0", "effnet-lite1", "effnet-lite2")
CATS = [281, 282, 283, 284, 285]


def frames(n: int = 48) -> list[np.ndarray]:
    from PIL import Image

    from kadr.io.video import VideoReader

    out = []
    with VideoReader(SHARED_VIDEO / "testvideo.mp4") as r:
        for f in r:
            if f.index % 12 == 0:
                out.append(np.asarray(Image.fromarray(f.image).resize((640, 360))))
            if len(out) == n:
                break
    return out


def main() -> None:
    from skimage import data

    from kadr import features
    from kadr.features.imagenet import imagenet_classes
    from tests.features.quality import dataset, encoder_auc

    imgs, labels = dataset()
    vids = frames()
    rows, top1 = [], {}
    for name in VARIANTS:
        enc = features.get(name)
        enc.encode_images(vids[:16])  # warm-up (ONNX export on first use)
        t0 = time.perf_counter()
        enc.encode_images(vids, batch_size=16)
        speed = len(vids) / (time.perf_counter() - t0)
        auc = encoder_auc(enc, imgs, labels)
        p = enc.probabilities(imgs)
        top1[name] = p.argmax(1)
        cat = enc.probabilities([data.chelsea()])[0]
        rows.append([name, enc.input_size, f"{speed:.1f}", f"{auc:.3f}", f"{cat[CATS].sum():.2f}",
                     imagenet_classes()[int(cat.argmax())].split(",")[0], f"{cat.max():.2f}"])
    base = rows[0][2]
    for r in rows:
        r.insert(3, f"{float(r[2]) / float(base):.2f}x")
    agree = []
    for a in VARIANTS:
        agree.append([a] + [f"{(top1[a] == top1[b]).mean():.0%} / {(top1[a][::7] == top1[b][::7]).mean():.0%}"
                            for b in VARIANTS])
    text = "\n".join([
        "# EfficientNet-Lite0 / Lite1 / Lite2", "",
        f"{machine_line()}. One process, one timed pass each after a warm-up (onnxruntime, all cores).", "",
        markdown_table(["encoder", "input px", "images/s (640x360, batch 16)", "vs lite0", "quality AUC",
                        "P(cat classes | chelsea)", "chelsea top-1", "p"], rows), "",
        "Top-1 ImageNet agreement between variants (105 quality images / their 15 originals):", "",
        markdown_table(["", *VARIANTS], agree), "",
        "Published ImageNet-1k top-1 (TensorFlow efficientnet/lite): 75.1 / 76.7 / 77.6 %.",
    ])
    write_result("effnet_variants", text)


if __name__ == "__main__":
    main()
