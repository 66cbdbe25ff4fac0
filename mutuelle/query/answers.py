"""Answers from memory: versions are immutable, so an API answer is a pure function of
(version checksum, normalised query, access class), kept once computed.

Two tiers. Every worker keeps answers in a ``core.cache.Cache`` bounded in bytes
(``MUTUELLE_ANSWER_CACHE_MIB``). Answers that were costly to compute
(``MUTUELLE_ANSWER_SHARE_MS``) are also written to the store, under
``HOME/store/answers/<checksum>/``, where every worker sharing the home reads them (at most
``MUTUELLE_ANSWER_SHARE_ITEMS`` per version); so is the first page of each version, at import.
Answers computed with ``now()`` change with the clock: kept in memory only, for the current
period of ``MUTUELLE_ANSWER_NOW_SECONDS`` (never when it is 0).

The caller decides who may read the version *before* asking for its answer; the access class
in the key (``public`` or ``members``) keeps an answer made for members from ever being looked
up for a request that was only checked as public, and the other way round.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import time
from collections.abc import Hashable
from dataclasses import dataclass
from pathlib import Path

from mutuelle.core.cache import Cache, digest
from mutuelle.core.config import Settings

log = logging.getLogger(__name__)

MIB = 1 << 20
#: Answers bigger than this stay in memory only (the store holds small, hot answers).
SHARED_MAX_BYTES = 256 << 10
_NOW_CALL = re.compile(r"\bnow\s*\(", re.IGNORECASE)
_CHECKSUM = re.compile(r"^[0-9a-f]{16,128}$")


@dataclass(frozen=True)
class Answer:
    """A JSON answer's bytes."""

    body: bytes


_memory: Cache[Hashable, Answer] = Cache("query.answers", max_cost=64 * MIB,
                                         cost=lambda a: len(a.body))


def uses_now(*texts: str | None) -> bool:
    """Whether an ODSQL clause calls ``now()`` (its answer then changes with the clock)."""
    return any(t and _NOW_CALL.search(t) for t in texts)


def answer_key(checksum: str, access: str, route: str, query: tuple[object, ...]) -> tuple[object, ...]:
    """The key of an answer: the version's checksum, the access class it was checked for, the
    kind of answer and its normalised parameters (plain values only)."""
    return (checksum, access, route, query)


def _shared_path(settings: Settings, key: tuple[object, ...]) -> Path | None:
    checksum = str(key[0])
    if not _CHECKSUM.match(checksum):
        return None
    return settings.store_dir / "answers" / checksum / f"{digest(key)}.json"


def _volatile_key(settings: Settings, key: tuple[object, ...]) -> tuple[object, ...] | None:
    """The key of an answer made with now() in the current period of
    ``MUTUELLE_ANSWER_NOW_SECONDS`` (None: such answers are not kept)."""
    period = settings.answer_now_seconds
    if period <= 0:
        return None
    return (*key, ("now", int(time.time() // period)))


def recall(settings: Settings, key: tuple[object, ...], *, volatile: bool = False,
           first_look: bool = False) -> tuple[bytes, str] | None:
    """The answer kept under ``key`` and where it was (``memory`` of this worker, or the
    ``store``); None if none. A ``volatile`` answer (made with now()) is looked up in memory
    only, for its period. A ``first_look`` that finds nothing is not counted as a miss (the
    route looks again, and that look is counted)."""
    if settings.answer_cache_mib <= 0:
        return None
    if volatile:
        current = _volatile_key(settings, key)
        found = _memory.get(current) if current is not None else None
        return (found.body, "memory") if found is not None else None
    found = _memory.get(key, count_miss=not first_look)
    if found is not None:
        return found.body, "memory"
    path = _shared_path(settings, key)
    if path is None:
        return None
    try:
        body = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("answer_read_failed error=%s", type(exc).__name__)
        return None
    _keep(settings, key, Answer(body))
    return body, "store"


def _keep(settings: Settings, key: tuple[object, ...], answer: Answer) -> None:
    _memory.max_cost = settings.answer_cache_mib * MIB
    _memory.put(key, answer)


def remember(settings: Settings, key: tuple[object, ...], body: bytes, *, spent_ms: float,
             volatile: bool = False, share: bool | None = None) -> None:
    """Keep ``body`` under ``key``: in memory, and in the store when it was costly (or when
    ``share`` says so); a ``volatile`` answer (made with now()) for the current period of
    ``MUTUELLE_ANSWER_NOW_SECONDS``, in memory only."""
    if settings.answer_cache_mib <= 0:
        return
    if volatile:
        current = _volatile_key(settings, key)
        if current is not None:
            _keep(settings, current, Answer(body))
        return
    _keep(settings, key, Answer(body))
    if share is None:
        share = spent_ms >= settings.answer_share_ms
    if share and len(body) <= SHARED_MAX_BYTES:
        _write_shared(settings, key, body)


def _write_shared(settings: Settings, key: tuple[object, ...], body: bytes) -> None:
    path = _shared_path(settings, key)
    if path is None or path.exists():
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if len(os.listdir(path.parent)) >= settings.answer_share_items:
            return
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".answer-", suffix=".tmp")
    except OSError as exc:  # a full or read-only store: the answer stays in memory only
        log.warning("answer_write_failed error=%s", type(exc).__name__)
        return
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(body)
        os.replace(tmp, path)  # whole or absent: a reader never sees half an answer
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        log.warning("answer_write_failed error=%s", type(exc).__name__)


def clear() -> None:
    """Forget every answer kept in this worker's memory (the store's are per version)."""
    _memory.clear()
