"""kadr segments: segment two frames and report which regions appeared, vanished or changed."""

from __future__ import annotations

from kadr.cli._common import add_picture_pair

COMMAND = "segments"
HELP = "segment two images/frames, match their regions, list what appeared, vanished or changed"
DESCRIPTION = """Segments A and B (Felzenszwalb by default; SLIC superpixels, compact watershed, or a
SAM-class model from a local folder), describes each region (area, box, colour histogram),
and matches the regions one-to-one (Hungarian method on IoU + colour similarity). Unmatched
regions of B appeared, unmatched regions of A vanished; matched pairs whose colour or
overlap differ are changed. Regions under --min-area of the frame are ignored.
A and B are image files or video frames (clip.mp4@#300, clip.mp4@12.5s) of the same size.

example:
  kadr segments before.png after.png
  kadr segments clip.mp4@#10 clip.mp4@#40 --method slic --segments 100 --json
  kadr segments a.png b.png --draw diff.png
"""


def add_arguments(parser) -> None:
    from kadr.geometry.segmentation import SegmentOptions

    add_picture_pair(parser, "image file or video frame of the same size", options=SegmentOptions,
                     image_flag=("--draw", "write A | B side by side with region outlines: vanished regions red "
                                           "in A, appeared green in B, changed yellow in both"))


def run(args):
    from kadr.cli._common import load_picture_pair
    from kadr.geometry.segmentation import SegmentOptions, compare_regions

    options, a, b = load_picture_pair(args, SegmentOptions)
    diff, la, lb = compare_regions(a, b, options)
    out = {"a": args.a, "b": args.b, "method": options.method, **diff.to_dict()}
    if args.draw:
        import numpy as np

        from kadr.cli._common import save_rgb
        from kadr.geometry.segmentation import draw_regions

        red, green, yellow = (255, 40, 40), (40, 255, 40), (255, 230, 0)
        ha = {r.label: red for r in diff.vanished} | {m["a"]: yellow for m in diff.changed}
        hb = {r.label: green for r in diff.appeared} | {m["b"]: yellow for m in diff.changed}
        out["draw"] = str(save_rgb(np.concatenate([draw_regions(a, la, ha), draw_regions(b, lb, hb)], axis=1),
                                   args.draw))
    return out


def render(result, args) -> None:
    s = result["summary"]
    print(f"{result['a']} → {result['b']} ({result['method']}): {result['regions_a']} / {result['regions_b']} regions; "
          f"same {s['same']}, changed {s['changed']}, appeared {s['appeared']}, vanished {s['vanished']}")
    for title, items in (("appeared in B", result["appeared"]), ("vanished from A", result["vanished"])):
        for r in sorted(items, key=lambda r: -r["area"])[:10]:
            x, y, w, h = r["bbox"]
            print(f"  {title:<16} {r['area']:>8} px  box {x},{y} {w}x{h}")
    for m in sorted((m for m in result["matched"] if m["status"] == "changed"), key=lambda m: m["score"])[:10]:
        x, y, w, h = m["bbox_b"]
        print(f"  changed          box {x},{y} {w}x{h} in B   IoU {m['iou']:.2f}  colour similarity {m['similarity']:.2f}")
    if result.get("draw"):
        print(f"  drawing: {result['draw']}")
