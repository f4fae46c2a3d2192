"""kadr — compare images and video frames by what they show."""

__version__ = "0.1.0"

from kadr.errors import KadrError  # noqa: E402

__all__ = ["KadrError", "__version__"]
