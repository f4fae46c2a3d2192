import io

import numpy as np
import pytest
from PIL import Image

from kadr.errors import DecodeError, InputError, NotAFileError, SourceNotFoundError
from kadr.io import iter_images, load_image, read_image


@pytest.fixture
def rgb():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)


def test_sources_agree(rgb, tmp_path):
    p = tmp_path / "a.png"
    Image.fromarray(rgb).save(p)
    raw = p.read_bytes()
    for src in (p, str(p), raw, Image.open(p), rgb):
        out = load_image(src)
        assert out.dtype == np.uint8 and out.shape == (20, 30, 3)
        np.testing.assert_array_equal(out, rgb)


def test_grey_and_alpha(tmp_path):
    g = np.arange(200, dtype=np.uint8).reshape(10, 20)
    Image.fromarray(g).save(tmp_path / "g.png")
    out = load_image(tmp_path / "g.png")
    assert out.shape == (10, 20, 3) and (out[..., 0] == g).all() and (out[..., 2] == g).all()
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., :3] = 200
    rgba[:2, :, 3] = 255  # top opaque, bottom transparent
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    arr, info = read_image(tmp_path / "a.png")
    assert info.had_alpha
    assert (arr[:2] == 200).all() and (arr[2:] == 0).all()  # composited over black


def test_cmyk_and_webp(rgb, tmp_path):
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "c.jpg", quality=95)
    out = load_image(tmp_path / "c.jpg")
    assert out.shape == (20, 30, 3) and out.dtype == np.uint8
    Image.fromarray(rgb).save(tmp_path / "w.webp", lossless=True)
    np.testing.assert_array_equal(load_image(tmp_path / "w.webp"), rgb)


def test_16bit_png_and_tiff(tmp_path):
    import cv2

    rng = np.random.default_rng(1)
    a16 = rng.integers(0, 65536, (12, 16, 3), dtype=np.uint16)
    cv2.imwrite(str(tmp_path / "c16.png"), a16[..., ::-1])
    cv2.imwrite(str(tmp_path / "c16.tif"), a16[..., ::-1])
    for name in ("c16.png", "c16.tif"):
        arr, info = read_image(tmp_path / name)
        assert info.bit_depth == 16 and arr.dtype == np.uint16
        np.testing.assert_array_equal(arr, a16)
    g16 = rng.integers(0, 65536, (12, 16), dtype=np.uint16)
    Image.fromarray(g16).save(tmp_path / "g16.png")
    arr, info = read_image(tmp_path / "g16.png")
    assert info.bit_depth == 16 and arr.dtype == np.uint16
    np.testing.assert_array_equal(arr[..., 1], g16)


def test_exif_orientation(tmp_path):
    a = np.zeros((10, 20, 3), np.uint8)
    a[0, 0] = 255  # marker at the top-left of the stored pixels
    img = Image.fromarray(a)
    exif = img.getexif()
    exif[0x0112] = 6  # stored rotated: display = rotate 90° clockwise
    img.save(tmp_path / "r.jpg", exif=exif, quality=100)
    arr, info = read_image(tmp_path / "r.jpg")
    assert info.exif_transposed
    assert arr.shape == (20, 10, 3)
    # PIL's exif_transpose is the independent reference
    from PIL import ImageOps

    ref = np.asarray(ImageOps.exif_transpose(Image.open(tmp_path / "r.jpg")).convert("RGB"))
    np.testing.assert_array_equal(arr, ref)


@pytest.mark.parametrize("bad,err", [
    ("missing.png", SourceNotFoundError),
    ("DIR", NotAFileError),
    ("empty.png", DecodeError),
    ("text.png", DecodeError),
])
def test_bad_paths(tmp_path, bad, err):
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "text.png").write_text("not an image at all")
    target = tmp_path if bad == "DIR" else tmp_path / bad
    with pytest.raises(err) as ei:
        load_image(target)
    assert str(target) in str(ei.value) or "directory" in str(ei.value)


def test_truncated_jpeg(rgb, tmp_path):
    buf = io.BytesIO()
    Image.fromarray(np.tile(rgb, (10, 10, 1))).save(buf, "JPEG")
    (tmp_path / "t.jpg").write_bytes(buf.getvalue()[:200])
    with pytest.raises(DecodeError):
        load_image(tmp_path / "t.jpg")


def test_float_array_rejected():
    with pytest.raises(InputError, match="never guesses"):
        load_image(np.zeros((4, 4, 3), np.float32))


def test_folder_walk_skips_and_reports(rgb, tmp_path):
    (tmp_path / "sub").mkdir()
    Image.fromarray(rgb).save(tmp_path / "b.png")
    Image.fromarray(rgb).save(tmp_path / "sub" / "a.JPG")
    (tmp_path / "broken.png").write_text("x")
    (tmp_path / "notes.txt").write_text("ignored: not an image extension")
    (tmp_path / ".hidden.png").write_bytes(b"")
    skipped = []
    with pytest.warns(Warning, match="broken.png"):
        got = [p.name for p, _ in iter_images(tmp_path, skipped=skipped)]
    assert got == ["b.png", "a.JPG"]
    assert [s.path for s in skipped] == [str(tmp_path / "broken.png")]
