"""Dedup leaves content-free rows (black frames, title cards) out of its groups."""

from __future__ import annotations

import numpy as np
from PIL import Image

from kadr.index import Index
from kadr.index.dedup import DedupOptions
from kadr.io.synthetic import sample_photo


def test_black_frames_and_cards_are_not_duplicates(tmp_path, thumb_encoder):
    import cv2

    lib = tmp_path / "lib"
    lib.mkdir()
    for i in range(3):  # three black frames (levels 0, 2, 4): the same picture to every encoder
        Image.fromarray(np.full((180, 320, 3), 2 * i, np.uint8)).save(lib / f"black{i}.png")
    card = np.zeros((180, 320, 3), np.uint8)
    cv2.putText(card, "(c) 2013 Someone", (20, 160), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (200, 200, 200), 1)
    Image.fromarray(card).save(lib / "card.png")
    coffee = sample_photo("coffee")
    Image.fromarray(coffee).save(lib / "coffee.png")
    Image.fromarray(coffee).save(lib / "coffee_q80.jpg", quality=80)  # a real duplicate
    idx = Index(tmp_path / "db", thumb_encoder)
    idx.add(lib)
    res = idx.dedup()
    groups = [sorted(it["source"].rsplit("/", 1)[1] for it in g.items) for g in res["duplicates"] + res["similar"]]
    assert groups == [["coffee.png", "coffee_q80.jpg"]], groups
    free = {it["source"].rsplit("/", 1)[1]: it["content"] for it in res["content_free"]}
    assert free == {"black0.png": "solid", "black1.png": "solid", "black2.png": "solid", "card.png": "title card"}
    # turned off, the black frames group again (what the rule prevents)
    res = idx.dedup(options=DedupOptions(skip_content_free=False))
    assert any(any("black" in it["source"] for it in g.items) for g in res["duplicates"])
