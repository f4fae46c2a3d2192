"""kadr compare: image metrics between two images, video frames or folders of images."""

from __future__ import annotations

COMMAND = "compare"
HELP = "compare two images, video frames or folders with SSIM, MS-SSIM, PSNR, MSE, MAE"
DEFAULT_METRICS = "ssim,ms_ssim,psnr"
DESCRIPTION = f"""Compare A with B using image metrics (default: {DEFAULT_METRICS}).

A and B can each be an image file, a video frame (clip.mp4@12.5s for the frame shown at
12.5 s, clip.mp4@#300 for frame 300, 0-based) or a folder. Two folders are paired by file
name (relative path without extension, so shot1.png pairs with shot1.jpg), one row per pair;
a folder against a single image compares every image of the folder with it.
Images must have the same size unless --resize is given (B is resized to A's size).
Colour metrics are the mean over the RGB channels; --grey compares luma (BT.601) instead.

example:
  kadr compare ref.png test.jpg
  kadr compare clip.mp4@#120 clip_reencoded.mp4@#120 --metrics ssim,psnr --json
  kadr compare originals/ exports/ --resize
"""


def add_arguments(parser) -> None:
    parser.add_argument("a", help="image, video frame (clip.mp4@12.5s / clip.mp4@#300) or folder")
    parser.add_argument("b", help="image, video frame or folder to compare with A")
    parser.add_argument("--metrics", default=DEFAULT_METRICS, metavar="LIST",
                        help="comma-separated image metrics (from: mae, ms_ssim, mse, psnr, ssim; "
                             f"default: {DEFAULT_METRICS})")
    parser.add_argument("--resize", action="store_true",
                        help="resize B to A's size when they differ (area interpolation when shrinking)")
    parser.add_argument("--grey", action="store_true", help="compare luma (BT.601) instead of RGB")
    parser.add_argument("--mask", choices=("motion", "gradient", "contrast"), default=None,
                        help="weight SSIM by a mask (kadr.geometry.masks): motion = optical flow A→B (A, B "
                             "consecutive or chosen frames), gradient = HSV HOG gradients, contrast = local RMS "
                             "contrast; the weight is the max of both frames' masks")


def _parse_metrics(text: str) -> list:
    from kadr.errors import InputError, UnknownNameError
    from kadr.metrics import get, names

    wanted = [m.strip().lower() for m in text.split(",") if m.strip()]
    if not wanted:
        raise InputError("--metrics is empty; give e.g. --metrics ssim,psnr")
    valid = names("image")
    out = []
    for name in wanted:
        if name not in valid:
            raise UnknownNameError("image metric", name, valid)
        out.append(get(name))
    return out


def _load_one(ref: str):
    """(label, RGB array) of an image file or a video frame reference."""
    from pathlib import Path

    from kadr.errors import DecodeError, InputError
    from kadr.io import IMAGE_EXTENSIONS
    from kadr.io.video import load_picture

    try:
        return ref, load_picture(ref)
    except DecodeError:
        if Path(ref).suffix.lower() not in IMAGE_EXTENSIONS:
            raise InputError(f"{ref!r} is not an image; for a video frame write {ref}@12.5s (time) "
                             f"or {ref}@#300 (frame index)") from None
        raise


def _folder_items(folder):
    from pathlib import Path

    from kadr.io import iter_image_paths

    root = Path(folder)
    items = {}
    for p in iter_image_paths(root):
        key = p.relative_to(root).with_suffix("").as_posix()
        items.setdefault(key, p)
    return items


def _pairs(a: str, b: str) -> tuple[list[tuple[str, str]], dict]:
    """List of (A item, B item) references and the unpaired names of each side."""
    from pathlib import Path

    from kadr.errors import InputError

    da, db = Path(a).is_dir(), Path(b).is_dir()
    if da and db:
        ia, ib = _folder_items(a), _folder_items(b)
        common = sorted(ia.keys() & ib.keys())
        if not common:
            raise InputError(f"no file names in common between {a!r} ({len(ia)} images) and {b!r} "
                             f"({len(ib)} images); folders are paired by file name without extension")
        unpaired = {"a": sorted(ia.keys() - ib.keys()), "b": sorted(ib.keys() - ia.keys())}
        return [(str(ia[k]), str(ib[k])) for k in common], unpaired
    if da or db:
        items = _folder_items(a if da else b)
        if not items:
            raise InputError(f"no images found in folder {a if da else b!r}")
        return [((str(p), b) if da else (a, str(p))) for p in items.values()], {"a": [], "b": []}
    for ref in (a, b):  # a missing file fails here, before the metrics (torch) are imported
        base = ref if Path(ref).exists() or "@" not in ref else ref.rsplit("@", 1)[0]
        if not Path(base).exists():
            from kadr.errors import SourceNotFoundError

            raise SourceNotFoundError(f"not found: {ref!r}; check the path")
    return [(a, b)], {"a": [], "b": []}


