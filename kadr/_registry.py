"""A tiny registry: names users type → objects, with errors that list valid names.

Used for every extension point (metrics, encoders, shot detectors, stores) so the
CLI's choices come from data, not from hand-written lists.
"""

from __future__ import annotations

from typing import Callable, Generic, Iterator, TypeVar

from kadr.errors import UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """Mapping of lower-case names to entries.

    ``kind`` names what the registry holds ("metric", "encoder"...) and appears in
    error messages. Entries may be registered lazily with a zero-argument factory
    (``lazy=True``) so optional heavy backends are imported only when used;
    ``available`` lets a backend hide itself when its dependency is missing.
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, T] = {}
        self._factories: dict[str, Callable[[], T]] = {}

    def register(self, name: str, entry: T | None = None, *, available: bool = True,
                 overwrite: bool = False):
        """Register ``entry`` under ``name``; usable as a decorator when ``entry`` is None."""
        key = name.lower()

        def _do(obj: T) -> T:
            if not available:
                return obj
            if not overwrite and (key in self._entries or key in self._factories):
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[key] = obj
            return obj

        if entry is None:
            return _do
        return _do(entry)

    def register_lazy(self, name: str, factory: Callable[[], T]) -> None:
        """Register a factory called on first :meth:`get` (for optional imports)."""
        self._factories[name.lower()] = factory

    def get(self, name: str) -> T:
        key = str(name).lower()
        if key in self._entries:
            return self._entries[key]
        if key in self._factories:
            self._entries[key] = self._factories.pop(key)()
            return self._entries[key]
        raise UnknownNameError(self.kind, str(name), self.names())

    def names(self) -> list[str]:
        return sorted({*self._entries, *self._factories})

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in (self._entries.keys() | self._factories.keys())

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())
