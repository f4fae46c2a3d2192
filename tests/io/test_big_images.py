"""Decompression bombs and huge images (issue 16): one clear error before decoding, and a
reduced-size decode where the consumer downsizes anyway."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kadr.errors import DecodeError
from kadr.io.images import MAX_PIXELS, load_image, read_image


def _png_declaring(path: Path, width: int, height: int) -> Path:
    """A valid tiny PNG whose IHDR is rewritten to declare width x height (the CRC fixed),
    as a hostile file would: a few hundred bytes that promise gigabytes."""
    Image.new("L", (8, 8)).save(path)
    raw = bytearray(path.read_bytes())
    ihdr = 8 + 8  # signature, then length + type of the IHDR chunk
    raw[ihdr:ihdr + 8] = struct.pack(">II", width, height)
    raw[ihdr + 13:ihdr + 17] = struct.pack(">I", zlib.crc32(bytes(raw[ihdr - 4:ihdr + 13])))
    path.write_bytes(bytes(raw))
    return path


def test_a_header_declaring_30000_squared_is_refused_in_one_line(tmp_path):
    bomb = _png_declaring(tmp_path / "bomb.png", 30000, 30000)
    assert bomb.stat().st_size < 200
    with pytest.raises(DecodeError, match="declares 900 megapixels.*decompression bomb") as e:
        load_image(bomb)
    assert "\n" not in str(e.value) and MAX_PIXELS < 30000 * 30000


def test_bomb_through_the_cli_is_one_error_line(tmp_path, capsys):
    from kadr.cli.main import main

    bomb = _png_declaring(tmp_path / "bomb.png", 30000, 30000)
    ok = tmp_path / "ok.png"
    Image.new("RGB", (32, 32), (200, 10, 10)).save(ok)
    assert main(["compare", str(bomb), str(ok)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("kadr: error:") and "bomb" in err[0]


def _photo(side_w: int, side_h: int) -> np.ndarray:
    from kadr.io.synthetic import sample_photo

    import cv2

    return cv2.resize(sample_photo("astronaut"), (side_w, side_h), interpolation=cv2.INTER_CUBIC)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_big_image_is_decoded_at_reduced_size_when_the_consumer_downsizes(tmp_path, fmt):
    import cv2

    big = _photo(3000, 2000)
    path = tmp_path / f"big.{fmt.lower()}"
    Image.fromarray(big).save(path, fmt, **({"quality": 95} if fmt == "JPEG" else {"compress_level": 1}))
    small, info = read_image(path, max_side=448)
    # never below what the consumer asked for, and at most twice it (draft scales 1/2..1/8,
    # reduce by an integer factor)
    assert 448 <= max(small.shape[:2]) < 2 * 448
    assert info.original_size == (3000, 2000) and (info.width, info.height) == (small.shape[1], small.shape[0])
    # the same picture: compare with the full decode resized the same way (mean abs error in
    # grey levels; JPEG's reduced DCT and box filters differ from INTER_AREA by a few levels)
    full = load_image(path)
    ref = cv2.resize(full, (small.shape[1], small.shape[0]), interpolation=cv2.INTER_AREA)
    assert np.abs(ref.astype(int) - small.astype(int)).mean() < 3.0
    # small images, or no max_side: decoded as they are
    assert load_image(path).shape == big.shape
    assert read_image(path, max_side=2000)[1].original_size is None
