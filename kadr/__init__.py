"""kadr — compare images and video frames by what they show."""

__version__ = "0.1.0"

from kadr.errors import KadrError  # noqa: E402

__all__ = ["KadrError", "__version__"]


def __getattr__(name: str):
    """Lazy top-level names: ``kadr.Index`` (imports kadr.index only when used)."""
    if name == "Index":
        from kadr.index import Index

        return Index
    raise AttributeError(f"module 'kadr' has no attribute {name!r}")
