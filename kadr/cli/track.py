"""kadr track: follow an object through a video as an oriented box."""

from __future__ import annotations

from kadr._options import add_options, options_from_args

COMMAND = "track"
HELP = "follow an object (given by a box) through a video; oriented box per frame, lost/found states"
DESCRIPTION = """Follows the object inside --box from --start on: corners tracked with Lucas-Kanade
give a rotation + scale + shift per frame; the keypoints of the first box are a template that
re-anchors the box when it drifts and finds the object again after it was lost (occluded,
out of frame, or a shot boundary). Per frame: state (init, tracked, lost, found), the box
(centre cx,cy, size w,h, angle in degrees, clockwise on screen) and its 4 corners, in the
video's pixel coordinates. Lost frames have no box.

Shot boundaries come from kadr's shot detector; --on-boundary stop ends the track at the first
boundary, reacquire (default) looks for the object again in the next shot.

example:
  kadr track clip.mp4 --box 420,180,120,90
  kadr track clip.mp4 --box 420,180,120,90,15 --start 40 --json > track.json
  kadr track clip.mp4 --box 420,180,120,90 --draw tracked.mp4
"""

def add_arguments(parser) -> None:
    from kadr.geometry.tracking import TrackOptions

    parser.add_argument("video", help="video file")
    parser.add_argument("--box", required=True, metavar="X,Y,W,H[,ANGLE]",
                        help="the object in the start frame: top-left x,y and size w,h of the unrotated box "
                             "(pixels), optional angle in degrees (clockwise), turning about the box centre")
    parser.add_argument("--start", type=int, default=0, metavar="FRAME", help="frame index of --box (default: 0)")
    parser.add_argument("--end", type=int, default=None, metavar="FRAME", help="stop before this frame (default: the end)")
    parser.add_argument("--on-boundary", choices=("reacquire", "stop"), default="reacquire",
                        help="at a shot boundary: look for the object again, or end the track (default: reacquire)")
    parser.add_argument("--no-shots", action="store_true", help="do not look for shot boundaries")
    parser.add_argument("--draw", metavar="MP4", help="write the video with the box drawn on it")
    add_options(parser, TrackOptions)


def boundaries(path: str, args) -> tuple[set[int], str]:
    """First frames of new shots (cuts) and starts of gradual transitions, and the method used."""
    from kadr.video.shots import detect_shots, names

    det = "classic" if "classic" in names() else "auto"
    res = detect_shots(path, detector=det, progress=False)
    return {t.start_frame for t in res.transitions}, f"kadr.video.shots ({res.detector})"


def run(args):
    import numpy as np

    from kadr._checks import atomic_path, check_file, check_output_file
    from kadr._progress import track
    from kadr.errors import InputError
    from kadr.geometry.tracking import Tracker, TrackOptions, check_box_in_frame, parse_box
    from kadr.io.video import FALLBACK_FPS, VideoReader

    check_file(args.video, what="video")
    if args.draw:
        check_output_file(args.draw, what="--draw video")  # before tracking, not after it
    box = parse_box(args.box)
    options = options_from_args(TrackOptions, args)
    if args.start < 0 or (args.end is not None and args.end <= args.start):
        raise InputError("--start must be >= 0 and --end greater than --start")
    cuts, how = (set(), "off") if args.no_shots else boundaries(args.video, args)
    writer_frames = [] if args.draw else None
    rows = []
    with VideoReader(args.video, analysis_size=options.work_size or None) as reader:
        if reader.frame_count is not None and args.start >= reader.frame_count:
            raise InputError(f"--start {args.start} is past the last frame ({reader.frame_count - 1})")
        check_box_in_frame(box, reader.width, reader.height)
        fps = reader.fps or FALLBACK_FPS
        tracker = Tracker(TrackOptions(**{**options.__dict__, "work_size": 0}))
        scale = None
        frames = reader.frames() if args.start == 0 else reader.seek(frame=args.start).frames()
        total = (args.end or reader.frame_count or 0) - args.start or None
        for f in track(frames, total=total, desc="track", unit="frames"):
            if args.end is not None and f.index >= args.end:
                break
            img = f.analysis_image
            if scale is None:
                scale = img.shape[1] / reader.width
                p = tracker.start(img, box.scaled(scale), frame=f.index, time=f.time)
                p.box = box
            else:
                at_cut = f.index in cuts
                if at_cut and args.on_boundary == "stop":
                    break
                p = tracker.update(img, frame=f.index, time=f.time, boundary=at_cut)
                p.box = None if p.box is None else p.box.scaled(1 / scale)
            d = p.to_dict()
            d["time"] = round(f.time, 6)
            rows.append(d)
            if writer_frames is not None:
                writer_frames.append(_draw(f.image, p))
    out = {"video": args.video, "start": args.start, "box": box.to_dict(), "shot_boundaries": how,
           "boundaries": sorted(c for c in cuts if c > args.start), "frames": len(rows),
           "summary": {s: sum(r["state"] == s for r in rows) for s in ("tracked", "lost", "found")},
           "reanchored": int(np.sum([r["reanchored"] for r in rows])), "track": rows}
    if writer_frames:
        from kadr.io.synthetic import write_video

        with atomic_path(args.draw) as tmp:
            write_video(writer_frames, tmp, fps=fps)
        out["draw"] = str(args.draw)
    return out


def _draw(image, point):
    import cv2
    import numpy as np

    img = np.ascontiguousarray(image.copy())
    colour = {"init": (0, 255, 0), "tracked": (0, 255, 0), "found": (255, 255, 0)}.get(point.state)
    if point.box is not None and colour:
        cv2.polylines(img, [point.box.corners().round().astype(np.int32)], True, colour,
                      max(2, img.shape[1] // 400), cv2.LINE_AA)
    cv2.putText(img, f"{point.frame} {point.state}", (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 0, 0), 2)
    return img


def render(result, args) -> None:
    s = result["summary"]
    print(f"{result['video']}: {result['frames']} frames from #{result['start']} — tracked {s['tracked']}, "
          f"lost {s['lost']}, found again {s['found']}, re-anchored {result['reanchored']}")
    print(f"  shot boundaries ({result['shot_boundaries']}): {result['boundaries'] or 'none'}")
    marks = {"init": "●", "tracked": "━", "lost": "·", "found": "▲"}
    print("  states  " + "".join(marks[r["state"]] for r in result["track"][:: max(1, len(result["track"]) // 80)]))
    prev = None
    for r in result["track"]:
        if r["state"] != prev or r["reanchored"] and r["state"] == "found":
            where = "no box" if r["cx"] is None else \
                f"centre ({r['cx']:.1f}, {r['cy']:.1f}) size {r['w']:.1f}x{r['h']:.1f} angle {r['angle']:.1f}°"
            print(f"  #{r['frame']:<6} {r['time']:8.3f}s  {r['state']:<8} {where}")
            prev = r["state"]
    last = next((r for r in reversed(result["track"]) if r["cx"] is not None), None)
    if last:
        print(f"  last box #{last['frame']}: centre ({last['cx']:.1f}, {last['cy']:.1f}) size {last['w']:.1f}x{last['h']:.1f} "
              f"angle {last['angle']:.1f}°")
    if result.get("draw"):
        print(f"  drawn video: {result['draw']}")
