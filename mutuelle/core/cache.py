"""One cache class for every in-process cache: least recently used first out, bounded by a
number of items or by a total cost, thread-safe, counting its hits, misses and evictions; and
the registry of all of them (``stats()``, ``clear_all()``).

**Keys mean the same thing in every worker process.** A key is made of plain values (text,
numbers, bytes, None, and tuples or frozensets of them) that name what the cached value was
made from: a version's checksum, an indicator definition's hash, a file's path with its stamp
(modification time, size), the referential's stamp. Never a process-local object id
(``id(x)``), an object's default ``repr`` or a connection: two workers asking for the same
thing must build the same key, so that the caches can later be shared or invalidated across
workers. ``put`` refuses a key holding anything but plain values (an ``id()`` is an int and
cannot be caught: do not use one).
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, ParamSpec, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
P = ParamSpec("P")

#: The types a key may be made of.
PLAIN = (str, int, float, bool, bytes, type(None))

_registry: dict[str, Cache[Any, Any]] = {}
_registry_lock = threading.Lock()


@dataclass(frozen=True)
class CacheStats:
    """What a cache holds and how it has served since it was made or last cleared."""

    name: str
    items: int
    cost: float
    hits: int
    misses: int
    evictions: int
    max_items: int | None
    max_cost: float | None


def check_key(key: object) -> None:
    """Refuse (``TypeError``) a key holding anything but plain values (see the module)."""
    if isinstance(key, PLAIN):
        return
    if isinstance(key, (tuple, frozenset)):
        for part in key:
            check_key(part)
        return
    raise TypeError(f"a cache key is made of text, numbers, bytes, None and tuples of them, "
                    f"not {type(key).__name__}")


def digest(key: object) -> str:
    """A short text naming a plain key (see ``check_key``), the same in every process: for a
    key carried along with what it names (an ETag, another cache's key)."""
    check_key(key)
    return hashlib.blake2b(repr(_canonical(key)).encode(), digest_size=16).hexdigest()


def _canonical(key: object) -> object:
    """``key`` with its frozensets sorted (their order changes from one process to another)."""
    if isinstance(key, tuple):
        return tuple(_canonical(part) for part in key)
    if isinstance(key, frozenset):
        return ("frozenset", *sorted((_canonical(part) for part in key), key=repr))
    return key


class Cache(Generic[K, V]):
    """A thread-safe least-recently-used map bounded by ``max_items`` and/or ``max_cost``
    (the sum of ``cost(value)`` over the items; the newest item is kept even when it alone
    costs more). Registered under ``name`` (one cache per name) unless ``register`` is
    False."""

    def __init__(self, name: str, *, max_items: int | None = None,
                 max_cost: float | None = None, cost: Callable[[V], float] | None = None,
                 register: bool = True) -> None:
        if max_cost is not None and cost is None:
            raise ValueError(f"cache {name!r}: max_cost needs a cost function")
        self.name = name
        self.max_items = max_items
        self.max_cost = max_cost
        self._cost = cost
        self._items: OrderedDict[K, tuple[V, float]] = OrderedDict()
        self._total = 0.0
        self._lock = threading.Lock()
        self._hits = self._misses = self._evictions = 0
        if register:
            with _registry_lock:
                if name in _registry:
                    raise ValueError(f"a cache named {name!r} already exists")
                _registry[name] = self

    def get(self, key: K, *, count_miss: bool = True) -> V | None:
        """The value kept under ``key`` (now the most recently used), or None (counted as a
        miss unless ``count_miss`` is false: a first look that a counted one follows)."""
        with self._lock:
            found = self._items.get(key)
            if found is None:
                self._misses += count_miss
                return None
            self._items.move_to_end(key)
            self._hits += 1
            return found[0]

    def put(self, key: K, value: V, max_items: int | None = None) -> list[tuple[K, V]]:
        """Keep ``value`` under ``key``; ``max_items``, when given, becomes the bound. Returns
        the items evicted to stay within the bounds (for callers that must release them)."""
        check_key(key)
        cost = float(self._cost(value)) if self._cost is not None else 0.0
        evicted: list[tuple[K, V]] = []
        with self._lock:
            if max_items is not None:
                self.max_items = max_items
            old = self._items.pop(key, None)
            if old is not None:
                self._total -= old[1]
            self._items[key] = (value, cost)
            self._total += cost
            while self._over():
                gone, (gone_value, gone_cost) = self._items.popitem(last=False)
                self._total -= gone_cost
                self._evictions += 1
                evicted.append((gone, gone_value))
        return evicted

    def _over(self) -> bool:
        if self.max_items is not None and len(self._items) > max(self.max_items, 0):
            return True
        return self.max_cost is not None and len(self._items) > 1 and self._total > self.max_cost

    def pop(self, key: K) -> V | None:
        """Forget ``key``; its value, or None."""
        with self._lock:
            found = self._items.pop(key, None)
            if found is None:
                return None
            self._total -= found[1]
            return found[0]

    def clear(self) -> None:
        """Forget every item and reset the counts."""
        with self._lock:
            self._items.clear()
            self._total = 0.0
            self._hits = self._misses = self._evictions = 0

    def stats(self) -> CacheStats:
        """Items, total cost, hits, misses and evictions."""
        with self._lock:
            return CacheStats(self.name, len(self._items), self._total, self._hits,
                              self._misses, self._evictions, self.max_items, self.max_cost)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items


def cached(name: str, *, max_items: int) -> Callable[[Callable[P, V]], Callable[P, V]]:
    """A function's results kept in a ``Cache`` named ``name``, keyed by its arguments (plain
    values only, see the module); ``fn.cache`` is the cache."""

    def decorate(fn: Callable[P, V]) -> Callable[P, V]:
        cache: Cache[Hashable, V] = Cache(name, max_items=max_items)

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> V:
            key = (args, tuple(sorted(kwargs.items())))
            found = cache.get(key)
            if found is None:
                found = fn(*args, **kwargs)
                cache.put(key, found)
            return found

        wrapper.cache = cache  # type: ignore[attr-defined]
        return wrapper

    return decorate


def stats() -> dict[str, CacheStats]:
    """Every registered cache's statistics, by name."""
    with _registry_lock:
        caches = list(_registry.values())
    return {c.name: c.stats() for c in sorted(caches, key=lambda c: c.name)}


def clear_all() -> None:
    """Empty every registered cache (after a change that no key records, or in tests)."""
    with _registry_lock:
        caches = list(_registry.values())
    for cache in caches:
        cache.clear()
