"""One vocabulary (docs/glossary.md): new flag spellings, old ones kept one release with a warning."""

import argparse
import json
import re
import warnings

import pytest

from kadr.cli._common import rename_flags
from kadr.cli.main import build_parser, command_modules, main
from kadr.errors import KadrDeprecationWarning

#: flags the glossary retired; no command may offer them as a visible (non-deprecated) flag
OLD_FLAGS = ("--model", "--out", "--topk", "--classifier")


def _visible_flags(parser: argparse.ArgumentParser) -> set[str]:
    return {s for a in parser._actions if a.help is not argparse.SUPPRESS for s in a.option_strings}


def _subparsers(parser):
    for a in parser._actions:
        if isinstance(a, argparse._SubParsersAction):
            for name, p in a.choices.items():
                yield name, p
                yield from ((f"{name} {n}", q) for n, q in _subparsers(p))


def test_no_command_shows_a_retired_flag():
    for name, p in _subparsers(build_parser()):
        flags = _visible_flags(p)
        assert not flags & set(OLD_FLAGS), (name, flags & set(OLD_FLAGS))
        if "--output" in flags:
            assert "-o" in flags, name
        # --threads is the encoders' inference threads; decoders have --decode-threads
        if "--decode-threads" in flags:
            assert "--threads" not in flags, name


def test_rename_flags_store_append_and_store_true():
    p = argparse.ArgumentParser()
    p.add_argument("--output")
    p.add_argument("--query", action="append", default=[])
    p.add_argument("--fast", action="store_true")
    rename_flags(p, {"--out": "--output", "--q": "--query", "--quick": "--fast"})
    with pytest.warns(KadrDeprecationWarning, match="--out is deprecated, use --output"):
        ns = p.parse_args(["--out", "x", "--query", "a", "--q", "b", "--quick"])
    assert ns.output == "x" and ns.query == ["a", "b"] and ns.fast is True
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ns = p.parse_args([])  # defaults come from the new flags, no warning
    assert ns.output is None and ns.query == [] and ns.fast is False
    assert not re.search(r"--out\b", p.format_help())


def test_old_spellings_still_work_with_a_warning(capsys, tmp_path):
    from PIL import Image

    img = tmp_path / "a.png"
    Image.new("RGB", (32, 24), (200, 30, 30)).save(img)
    code = main(["embed", str(img), "--model", "hsv-hist", "--out", str(tmp_path / "e.npy"), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "kadr: warning: --model is deprecated, use --encoder" in err
    assert "kadr: warning: --out is deprecated, use --output" in err
    res = json.loads(out)
    assert res["encoder"] == "hsv-hist" and res["model"] == "hsv-hist"  # old JSON key kept one release


def test_analyze_is_the_deprecated_spelling_of_analyse(capsys):
    names = [m.COMMAND for m in command_modules()]
    assert "analyse" in names and "analyze" not in names
    code, out, _ = _help(capsys, "analyse")
    assert code == 0 and "--label-encoder" in out
    assert "analyze" not in _help(capsys)[1]  # not listed, still parsed
    ns = build_parser().parse_args(["analyze", "x.mp4", "-o", "out"])
    assert ns._module.COMMAND == "analyse"


def _help(capsys, *cmd):
    try:
        main([*cmd, "--help"] if cmd else [])
    except SystemExit as e:
        return e.code, capsys.readouterr().out, None
    return 0, capsys.readouterr().out, None


def test_python_keyword_renames_warn():
    from kadr import features

    enc = features.get("hsv-hist")
    with pytest.raises(Exception, match="cannot classify"):
        with pytest.warns(KadrDeprecationWarning, match="topk= is deprecated, use k="):
            enc.classify([], topk=3)
