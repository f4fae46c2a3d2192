"""CLI failure modes of the hostile sweep (issue 16): unwritable outputs fail before the work
with one line, failed runs leave no folder or half-written file, non-UTF-8 names work,
main() leaves the caller's warnings machinery alone."""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from kadr._checks import atomic_path, check_output_dir, check_output_file, output_folder, write_text_atomic
from kadr.cli.main import main
from kadr.errors import OutputError


@pytest.fixture()
def blocker(tmp_path) -> Path:
    """A plain file: any output path below it cannot be created (works as root too)."""
    f = tmp_path / "a-file"
    f.write_text("x")
    return f


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    from kadr.io.synthetic import write_video

    rng = np.random.default_rng(1)
    frames = [np.full((48, 64, 3), 40, np.uint8)] * 6 + [rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)] * 6
    return write_video(frames, tmp_path_factory.mktemp("clip") / "cut.mp4", fps=12)


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    errors = [ln for ln in err if ln.startswith("kadr: error:")]
    assert len(errors) == 1 and not any("Traceback" in ln or "internal error" in ln for ln in err), err
    return errors[0]


@pytest.mark.parametrize("argv", [
    ["export-onnx", "effnet-lite0", "{b}/model.onnx"],
    ["embed", "{clip}", "-o", "{b}/emb.npy", "--encoder", "hsv-hist"],
    ["track", "{clip}", "--box", "8,8,20,20", "--draw", "{b}/tracked.mp4"],
    ["demo", "-o", "{b}/demo"],
    ["analyse", "{clip}", "-o", "{b}/out", "--label-encoder", "none"],
])
def test_unwritable_output_fails_before_the_work_with_one_line(argv, blocker, clip, capsys):
    rc = main([a.format(b=blocker, clip=clip) for a in argv])
    assert rc == 2
    line = _one_error_line(capsys)
    assert str(blocker) in line and "is a file" in line


def test_failed_run_removes_the_output_folder_it_created(tmp_path, capsys):
    out = tmp_path / "new" / "analysis"
    assert main(["analyse", str(tmp_path / "missing.mp4"), "-o", str(out)]) == 2
    _one_error_line(capsys)
    assert not (tmp_path / "new").exists()  # parents it created go too
    keep = tmp_path / "existing"
    keep.mkdir()
    (keep / "mine.txt").write_text("user data")
    assert main(["analyse", str(tmp_path / "missing.mp4"), "-o", str(keep)]) == 2
    assert (keep / "mine.txt").read_text() == "user data"  # an existing folder is never removed


def test_output_folder_is_removed_on_ctrl_c_too(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with output_folder(tmp_path / "run") as d:
            (d / "partial.json").write_text("{")
            raise KeyboardInterrupt
    assert not (tmp_path / "run").exists()


def test_atomic_outputs_leave_nothing_half_written(tmp_path):
    target = tmp_path / "report.html"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            assert tmp.suffix == ".html" and tmp.parent == tmp_path
            tmp.write_text("<html>half")
            raise RuntimeError("renderer failed")
    assert list(tmp_path.iterdir()) == []
    # a non-UTF-8 file name inside the text (a lone surrogate) used to leave a 0-byte page
    write_text_atomic("<p>" + os.fsdecode(b"caf\xe9.png") + "</p>", target)
    assert target.read_text(encoding="utf-8") == "<p>caf\\xe9.png</p>"


def test_output_checks(tmp_path, blocker):
    with pytest.raises(OutputError, match="is a folder"):
        check_output_file(tmp_path)
    with pytest.raises(OutputError, match="is a file"):
        check_output_dir(blocker)
    assert check_output_file(tmp_path / "a" / "b" / "c.npy") == tmp_path / "a" / "b" / "c.npy"
    assert not (tmp_path / "a").exists()  # checking creates nothing
    if os.geteuid() != 0:  # root may write anywhere
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        with pytest.raises(OutputError, match="not writable"):
            check_output_file(ro / "x.onnx")


@pytest.mark.skipif(sys.platform == "darwin", reason="macOS refuses names that are not UTF-8")
def test_analyse_of_a_non_utf8_file_name_writes_a_full_report(tmp_path, clip, capsys):
    odd = Path(os.fsdecode(os.fsencode(tmp_path) + b"/clip-\xff.mp4"))
    odd.write_bytes(clip.read_bytes())
    out = tmp_path / "out"
    assert main(["analyse", str(odd), "-o", str(out), "--label-encoder", "none", "--json"]) == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "clip-\\xff.mp4" in page and page.rstrip().endswith("</html>")
    assert not [p for p in out.iterdir() if ".partial-" in p.name]


def test_main_leaves_the_callers_warning_machinery_alone(capsys):
    before = warnings.showwarning
    filters = list(warnings.filters)
    main(["search", "--db", "/nonexistent/db", "--image", "x.png"])
    capsys.readouterr()
    assert warnings.showwarning is before and warnings.filters == filters


#: Libraries that each cost from a few hundred ms to seconds of CPU to import (torch ~2 s here).
HEAVY = ("torch", "lancedb", "transformers", "onnxruntime", "pyarrow", "ray")


@pytest.mark.parametrize("argv", [
    ["--help"], ["compare", "missing-a.png", "missing-b.png"], ["search", "--db", "/nonexistent/db", "--image", "q.png"],
    ["index", "stats", "--db", "/nonexistent/db"], ["analyse", "/nonexistent.mp4"], ["embed", "/nonexistent", "-o", "x.npy"],
    ["watch", "/nonexistent.mp4", "--query", "q.png"], ["shots", "/nonexistent.mp4"],
])
def test_help_and_early_errors_import_no_heavy_library(argv):
    # start-up cost is imports: torch alone is ~2 s of CPU here. `--help` and an error found in
    # the arguments must not pay it (checked by what is imported, not by a timing)
    import subprocess

    code = ("import sys\nfrom kadr.cli.main import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            f"print('HEAVY=' + ','.join(m for m in {HEAVY!r} if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=120,
                       cwd=Path(__file__).resolve().parents[2])
    assert r.stdout.strip().splitlines()[-1] == "HEAVY=", f"{argv} imported {r.stdout.strip().splitlines()[-1]}"


def test_failed_first_index_add_leaves_no_empty_db_folder(tmp_path, capsys):
    db = tmp_path / "new.db"
    assert main(["index", "add", str(tmp_path / "missing"), "--db", str(db), "--encoder", "hsv-hist"]) == 2
    assert main(["index", "add", str(tmp_path), "--db", str(db), "--encoder", "no-such-encoder"]) == 2
    capsys.readouterr()
    assert not db.exists()
