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
