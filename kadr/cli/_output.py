"""How commands print: JSON on stdout with ``--json``; human text otherwise; logs on stderr."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

from kadr._checks import text_safe

#: Lone surrogates: how Python reads file-name bytes that are not UTF-8 (``surrogateescape``).
_SURROGATE = re.compile("[\ud800-\udfff]")


def to_jsonable(obj: Any) -> Any:
    """Convert dataclasses, numpy scalars/arrays, paths and NaN to plain JSON values."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return to_jsonable(dataclasses.asdict(obj))
    if hasattr(obj, "to_dict") and callable(obj.to_dict):
        return to_jsonable(obj.to_dict())
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return to_jsonable(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        obj = str(obj)
    if isinstance(obj, str) and _SURROGATE.search(obj):
        return text_safe(obj)  # a file name that is not UTF-8: its odd bytes as \xNN
    return obj


def print_json(result: Any) -> None:
    sys.stdout.write(json.dumps(to_jsonable(result), indent=2, ensure_ascii=False) + "\n")


def print_json_line(result: Any) -> None:
    sys.stdout.write(json.dumps(to_jsonable(result), ensure_ascii=False) + "\n")
    sys.stdout.flush()


def print_mapping(result: dict, *, title: str | None = None) -> None:
    """Default human rendering: aligned ``key: value`` lines."""
    if title:
        print(title)
    width = max((len(str(k)) for k in result), default=0)
    for k, v in result.items():
        if isinstance(v, float):
            v = f"{v:.4g}"
        print(f"  {str(k).ljust(width)}  {v}")


def log(msg: str) -> None:
    """A human message on stderr (never mixed into JSON on stdout)."""
    print(text_safe(msg) if _SURROGATE.search(msg) else msg, file=sys.stderr)