def _prepare(img_a, img_b, *, resize: bool, grey: bool, names: tuple[str, str]):
    import numpy as np

    from kadr.errors import ShapeError

    if img_a.shape[:2] != img_b.shape[:2]:
        if not resize:
            raise ShapeError(f"{names[0]} is {img_a.shape[1]}x{img_a.shape[0]} but {names[1]} is "
                             f"{img_b.shape[1]}x{img_b.shape[0]}; pass --resize to resize B to A's size")
        import cv2

        shrink = img_b.shape[0] * img_b.shape[1] > img_a.shape[0] * img_a.shape[1]
        img_b = cv2.resize(img_b, (img_a.shape[1], img_a.shape[0]),
                           interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    data_range = None
    if img_a.dtype != img_b.dtype:  # 8-bit vs 16-bit: compare on a common [0, 1] scale
        img_a = img_a / float(np.iinfo(img_a.dtype).max)
        img_b = img_b / float(np.iinfo(img_b.dtype).max)
        data_range = 1.0
    if grey:
        if data_range is None:
            data_range = float(np.iinfo(img_a.dtype).max)
        from kadr.io.images import LUMA_BT601

        w = np.array(LUMA_BT601)
        img_a, img_b = img_a @ w, img_b @ w  # float64 luma, same range as the input
    return img_a, img_b, data_range


def mask_weights(args, img_a, img_b, data_range=None):
    """Per-pixel weight map (HxW) for weighted SSIM, or None. Extension point for --mask."""
    if not getattr(args, "mask", None):
        return None
    from kadr.geometry.masks import pair_mask

    return pair_mask(img_a, img_b, args.mask, data_range=data_range)


def run(args):
    from kadr._progress import track

    pairs, unpaired = _pairs(args.a, args.b)
    metrics = _parse_metrics(args.metrics)
    rows = []
    for ra, rb in track(pairs, total=len(pairs), desc="compare", unit="pairs"):
        la, img_a = _load_one(ra)
        lb, img_b = _load_one(rb)
        x, y, data_range = _prepare(img_a, img_b, resize=args.resize, grey=args.grey, names=(la, lb))
        weights = mask_weights(args, x, y, data_range)
        row = {"a": la, "b": lb, "width": int(x.shape[1]), "height": int(x.shape[0])}
        for m in metrics:
            kw = {"data_range": data_range} if m.needs_data_range and data_range is not None else {}
            if weights is not None and m.accepts_weights:
                kw["weights"] = weights
            row[m.name] = float(m(x, y, **kw))
        rows.append(row)
    summary = {m.name: sum(r[m.name] for r in rows) / len(rows) for m in metrics}
    return {"metrics": [m.name for m in metrics],
            "higher_is_better": {m.name: m.higher_is_better for m in metrics},
            "pairs": rows, "mean": summary, "unpaired": unpaired}


def render(result, args) -> None:
    names = result["metrics"]
    rows = result["pairs"]

    def fmt(v):
        return "inf" if v == float("inf") else f"{v:.4f}"

    if len(rows) == 1:
        r = rows[0]
        print(f"{r['a']}  vs  {r['b']}  ({r['width']}x{r['height']})")
        for n in names:
            arrow = "higher is better" if result["higher_is_better"][n] else "lower is better"
            print(f"  {n.ljust(8)} {fmt(r[n])}   ({arrow})")
        return
    width = max(len(f"{r['a']} vs {r['b']}") for r in rows)
    print("pair".ljust(width) + "".join(n.rjust(10) for n in names))
    for r in rows:
        print(f"{r['a']} vs {r['b']}".ljust(width) + "".join(fmt(r[n]).rjust(10) for n in names))
    print("mean".ljust(width) + "".join(fmt(result["mean"][n]).rjust(10) for n in names))
    for side in ("a", "b"):
        if result["unpaired"][side]:
            print(f"unpaired in {side.upper()}: {', '.join(result['unpaired'][side])}")
