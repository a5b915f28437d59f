"""Plug-in registries: the implementations of one extension point (an ingest rule type, an
inference backend), found by entry point in every installed distribution, as services are
(``kuzet.services``), or registered by decorator.

An extension point is one ``Registry`` with an entry-point group named after it
(``kuzet.ingest.rules``, ``kuzet.inference.backends``). Each plug-in names itself (``key``
reads the name off the object: a rule's type number, a backend's name), so the entry point's
own name is only a label for people. Entry points are loaded on the first lookup, not at
import: a process pays for the plug-ins of the points it uses, not for every installed one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable, Iterator
from importlib.metadata import entry_points
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


class Registry(Generic[K, T]):
    """The plug-ins of one extension point, by the key each declares."""

    def __init__(self, what: str, group: str, key: Callable[[T], K]) -> None:
        self.what = what
        self.group = group
        self._key = key
        self._items: dict[K, T] = {}
        # Entry points already tried ("name = value"), so a rescan loads only new ones, and the
        # one each entry-point plug-in came from.
        self._seen: set[str] = set()
        self._labels: dict[K, str] = {}
        self._discovered = False
        self._lock = threading.RLock()

    def register(self, item: T) -> T:
        """Add a plug-in (usable as a class or function decorator). Registering the same object
        again is a no-op; another object under a taken key is refused."""
        key = self._key(item)
        with self._lock:
            have = self._items.get(key)
            if have is not None and have is not item:
                raise ValueError(f"{self.what} {key!r} is claimed by both {_name(have)} and {_name(item)}")
            self._items[key] = item
        return item

    def unregister(self, key: K) -> None:
        """Remove a plug-in; one from an entry point is loaded again by the next ``discover``."""
        with self._lock:
            self._items.pop(key, None)
            self._seen.discard(self._labels.pop(key, ""))

    def discover(self) -> None:
        """Load the group's entry points not loaded yet (a distribution installed since the last
        call adds its plug-ins). One that cannot be imported is left out, loudly."""
        with self._lock:
            self._discovered = True
            for ep in entry_points(group=self.group):
                label = f"{ep.name} = {ep.value}"
                if label in self._seen:
                    continue
                self._seen.add(label)
                try:
                    item = ep.load()
                except Exception as exc:  # a broken plug-in must not take the others down
                    log.warning("%s plug-in %r is installed but cannot be loaded: %s", self.what, label, exc)
                    continue
                self.register(item)
                self._labels[self._key(item)] = label

    def _ensure(self) -> None:
        if not self._discovered:
            self.discover()

    def get(self, key: K) -> T | None:
        self._ensure()
        return self._items.get(key)

    def __getitem__(self, key: K) -> T:
        item = self.get(key)
        if item is None:
            raise KeyError(f"unknown {self.what} {key!r} (known: {', '.join(map(str, self.keys()))})")
        return item

    def __contains__(self, key: object) -> bool:
        self._ensure()
        return key in self._items

    def keys(self) -> list[K]:
        """Keys in registration order."""
        self._ensure()
        return list(self._items)

    def __iter__(self) -> Iterator[T]:
        """The plug-ins in registration order."""
        return iter([self._items[k] for k in self.keys()])


def _name(item: object) -> str:
    return f"{getattr(item, '__module__', '?')}.{getattr(item, '__qualname__', repr(item))}"
