"""The one tiny, fully transparent encoder of the tests (index, keyframes, exports, comparison).

A 12x12 area-averaged grey thumbnail with its mean removed and scaled to unit deviation
("tiny image" descriptor, Torralba et al., TPAMI 2008), concatenated with the square root
of a 4x4x4 RGB histogram (scaled x12 so both halves weigh alike); 208-d. Robust to
rescaling and re-encoding, sensitive to content; no model, so the tests do not depend on
the encoders area.
"""

from __future__ import annotations

import numpy as np

from kadr.features.base import Encoder


class TinyEncoder(Encoder):
    name = "tiny-test"
    dim = 144 + 64

    def _encode_batch(self, images):
        import cv2

        out = []
        for img in images:
            img = np.ascontiguousarray(img if img.dtype == np.uint8 else (img >> 8).astype(np.uint8))
            g = cv2.resize(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), (12, 12), interpolation=cv2.INTER_AREA)
            g = g.astype(np.float32).ravel()
            g = (g - g.mean()) / (g.std() + 1e-6)
            h = np.histogramdd(img.reshape(-1, 3), bins=(4, 4, 4), range=[(0, 256)] * 3)[0].ravel()
            h = np.sqrt(h / h.sum()) * 12.0
            out.append(np.concatenate([g, h]))
        return np.stack(out)
