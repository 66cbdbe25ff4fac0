"""The one cache class: least recently used out first, bounded by items or by cost, counting
hits, misses and evictions, refusing keys that would not mean the same in another worker; and
the registry that reports and empties every cache."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

from mutuelle.core import cache
from mutuelle.core.cache import Cache, cached


def test_the_least_recently_used_item_goes_first() -> None:
    c: Cache[str, int] = Cache("test.lru", max_items=2, register=False)
    c.put("a", 1)
    c.put("b", 2)
    assert c.get("a") == 1          # a is now the most recent
    assert c.put("c", 3) == [("b", 2)]
    assert "b" not in c and c.get("a") == 1 and c.get("c") == 3
    s = c.stats()
    assert (s.items, s.hits, s.misses, s.evictions) == (2, 3, 0, 1)
    assert c.get("b") is None and c.stats().misses == 1


def test_a_cost_bound_keeps_the_total_under_it_but_always_the_newest_item() -> None:
    c: Cache[str, list[int]] = Cache("test.cost", max_cost=10, cost=len, register=False)
    c.put("six", [0] * 6)
    c.put("four", [0] * 4)
    assert c.stats().cost == 10 and len(c) == 2
    assert c.put("three", [0] * 3) == [("six", [0] * 6)]
    assert c.stats().cost == 7
    evicted = c.put("huge", [0] * 50)      # alone over the bound: kept, the others go
    assert [k for k, _ in evicted] == ["four", "three"]
    assert (c.stats().items, c.stats().cost) == (1, 50)


def test_replacing_a_key_counts_its_cost_once() -> None:
    c: Cache[str, str] = Cache("test.replace", max_cost=100, cost=len, register=False)
    c.put("k", "x" * 40)
    c.put("k", "y" * 30)
    assert c.stats().cost == 30 and c.get("k") == "y" * 30 and c.pop("k") == "y" * 30
    assert c.stats().cost == 0 and c.pop("k") is None


def test_a_bound_given_with_a_put_applies_from_then_on() -> None:
    c: Cache[int, int] = Cache("test.resize", max_items=10, register=False)
    for i in range(5):
        c.put(i, i)
    assert len(c.put(5, 5, max_items=2)) == 4 and len(c) == 2 and c.max_items == 2


@pytest.mark.parametrize("key", [object(), ("store", ["a", "list"]), ("x", {"a": 1}),
                                 frozenset({("ok", 1), ("bad", b"x", 1.5, None, object())})])
def test_keys_holding_anything_but_plain_values_are_refused(key: object) -> None:
    c: Cache[object, int] = Cache("test.keys", max_items=4, register=False)
    with pytest.raises(TypeError, match="cache key"):
        c.put(key, 1)
    assert len(c) == 0


def test_plain_keys_are_accepted() -> None:
    c: Cache[object, int] = Cache("test.plain", max_items=4, register=False)
    c.put(("/store/v1/data.parquet", (1712000000123456789, 4096), 2024, None, 1.5, b"d"), 1)
    c.put(frozenset({"a", ("b", 2)}), 2)
    assert len(c) == 2


def test_a_cost_bound_needs_a_cost_function() -> None:
    with pytest.raises(ValueError, match="cost function"):
        Cache("test.nocost", max_cost=1, register=False)


def test_the_registry_reports_and_empties_every_cache() -> None:
    first: Cache[str, int] = Cache("test.registry.first", max_items=3)
    second: Cache[str, int] = Cache("test.registry.second", max_items=3)
    first.put("a", 1)
    second.put("b", 2)
    second.get("b")
    found = cache.stats()
    assert found["test.registry.first"].items == 1 and found["test.registry.second"].hits == 1
    with pytest.raises(ValueError, match="already exists"):
        Cache("test.registry.first", max_items=1)
    cache.clear_all()
    assert len(first) == len(second) == 0 and cache.stats()["test.registry.second"].hits == 0


def test_the_package_caches_are_registered() -> None:
    import mutuelle.app
    import mutuelle.web.observatory_layers  # noqa: F401  (the web layer is imported by the app)

    names = set(cache.stats())
    assert {"observatory.computed", "observatory.referentials", "observatory.attached",
            "observatory.tile_values", "web.centroids", "geo.cog", "query.zone_names",
            "geo.tiles", "geo.prepared_values", "geo.point_tables"} <= names


def test_a_key_digest_is_the_same_in_another_process() -> None:
    key = ("sqlite:///catalogue.db", "/store", 2024, (1234, 56), ("iris.parquet", 17e17), None,
           frozenset({"x", "y", "z", ("w", 1)}), b"\x00")
    other = subprocess.run(
        [sys.executable, "-c", "import sys; from mutuelle.core.cache import digest; "
         "print(digest(eval(sys.argv[1])))", repr(key)],
        capture_output=True, text=True, check=True, env={**os.environ, "PYTHONHASHSEED": "7"})
    assert other.stdout.strip() == cache.digest(key)
    assert cache.digest(key[:-1]) != cache.digest(key)
    with pytest.raises(TypeError):
        cache.digest(("a", object()))


def test_a_cached_function_runs_once_per_arguments() -> None:
    calls: list[tuple[int, str]] = []

    @cached("test.decorated", max_items=2)
    def double(n: int, *, label: str = "") -> str:
        calls.append((n, label))
        return label + str(2 * n)

    assert double(2) == double(2) == "4" and double(2, label="x") == "x4"
    assert calls == [(2, ""), (2, "x")]
    assert cache.stats()["test.decorated"].hits == 1


def test_threads_sharing_a_cache_keep_its_bound_and_counts() -> None:
    c: Cache[int, int] = Cache("test.threads", max_items=50, register=False)

    def work(start: int) -> None:
        for i in range(start, start + 500):
            c.put(i % 120, i)
            c.get((i * 7) % 120)

    threads = [threading.Thread(target=work, args=(n * 1000,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    s = c.stats()
    assert s.items == len(c) == 50 and s.evictions >= 120 - 50
    assert s.hits + s.misses == 2000
    kept = [k for k in range(120) if k in c]
    assert len(kept) == 50 and all(c.get(k) % 120 == k for k in kept)  # type: ignore[operator]
