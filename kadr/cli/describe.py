"""kadr describe: a caption (model folder) or kadr's measured description of images and video keyframes."""

from __future__ import annotations

COMMAND = "describe"
HELP = "describe images and video keyframes: a caption from a model folder, or kadr's measured description"
DESCRIPTION = """One line of text per image, and per keyframe of every shot of a video.

Offline default (--describer measured): a *measured description*, built only from what kadr
measured — the top ImageNet labels (effnet-lite0), the named colours covering >= 12 % of the
picture, brightness, black-and-white or flat frames, and for video keyframes the shot length
and the camera / subject motion measured in the shot. It is labelled "measured", never
presented as a caption.

With --describer caption:/path/to/folder, a captioning or small vision-language model saved
with save_pretrained (BLIP, GIT, Florence-2, SmolVLM ... through transformers, never
downloaded) writes a caption per picture.

examples:
  kadr describe photo.jpg
  kadr describe clip.mp4 --json
  kadr describe photos/ --describer caption:/models/blip-base
"""


def add_arguments(parser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image files, folders or video files")
    parser.add_argument("--describer", default="measured", metavar="NAME",
                        help="'measured' (offline, default) or caption:/path/to/model-folder")
    parser.add_argument("--max-new-tokens", type=int, default=30, metavar="N",
                        help="longest caption in tokens (captioning models only; default: 30)")


def run(args):
    import warnings

    from kadr.errors import InputError, KadrWarning
    from kadr.features.describe import describe_images
    from kadr.features.pipeline import media_files
    from kadr.io.files import is_video
    from kadr.io.images import SkippedFile, load_image

    describer = _describer(args)
    files = list(media_files(args.paths))
    if not files:
        raise InputError(f"no image or video files in {', '.join(args.paths)}")
    out, skipped = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KadrWarning)
        for f in files:
            try:
                if is_video(f):
                    from kadr.video.describe import describe_video

                    out.extend(describe_video(f, describer=None if describer == "measured" else describer))
                    continue
                img = load_image(f)
            except InputError as exc:  # DecodeError and friends: skip, list
                skipped.append(SkippedFile(str(f), str(exc)))
                continue
            if describer == "measured":
                d = describe_images([img])[0]
                out.append({"source": str(f), "kind": d.kind, "text": d.text(), "fields": d.to_dict()})
            else:
                out.append({"source": str(f), "kind": "caption", "text": describer.describe([img])[0]})
    if not out:
        raise InputError("nothing could be described: " + "; ".join(f"{s.path}: {s.reason}" for s in skipped))
    return {"describer": describer if describer == "measured" else describer.name, "descriptions": out,
            "skipped": [{"path": s.path, "reason": s.reason} for s in skipped]}


def _describer(args):
    from kadr.errors import InputError
    from kadr.index.text import open_describer

    name = args.describer
    if name != "measured" and not str(name).lower().startswith("caption:"):
        raise InputError(f"--describer must be 'measured' or caption:/path/to/model-folder, got {name!r}")
    if name == "measured":
        return "measured"
    from kadr.features.caption import Captioner

    d = open_describer(name)
    return Captioner(d.path, max_new_tokens=args.max_new_tokens) if args.max_new_tokens != d.max_new_tokens else d


def render(result, args) -> None:
    for d in result["descriptions"]:
        where = d["source"] + (f" @ {d['time']:.2f}s (shot {d['shot']})" if "time" in d else "")
        print(f"{where}\n  [{d['kind']}] {d['text']}")
    for s in result["skipped"]:
        print(f"skipped {s['path']}: {s['reason']}")
