"""Entry point: parser assembly from the command modules, error handling, warnings."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import traceback
import warnings
from types import ModuleType
from typing import Sequence

import kadr
from kadr.cli._output import print_json, print_mapping
from kadr.errors import KadrError, KadrWarning


def command_modules() -> list[ModuleType]:
    """Every command module of ``kadr.cli`` (those not starting with ``_``), sorted by name."""
    import kadr.cli as pkg

    mods = []
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name.startswith("_") or info.name == "main":
            continue
        mod = importlib.import_module(f"kadr.cli.{info.name}")
        if hasattr(mod, "COMMAND"):
            mods.append(mod)
    return sorted(mods, key=lambda m: m.COMMAND)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="machine-readable JSON on stdout (logs stay on stderr)")
    common.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    parser = argparse.ArgumentParser(
        prog="kadr",
        description="Compare images and video frames by what they show: shots, keyframes, "
                    "similarity metrics, encoders, search and stream watching.",
        epilog="Run `kadr COMMAND --help` for the options of one command.",
    )
    parser.add_argument("--version", action="version", version=f"kadr {kadr.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in command_modules():
        p = sub.add_parser(mod.COMMAND, help=mod.HELP, description=getattr(mod, "DESCRIPTION", mod.HELP),
                           parents=[common], formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.add_arguments(p)
        p.set_defaults(_module=mod)
        for old in getattr(mod, "DEPRECATED_ALIASES", ()):  # no help=: not listed, still parsed (and warned)
            p = sub.add_parser(old, description=getattr(mod, "DESCRIPTION", mod.HELP), parents=[common],
                               formatter_class=argparse.RawDescriptionHelpFormatter)
            mod.add_arguments(p)
            p.set_defaults(_module=mod)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001
    prefix = "warning" if issubclass(category, KadrWarning) else category.__name__
    print(f"kadr: {prefix}: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    # the warning display and filters are this call's only: catch_warnings restores them on
    # return, so main() called from Python (tests, notebooks) leaves the caller's as they were
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning  # before parsing: old flag spellings warn while parsed
        return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_module", None):
        parser.print_help()
        return 0
    mod = args._module
    debug = getattr(args, "debug", False)
    if args.command in getattr(mod, "DEPRECATED_ALIASES", ()):
        from kadr._compat import warn_renamed

        warn_renamed(f"`kadr {args.command}`", f"`kadr {mod.COMMAND}`")
    if not debug:
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
    try:
        result = mod.run(args)
        if result is not None:
            if args.json:
                print_json(result)
            elif hasattr(mod, "render"):
                mod.render(result, args)
            elif isinstance(result, dict):
                print_mapping(result)
            else:
                print(result)
        return int(getattr(args, "_exit_code", 0))
    except KadrError as exc:
        if debug:
            traceback.print_exc()
        print(f"kadr: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("kadr: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: one line, traceback only with --debug
        if debug:
            traceback.print_exc()
        print(f"kadr: internal error: {type(exc).__name__}: {exc} (rerun with --debug and report it)",
              file=sys.stderr)
        return 1


def entry() -> None:
    try:
        rc = main()
    except KeyboardInterrupt:  # Ctrl-C while the parser or a command module was still importing
        print("kadr: interrupted", file=sys.stderr)
        rc = 130
    sys.exit(rc)
