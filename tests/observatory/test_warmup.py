"""Warm-up at start: contours loaded and indicators computed before anyone asks."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from mutuelle.app import create_app
from mutuelle.core.config import Settings
from mutuelle.geo import tiles
from mutuelle.observatory import compute
from mutuelle.observatory import indicators as catalogue
from mutuelle.observatory.warmup import warm_up


def computed_again(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("indicator_computed")]


def test_warm_up_loads_every_level_and_computes_every_indicator(
        demo_home: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(home=demo_home, duckdb_memory_limit="512MB")
    app = create_app(settings)
    compute.clear_cache()
    tiles.clear_cache()
    done = warm_up(settings, app.state.sessions)
    assert done["vintage"] == 2024 and not done["failed"]
    assert {"iris", "commune", "qpv", "epci", "territoire"} <= set(done["levels"])
    with app.state.sessions() as session:
        every = catalogue.list_indicators(session)
        assert set(done["indicators"]) == {i.id for i in every} and len(every) >= 20
        # what the map asks for next comes from memory, not computed again
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="mutuelle.observatory.compute"):
            for indicator in every:
                compute.compute_indicator(session, settings, indicator)
        assert computed_again(caplog) == []


def test_the_app_warms_up_in_the_background_when_asked(
        demo_home: Path, caplog: pytest.LogCaptureFixture) -> None:
    compute.clear_cache()
    cold = create_app(Settings(home=demo_home, duckdb_memory_limit="512MB"))
    assert not hasattr(cold.state, "warm_up")  # off unless asked (mutuelle serve asks)
    app = create_app(Settings(home=demo_home, duckdb_memory_limit="512MB", warm_up=1))
    app.state.warm_up.join(timeout=120)
    assert not app.state.warm_up.is_alive()
    caplog.clear()
    with app.state.sessions() as session, \
            caplog.at_level(logging.INFO, logger="mutuelle.observatory.compute"):
        for indicator in catalogue.list_indicators(session):
            compute.compute_indicator(session, app.state.settings, indicator)
    assert computed_again(caplog) == []


def test_an_empty_referential_warms_nothing(settings: Settings) -> None:
    app = create_app(settings)
    done = warm_up(settings, app.state.sessions)
    assert done["vintage"] is None and done["levels"] == [] and done["indicators"] == []
