"""kadr align: keypoint homography between two images or video frames."""

from __future__ import annotations

from kadr.cli._common import add_picture_pair

COMMAND = "align"
HELP = "homography between two images or frames (ORB/AKAZE/SIFT keypoints, RANSAC/USAC), with an overlay"
DESCRIPTION = """Finds the perspective transform (homography) that maps A onto B from matched
keypoints: detector (ORB by default; AKAZE where the OpenCV build has it; SIFT), Lowe's ratio
test, a robust fit (MAGSAC++ by default), then sub-pixel Lucas-Kanade refinement. Reports the
matches, inliers, the mean reprojection error (px) and where A's corners land in B.
A and B are image files or video frames: clip.mp4@#300 (frame index) or clip.mp4@12.5s (time).
Exit status 2 with a reason when the frames cannot be aligned (textureless, different content).

example:
  kadr align a.jpg b.jpg
  kadr align clip.mp4@#10 clip.mp4@#40 --overlay overlay.png --json
  kadr align a.png b.png --detector sift --method ransac
"""


def add_arguments(parser) -> None:
    from kadr.geometry.keypoints import AlignOptions

    add_picture_pair(parser, "image file or video frame to map A onto", options=AlignOptions,
                     image_flag=("--overlay", "write an overlay: A warped into B's frame (magenta) over B (green); "
                                              "grey where they agree"))


def run(args):
    from kadr.cli._common import load_picture_pair
    from kadr.geometry.keypoints import AlignOptions, align, overlay

    options, a, b = load_picture_pair(args, AlignOptions)
    result = align(a, b, options).to_dict()
    result.update(result.pop("extra"))
    result.update({"a": args.a, "b": args.b})
    if args.overlay:
        from kadr.cli._common import save_rgb

        result["overlay"] = str(save_rgb(overlay(a, b, result["homography"]), args.overlay))
    return result


def render(result, args) -> None:
    print(f"{result['a']} → {result['b']}: aligned with {result['detector'].upper()} + {result['method']}"
          f"{' + LK refinement' if result['refined'] else ''}")
    print(f"  keypoints      {result['keypoints_a']} / {result['keypoints_b']}")
    print(f"  matches        {result['matches']} (ratio test), inliers {result['inliers']} ({result['inlier_ratio']:.0%})")
    if result["refined"]:
        print(f"  refinement     {result['refine_points']} corners tracked to sub-pixel precision")
    print(f"  reprojection   mean {result['reprojection_error']:.3f} px, median {result['reprojection_median']:.3f} px")
    print(f"  coverage       the fit's points span {result['coverage']:.0%} of A"
          + ("" if result["model"] == "homography" else f"  (small: fitted a {result['model']} instead)"))
    print("  homography     " + "\n                 ".join("  ".join(f"{v:11.5g}" for v in row) for row in result["homography"]))
    print("  A's corners in B  " + "  ".join(f"({x:.1f}, {y:.1f})" for x, y in result["corners"]))
    print(f"  time           {result['ms']:.0f} ms")
    if result.get("overlay"):
        print(f"  overlay        {result['overlay']}")
