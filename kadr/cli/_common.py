"""Small helpers shared by command modules (argument types, readers)."""

from __future__ import annotations

import argparse

from kadr._options import add_options, options_from_args
from kadr.io.video import Sampling, VideoReader

#: Longest side (pixels) of frames used for analysis by the commands that take --analysis-size.
DEFAULT_ANALYSIS_SIZE = 256


def add_reader_arguments(parser: argparse.ArgumentParser, *, sampling: bool = True) -> None:
    parser.add_argument("--analysis-size", type=int, default=DEFAULT_ANALYSIS_SIZE, metavar="PX",
                        help=f"longest side of the downscaled frames used for analysis (default: {DEFAULT_ANALYSIS_SIZE}; 0 = full size)")
    parser.add_argument("--threads", type=int, default=0, help="decoder threads (default: 0 = automatic)")
    if sampling:
        add_options(parser, Sampling)


def open_reader(args: argparse.Namespace, source: str) -> VideoReader:
    sampling = options_from_args(Sampling, args) if hasattr(args, "step") else None
    size = args.analysis_size or None
    return VideoReader(source, analysis_size=size, threads=args.threads, sampling=sampling)


def load_picture(ref: str):
    """RGB ``uint8`` (H, W, 3) from an image file or one frame of a video: ``clip.mp4@#300``
    (frame index) or ``clip.mp4@12.5s`` (time)."""
    from pathlib import Path

    from kadr.io.images import load_image
    from kadr.io.timecode import split_frame_ref

    parts = None if Path(ref).exists() else split_frame_ref(ref)
    if parts is None:
        return load_image(ref)
    path, what, value = parts
    with VideoReader(path) as r:
        f = r.read(time=value) if what == "time" else r.read(frame=int(value))
        return f.image


def save_rgb(image, path):
    """Write an RGB ``uint8`` array as an image file (format from the suffix); returns the Path."""
    from pathlib import Path

    import numpy as np
    from PIL import Image

    from kadr.errors import OutputError

    p = Path(path).expanduser()
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.ascontiguousarray(image)).save(p)
    except (OSError, ValueError, KeyError) as exc:
        raise OutputError(f"cannot write {str(p)!r}: {exc}; check the folder and the file suffix (.png, .jpg)") from None
    return p


def add_encoder_arguments(parser: argparse.ArgumentParser, *, default: str | None = None) -> None:
    """--model NAME plus the runtime flags of the neural encoders (--backend, --threads, --batch-size)."""
    from kadr import features
    from kadr.features.runtime import ModelOptions

    default = default or features.DEFAULT
    parser.add_argument("-m", "--model", default=default, metavar="NAME",
                        help=f"encoder: {', '.join(features.names())} (default: {default})")
    parser.add_argument("--batch-size", type=int, default=None, metavar="N",
                        help="images per forward pass (default: the encoder's own, 16 for networks)")
    add_options(parser, ModelOptions)


def open_encoder(args: argparse.Namespace, name: str | None = None, **extra):
    """The encoder named by --model (or ``name``), with --backend/--threads (and ``extra``
    options) for neural encoders."""
    from kadr import features
    from kadr.features.runtime import ModelOptions

    name = name or args.model
    opts = options_from_args(ModelOptions, args)
    if features.is_neural(name):
        return features.get(name, backend=opts.backend, threads=opts.threads, **extra)
    if opts != ModelOptions():
        from kadr.errors import InputError

        raise InputError(f"--backend and --threads apply to neural encoders only, not {name!r}")
    return features.get(name)


#: help text of an argument that takes an image file or a video frame (see :func:`load_picture`).
PICTURE_HELP = "image file or video frame (clip.mp4@#N = frame N, clip.mp4@12.5s = at 12.5 s)"


def add_picture_pair(parser: argparse.ArgumentParser, b_help: str) -> None:
    """Positional ``a`` and ``b`` arguments, each an image file or a video frame."""
    parser.add_argument("a", help=PICTURE_HELP)
    parser.add_argument("b", help=b_help)


def load_picture_pair(args: argparse.Namespace):
    """The RGB arrays of ``args.a`` and ``args.b`` (see :func:`load_picture`)."""
    return load_picture(args.a), load_picture(args.b)
