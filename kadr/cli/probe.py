"""kadr probe: describe a video file."""

from __future__ import annotations

COMMAND = "probe"
HELP = "show codec, size, rotation, frame rate (VFR?), frame count, duration and audio of a video"
DESCRIPTION = """Describe a video: codec, display size, rotation, average and codec frame rate,
whether the frame rate is variable (VFR), exact frame count (counted from packets, no decoding),
duration and whether it has audio.

example:
  kadr probe clip.mp4
  kadr probe clip.mp4 --json
"""


def add_arguments(parser) -> None:
    parser.add_argument("video", help="video file")
    parser.add_argument("--header-only", action="store_true",
                        help="trust the container header's frame count instead of counting packets (faster on huge files)")


def run(args):
    from kadr.io.probe import probe

    return probe(args.video, header_only=args.header_only).to_dict()


def render(result, args) -> None:
    from kadr.cli._output import print_mapping

    print_mapping(result, title=result["path"])
