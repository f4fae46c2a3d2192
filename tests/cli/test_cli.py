import json
import subprocess
import sys

import pytest

from kadr.cli.main import command_modules, main
from tests.conftest import run_cli


def test_help_and_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert "kadr 0." in capsys.readouterr().out
    code, out, _ = run_cli(capsys)
    assert code == 0 and "probe" in out


def test_every_command_has_help_and_json(capsys):
    for mod in command_modules():
        with pytest.raises(SystemExit) as e:
            main([mod.COMMAND, "--help"])
        assert e.value.code == 0
        out = capsys.readouterr().out
        assert "--json" in out, mod.COMMAND
        assert len(mod.HELP) > 20, mod.COMMAND


def test_probe_json(capsys, demo_clip):
    path, truth = demo_clip
    code, out, err = run_cli(capsys, "probe", str(path), "--json")
    assert code == 0
    info = json.loads(out)
    assert info["frame_count"] == truth.frames and info["codec"] == "h264"


def test_stats_json(capsys, demo_clip):
    path, truth = demo_clip
    code, out, _ = run_cli(capsys, "stats", str(path), "--json", "--analysis-size", "64")
    assert code == 0
    res = json.loads(out)
    assert res["frames"] == truth.frames
    rows = res["per_frame"]
    # the cut is the largest histogram change of the whole clip
    cut = truth.hard[0]
    assert max(rows, key=lambda r: r["hist_l1_prev"])["index"] in (cut, truth.hard[-1])
    # the black frames of the fade are dark
    fade_out = [t for t in truth.types if t[0] == "fade_out"][0]
    assert rows[fade_out[2]]["luma_mean"] < 5


@pytest.mark.parametrize("args,needle", [
    (["probe", "{tmp}/missing.mp4"], "not found"),
    (["probe", "{tmp}"], "is a directory"),
    (["probe", "{tmp}/zero.mp4"], "empty"),
    (["probe", "{tmp}/text.mp4"], "not a video"),
    (["probe", "ftp://host/x.mp4"], "unsupported URL scheme"),
    (["probe", "{tmp}/audio.wav"], "no video stream"),
    (["stats", "{tmp}/missing.mp4", "--json"], "not found"),
])
def test_bad_input_one_line(capsys, tmp_path, args, needle):
    import av
    import numpy as np

    (tmp_path / "zero.mp4").write_bytes(b"")
    (tmp_path / "text.mp4").write_text("hello\n" * 100)
    with av.open(str(tmp_path / "audio.wav"), "w") as c:
        s = c.add_stream("pcm_s16le", rate=8000)
        fr = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        fr.sample_rate = 8000
        for pkt in list(s.encode(fr)) + list(s.encode()):
            c.mux(pkt)
    code, out, err = run_cli(capsys, *[a.format(tmp=tmp_path) for a in args])
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kadr: error: ") and needle in lines[0], err


def test_entry_point_subprocess(tmp_path):
    """The installed console script: one error line, exit 2, no traceback."""
    r = subprocess.run([sys.executable, "-m", "kadr", "probe", str(tmp_path / "nope.mp4")], capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.strip().startswith("kadr: error:") and "Traceback" not in r.stderr


def test_demo(capsys, tmp_path):
    code, out, err = run_cli(capsys, "demo", "-o", str(tmp_path / "d"), "--json")
    assert code == 0
    res = json.loads(out)
    assert res["probe"]["frame_count"] == res["ground_truth"]["frames"]
    assert (tmp_path / "d" / "demo.mp4").exists()
