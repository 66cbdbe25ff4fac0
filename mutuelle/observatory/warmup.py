"""Warming a portal up when it starts: the referential's contours loaded for the tiles and
the indicators computed, in a background thread, so that the first visitor of the map does
not wait for what every later one gets from memory (France's 48,000 IRIS: about 1.5 s of
contours per level and 2 s per indicator).

``mutuelle serve`` turns it on (``MUTUELLE_WARM_UP=1``); a failure is logged, never fatal:
whatever was not warmed is computed on its first request, as without warm-up.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from mutuelle.core.config import Settings
from mutuelle.core.errors import MutuelleError
from mutuelle.geo import referential, tiles
from mutuelle.observatory import compute
from mutuelle.observatory import indicators as catalogue

log = logging.getLogger(__name__)

#: Levels whose contours are loaded, most looked at first.
LEVELS = ("iris", "commune", "qpv", "epci", "departement", "region", "territoire")


def warm_up(settings: Settings, make_session: Callable[[], Session]) -> dict[str, Any]:
    """Load the default vintage's contours and compute the indicators (public ones first) until
    the cache of computed indicators is full; returns what was done."""
    start = time.perf_counter()
    done: dict[str, Any] = {"vintage": None, "levels": [], "indicators": [], "failed": []}
    with make_session() as session:
        vintage = referential.default_vintage(session, settings)
        if vintage is None:
            return done
        done["vintage"] = vintage
        for level in LEVELS:
            if referential.geometry_path(settings, vintage, level).is_file():
                try:
                    tiles.warm(settings, vintage, level)
                    done["levels"].append(level)
                except MutuelleError as exc:
                    done["failed"].append(f"{level}: {exc.message}")
        cells = 0
        indicators = catalogue.list_indicators(session)
        for indicator in sorted(indicators, key=lambda i: i.access != "public"):
            try:
                computed = compute.compute_indicator(session, settings, indicator)
            except MutuelleError as exc:   # a broken definition waits for its own request
                done["failed"].append(f"{indicator.id}: {exc.message}")
                continue
            done["indicators"].append(indicator.id)
            cells += sum(len(values) for values in computed.levels.values())
            if cells >= compute.COMPUTED_CACHE_CELLS:   # more would push the first ones out
                break
    done["seconds"] = round(time.perf_counter() - start, 2)
    log.info("warm_up vintage=%s levels=%d indicators=%d/%d failed=%d seconds=%.2f", vintage,
             len(done["levels"]), len(done["indicators"]), len(indicators), len(done["failed"]),
             done["seconds"])
    return done


def start_warm_up(settings: Settings, make_session: Callable[[], Session]) -> threading.Thread:
    """``warm_up`` in a daemon thread (the portal answers meanwhile)."""

    def run() -> None:
        try:
            warm_up(settings, make_session)
        except Exception:  # noqa: BLE001 - the portal works without it
            log.exception("warm-up failed")

    thread = threading.Thread(target=run, name="mutuelle-warm-up", daemon=True)
    thread.start()
    return thread
