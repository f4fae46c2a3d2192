"""``kadr serve``: a local web app over a kadr database and the analyses of ``kadr analyse``.

* :mod:`kadr.web.catalog` — the allow-list of files (index rows, analyses) and video keys;
* :mod:`kadr.web.service` — search, duplicates, videos, heat maps as plain JSON (no framework);
* :mod:`kadr.web.thumbs` — the thumbnail cache; :mod:`kadr.web.events` — live events (SSE);
* :mod:`kadr.web.app` — the FastAPI/Starlette app, its pages (Jinja2) and JSON API.

The web framework (fastapi, starlette, uvicorn, jinja2, python-multipart: ``pip install
kadr[web]``) is imported only by :func:`kadr.web.app.create_app` and the CLI.
"""

from kadr.web.service import Library, SearchQuery, ServeOptions

__all__ = ["Library", "SearchQuery", "ServeOptions", "open_library"]


def open_library(db=None, videos=(), *, encoder=None, cache=None, options=None):
    """A :class:`Library` over the database folder ``db`` (or none) and the analyses under
    ``videos``. Errors (no such folder, not a kadr table) are raised before any server starts."""
    from pathlib import Path

    from kadr.errors import InputError
    from kadr.web.catalog import Catalog
    from kadr.web.thumbs import ThumbnailCache

    options = options or ServeOptions()
    index = None
    if db is None and not videos:
        raise InputError("give a database (--db DIR) and/or analysed videos (--videos DIR)")
    if db is not None:
        from kadr.index import Index

        p = Path(db).expanduser()
        if not p.is_dir():
            raise InputError(f"--db {str(db)!r} is not a folder; build one with `kadr index add PATHS --db {db}`")
        index = Index(p, encoder, create=False)
        index._check_table()  # "empty" / "not a kadr table" errors now, not at the first search
    if cache is None:
        cache = default_cache_dir(index.path if index is not None else Path(videos[0]))
    catalog = Catalog(index, list(videos))
    return Library(index, catalog, thumbs=ThumbnailCache(cache, max_side=options.thumb_size), options=options)


def default_cache_dir(anchor):
    """``$XDG_CACHE_HOME/kadr/serve/<hash of the database path>`` (never inside the database)."""
    import hashlib
    import os
    from pathlib import Path

    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    h = hashlib.blake2b(str(Path(anchor).resolve()).encode(), digest_size=6).hexdigest()
    return base / "kadr" / "serve" / h
