"""A tiny, fully transparent encoder for the tests of keyframes, exports and comparison:
the 8x8 area-averaged luma thumbnail, mean removed ("tiny image" descriptor, Torralba et
al., TPAMI 2008). No model, so the tests do not depend on the encoders area."""

from __future__ import annotations

import numpy as np

from kadr.features.base import Encoder


class TinyEncoder(Encoder):
    name = "tiny-test"
    dim = 64 + 3

    def _encode_batch(self, images):
        import cv2

        out = []
        for im in images:
            grey = cv2.cvtColor(np.ascontiguousarray(im), cv2.COLOR_RGB2GRAY).astype(np.float32)
            small = cv2.resize(grey, (8, 8), interpolation=cv2.INTER_AREA).ravel()
            colour = im.reshape(-1, 3).mean(0) / 255.0
            out.append(np.concatenate([(small - small.mean()) / 255.0, colour]))
        return np.stack(out)
