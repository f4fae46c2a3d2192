"""Small helpers shared by command modules (argument types, readers)."""

from __future__ import annotations

import argparse

from kadr._options import add_options, options_from_args
from kadr.io.video import DEFAULT_ANALYSIS_SIZE, Sampling, VideoReader, load_picture


class _RenamedFlag(argparse.Action):
    """An old flag spelling: stores into the new flag's ``dest`` and warns (hidden from --help)."""

    def __init__(self, option_strings, dest, *, new: str, append: bool = False, **kwargs):
        self.new, self.append = new, append
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        from kadr._compat import warn_renamed

        warn_renamed(option_string or self.option_strings[0], self.new)
        value = self.const if self.nargs == 0 else values
        if self.append:
            value = [*(getattr(namespace, self.dest, None) or []), value]
        setattr(namespace, self.dest, value)


def rename_flags(parser: argparse.ArgumentParser, renames: dict[str, str]) -> None:
    """Keep old flag spellings working for one release: ``{"--out": "--output"}``.

    Call after the new flags are added. The old flag takes the same values, stores into the
    same place, is hidden from ``--help`` and warns ``--out is deprecated, use --output``.
    """
    for old, new in renames.items():
        action = parser._option_string_actions.get(new)
        if action is None:
            raise ValueError(f"rename_flags: {new} is not a flag of this parser")
        store_const = action.nargs == 0
        kwargs = {"nargs": 0, "const": action.const} if store_const else {
            "nargs": action.nargs, "type": action.type, "choices": action.choices, "metavar": action.metavar}
        parser.add_argument(old, dest=action.dest, action=_RenamedFlag, new=new, default=argparse.SUPPRESS,
                            help=argparse.SUPPRESS, append=isinstance(action, argparse._AppendAction), **kwargs)
        if action.required:  # argparse would not count the old flag as giving it: check after parsing
            action.required = False
            action.help = f"{action.help} (required)"
            _require_after_parse(parser, action)


def _require_after_parse(parser: argparse.ArgumentParser, action: argparse.Action) -> None:
    parse = parser.parse_known_args

    def parse_known_args(args=None, namespace=None):
        ns, rest = parse(args, namespace)
        if getattr(ns, action.dest, None) is None:
            parser.error(f"the following arguments are required: {'/'.join(action.option_strings)}")
        return ns, rest

    parser.parse_known_args = parse_known_args  # type: ignore[method-assign]


def add_analysis_size(parser: argparse.ArgumentParser,
                      what: str = "the downscaled frames used for analysis (0 = full size)") -> None:
    """``--analysis-size PX`` with the one default, :data:`kadr.io.video.DEFAULT_ANALYSIS_SIZE`."""
    parser.add_argument("--analysis-size", type=int, default=DEFAULT_ANALYSIS_SIZE, metavar="PX",
                        help=f"longest side of {what} (default: %(default)s)")


def add_decode_threads(parser: argparse.ArgumentParser) -> None:
    """``--decode-threads N`` (old spelling ``--threads``, deprecated: it now means inference threads)."""
    parser.add_argument("--decode-threads", type=int, default=0, metavar="N",
                        help="video decoder threads (default: 0 = automatic)")
    rename_flags(parser, {"--threads": "--decode-threads"})


def add_output_argument(parser: argparse.ArgumentParser, *, metavar: str, help: str, required: bool = False,
                        default: str | None = None) -> None:
    """``-o/--output PATH`` (old spelling ``--out``, deprecated)."""
    parser.add_argument("-o", "--output", required=required, default=default, metavar=metavar, help=help)
    rename_flags(parser, {"--out": "--output"})


def add_k_argument(parser: argparse.ArgumentParser, *, default: int, what: str) -> None:
    """``-k/--k N``: how many results or labels (old spelling ``--topk``, deprecated)."""
    parser.add_argument("-k", "--k", type=int, default=default, metavar="N", help=f"{what} (default: %(default)s)")
    rename_flags(parser, {"--topk": "--k"})


def add_reader_arguments(parser: argparse.ArgumentParser, *, sampling: bool = True) -> None:
    add_analysis_size(parser)
    add_decode_threads(parser)
    if sampling:
        add_options(parser, Sampling)


def open_reader(args: argparse.Namespace, source: str) -> VideoReader:
    sampling = options_from_args(Sampling, args) if hasattr(args, "step") else None
    size = args.analysis_size or None
    return VideoReader(source, analysis_size=size, threads=args.decode_threads, sampling=sampling)


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


def add_encoder_flag(parser: argparse.ArgumentParser, *, default: str | None, help: str) -> None:
    """``-e/--encoder NAME`` (old spellings ``-m``/``--model``, deprecated)."""
    parser.add_argument("-e", "--encoder", default=default, metavar="NAME", help=help)
    rename_flags(parser, {"-m": "--encoder", "--model": "--encoder"})


def add_encoder_arguments(parser: argparse.ArgumentParser, *, default: str | None = None) -> None:
    """--encoder NAME plus the runtime flags of the neural encoders (--backend, --threads, --batch-size)."""
    from kadr import features
    from kadr.features.runtime import ModelOptions

    default = default or features.DEFAULT
    add_encoder_flag(parser, default=default, help=f"encoder: {', '.join(features.names())} (default: {default})")
    parser.add_argument("--batch-size", type=int, default=None, metavar="N",
                        help="images per forward pass (default: the encoder's own, 16 for networks)")
    add_options(parser, ModelOptions)


def open_encoder(args: argparse.Namespace, name: str | None = None, **extra):
    """The encoder named by --encoder (or ``name``), with --backend/--threads (and ``extra``
    options) for neural encoders."""
    from kadr import features
    from kadr.features.runtime import ModelOptions

    name = name or args.encoder
    opts = options_from_args(ModelOptions, args)
    if features.is_neural(name):
        return features.get(name, backend=opts.backend, threads=opts.threads, **extra)
    if opts != ModelOptions():
        from kadr.errors import InputError

        raise InputError(f"--backend and --threads apply to neural encoders only, not {name!r}")
    return features.get(name)


#: help text of an argument that takes an image file or a video frame (see :func:`load_picture`).
PICTURE_HELP = "image file or video frame (clip.mp4@#N = frame N, clip.mp4@12.5s = at 12.5 s)"


def add_picture_pair(parser: argparse.ArgumentParser, b_help: str, *, options: type | None = None,
                     image_flag: tuple[str, str] | None = None) -> None:
    """Positional ``a`` and ``b`` (each an image file or a video frame), the flags of an
    ``options`` dataclass, and an optional ``image_flag = (flag, help)`` writing a PNG."""
    parser.add_argument("a", help=PICTURE_HELP)
    parser.add_argument("b", help=b_help)
    if image_flag is not None:
        parser.add_argument(image_flag[0], metavar="PNG", help=image_flag[1])
    if options is not None:
        add_options(parser, options)


def load_picture_pair(args: argparse.Namespace, options: type | None = None):
    """``(a, b)`` RGB arrays of ``args.a`` and ``args.b`` (see :func:`load_picture`), preceded
    by the ``options`` dataclass built from ``args`` when one is given."""
    pair = (load_picture(args.a), load_picture(args.b))
    return pair if options is None else (options_from_args(options, args), *pair)
