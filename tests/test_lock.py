"""constraints.txt (the lock `make venv` installs with) is well formed and agrees with the Makefile."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*==[0-9][A-Za-z0-9.!]*$")  # no local label (+cpu), no URL


def _pins() -> dict[str, str]:
    lines = (ROOT / "constraints.txt").read_text().splitlines()
    pins = [ln for ln in lines if ln.strip() and not ln.startswith("#")]
    bad = [ln for ln in pins if not PIN.match(ln)]
    assert not bad, f"constraints.txt lines that pip -c would reject or that are not portable: {bad}"
    return {ln.split("==")[0].lower().replace("_", "-"): ln.split("==")[1] for ln in pins}


def test_lock_pins_plain_versions_and_not_kadr_itself():
    pins = _pins()
    assert "kadr" not in pins
    for core in ("numpy", "scikit-image", "opencv-contrib-python-headless", "torch", "pytest"):
        assert core in pins, f"{core} missing from constraints.txt; run make lock"


def test_lock_torch_matches_the_makefile_pin():
    make = (ROOT / "Makefile").read_text()
    torch = re.search(r"^TORCH := torch==(\S+)$", make, re.M).group(1)
    assert _pins()["torch"] == torch
    assert "-c $(LOCK)" in make and "\nlock:" in make
