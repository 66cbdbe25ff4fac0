"""The demo territory's indicators, computed over the demo datasets and referential (loaded
once per catalogue backend)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mutuelle.access.policy import ANONYMOUS, visible_indicators
from mutuelle.catalog.db import sessions, upgrade
from mutuelle.catalog.observatory_models import Territory
from mutuelle.core.config import Settings
from mutuelle.demo import generate_demo
from mutuelle.demo.indicators import DEFINITIONS, define_demo_indicators
from mutuelle.demo.load import load_demo
from mutuelle.demo.referential import load_demo_referential
from mutuelle.observatory.compare import portrait
from mutuelle.observatory.compute import OK, SECRET, compute_indicator
from mutuelle.observatory.indicators import get_indicator, list_indicators


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[tuple[Settings, Path]]:
    """Settings of a catalogue holding the demo datasets, referential and indicators."""
    home = tmp_path_factory.mktemp("demo") / "home"
    settings = Settings(home=home, duckdb_memory_limit="512MB")
    if request.param == "postgresql":
        settings = settings.with_(database_url=request.getfixturevalue("empty_pg")())
    upgrade(settings)
    settings.work_dir.mkdir(parents=True, exist_ok=True)
    files = tmp_path_factory.mktemp("demo-files")
    generate_demo(files)
    with sessions(settings)() as session:
        load_demo(session, settings)
        if not session.scalar(select(func.count()).select_from(Territory)):
            load_demo_referential(session, settings, files)   # older load_demo did not
        define_demo_indicators(session)                         # idempotent
    yield settings, files


@pytest.fixture
def session(demo: tuple[Settings, Path]) -> Iterator[Session]:
    with sessions(demo[0])() as s:
        yield s


def rows(path: Path, delimiter: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig")),
                               delimiter=delimiter))


def test_the_demo_has_at_least_twenty_indicators_that_all_compute(demo, session) -> None:
    settings, _ = demo
    indicators = list_indicators(session)
    assert len(indicators) == len(DEFINITIONS) >= 20
    for ind in indicators:
        computed = compute_indicator(session, settings, ind)
        own = computed.level(ind.code_level)
        assert sum(v.status == OK for v in own.values()) > len(own) / 2, ind.id
        assert computed.unmatched == {}, ind.id


def test_demo_values_match_the_files_at_iris_commune_and_qpv_levels(demo, session) -> None:
    settings, files = demo
    population = rows(files / "population-iris-2021.csv", ";")
    pop = compute_indicator(session, settings, get_indicator(session, "population"))
    assert pop.level("territoire")["249600172"].value == sum(int(r["pop_total"])
                                                             for r in population)
    c2s = rows(files / "c2s-iris-2024.csv", ",")
    take_up = compute_indicator(session, settings, get_indicator(session, "taux-recours-c2s"))
    for code, value in take_up.level("commune").items():
        mine = [r for r in c2s if r["code_commune"] == code]
        expected = 100 * sum(int(r["nb_beneficiaires"]) for r in mine) \
            / sum(int(r["nb_eligibles"]) for r in mine)
        assert value.status == OK and value.value == pytest.approx(expected), code
    qpv = take_up.level("qpv")
    assert len(qpv) == 5 and all(v.status in (OK, SECRET) for v in qpv.values())


def test_points_are_counted_in_the_iris_that_holds_them(demo, session) -> None:
    settings, files = demo
    offers = compute_indicator(session, settings, get_indicator(session, "offres-emploi"))
    iris = offers.level("iris")
    assert sum(v.value for v in iris.values()) == len(rows(files / "offres-emploi-2025.csv", ";"))
    assert all(v.status == OK for v in iris.values())            # no offer: 0, not "no data"
    per_1000 = compute_indicator(session, settings,
                                 get_indicator(session, "offres-pour-1000-habitants"))
    whole = per_1000.level("territoire")["249600172"]
    assert whole.value == pytest.approx(1000 * whole.numerator / whole.denominator)


def test_small_jobseeker_counts_are_hidden_in_pairs_within_each_commune(demo, session) -> None:
    settings, _ = demo
    computed = compute_indicator(session, settings, get_indicator(session, "demandeurs-emploi"))
    secret = [c for c, v in computed.level("iris").items() if v.status == SECRET]
    assert secret
    per_commune: dict[str, int] = {}
    for code in secret:
        commune = computed.referential.ancestors[("iris", code)]["commune"]
        per_commune[commune] = per_commune.get(commune, 0) + 1
    for commune, count in per_commune.items():
        hidden_commune = computed.level("commune")[commune].status == SECRET
        assert count + hidden_commune >= 2, commune


def test_a_neighbourhood_portrait_speaks_of_every_indicator_it_has(demo, session) -> None:
    settings, _ = demo
    found = portrait(session, settings, "iris", "961720101")
    # the default portrait speaks of the indicators anyone may read: never of those computed
    # from restricted data (jobseekers, C2S), whatever their own access level
    readable = {i.id for i in list_indicators(session, visible=visible_indicators(ANONYMOUS))}
    assert {c.indicator for c in found.comparisons} | set(found.skipped) == readable
    assert "demandeurs-emploi" not in readable and "taux-non-recours-c2s" not in readable
    assert len(found.comparisons) >= 14
    assert all(c.sentence.startswith(c.label) for c in found.comparisons)
    assert set(found.skipped) == {"part-offres-cdi", "ecoles-pour-1000-enfants",
                                  "eleves-par-classe"}
    commune = portrait(session, settings, "commune", "96172")
    assert any("des communes (Métropole de Val-Sauvage)" in c.sentence
               for c in commune.comparisons)
