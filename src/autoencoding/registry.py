"""Name → class registries for parts and recipes.

Parts and recipes register themselves with a decorator; configs, the CLI and the loaders
resolve names here, so adding a method never means editing a central if/elif chain.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from .errors import AutoencodingError

T = TypeVar("T")


class Registry(Generic[T]):
    """A named collection of classes (or factories) of one kind, e.g. bottlenecks."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            if name in self._items and self._items[name] is not obj:
                raise AutoencodingError(f"{self.kind} {name!r} is registered twice")
            self._items[name] = obj
            try:
                obj.registry_name = name  # type: ignore[attr-defined]
            except (AttributeError, TypeError):
                pass
            return obj

        return deco

    def get(self, name: str) -> T:
        if not isinstance(name, str) or name not in self._items:
            known = ", ".join(sorted(self._items))
            raise AutoencodingError(f"unknown {self.kind} {name!r}; known {self.kind}s: {known}")
        return self._items[name]

    def names(self) -> list[str]:
        return sorted(self._items)

    def order(self) -> list[str]:
        """Names in registration order (for registries where order means priority)."""
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
