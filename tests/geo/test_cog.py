"""The INSEE hierarchy from the real COG files (@etalab/decoupage-administratif), on both
catalogue backends: communes, EPCI, départements, régions and merged communes' passages."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from mutuelle.catalog.observatory_models import Territory, TerritoryPassage
from mutuelle.core.config import Settings
from mutuelle.core.errors import NotFound
from mutuelle.geo.cog import EARLIER, cog_for, commune_of, load_cog, read_cog
from mutuelle.geo.referential import children, get_territory, search_territories

METROPOLE_DE_LYON = "200046977"


def _communes(settings: Settings, departement: str, vintage: int = 2024) -> list[dict]:
    """The communes of a département in the COG of ``vintage`` (npm alias cog<year>)."""
    folder = cog_for(settings, vintage).folder
    communes = json.loads((folder / "communes.json").read_text(encoding="utf-8"))
    return [c for c in communes if c["type"] == "commune-actuelle" and c["departement"] == departement]


def _count(session, level: str, vintage: int = 2024) -> int:  # type: ignore[no-untyped-def]
    return int(session.scalar(select(func.count()).select_from(Territory).where(
        Territory.level == level, Territory.vintage == vintage)) or 0)


def test_the_whole_of_france_loads_in_a_few_seconds(session, any_settings: Settings) -> None:  # type: ignore[no-untyped-def]
    folder = cog_for(any_settings, 2024).folder     # the COG of 2024 (cog2024 = 4.1.0)
    assert folder.name == "2024"
    communes = json.loads((folder / "communes.json").read_text(encoding="utf-8"))
    start = time.perf_counter()
    report = load_cog(session, any_settings, 2024)
    elapsed = time.perf_counter() - start
    assert report.counts["commune"] == sum(c["type"] == "commune-actuelle" for c in communes) == 35029
    assert report.counts["epci"] == 1255 and (report.year, report.note) == (2024, "")
    assert _count(session, "commune") == 35029 and _count(session, "epci") == 1255
    assert _count(session, "departement") == len(json.loads((folder / "departements.json").read_text()))
    assert elapsed < 20, f"loading the COG took {elapsed:.1f} s"


def test_lyon_sits_in_its_metropolis_departement_and_region(session, any_settings: Settings) -> None:  # type: ignore[no-untyped-def]
    load_cog(session, any_settings, 2024, departements=["69"])
    lyon = get_territory(session, "commune", "69123", 2024)
    assert (lyon.name, lyon.epci, lyon.departement, lyon.region) == ("Lyon", METROPOLE_DE_LYON, "69", "84")
    assert lyon.parent_code == METROPOLE_DE_LYON and lyon.population and lyon.population > 500_000
    metropole = get_territory(session, "epci", METROPOLE_DE_LYON)
    assert metropole.name == "Métropole de Lyon" and metropole.departement == "69"
    assert get_territory(session, "departement", "69").parent_code == "84"
    assert get_territory(session, "region", "84").name == "Auvergne-Rhône-Alpes"
    members = {c.code for c in children(session, metropole)}
    assert {"69123", "69266", "69149"} <= members and len(members) == 58
    assert [d.code for d in children(session, get_territory(session, "region", "94"))] == ["2A", "2B"]


def test_a_merged_commune_passes_to_the_commune_that_absorbed_it(session, any_settings: Settings) -> None:  # type: ignore[no-untyped-def]
    load_cog(session, any_settings, 2024, departements=["69"])
    # Pierre-Bénite (69152) merged with Oullins into Oullins-Pierre-Bénite (69149) in 2024.
    passage = session.scalars(select(TerritoryPassage).where(
        TerritoryPassage.from_code == "69152")).one()
    assert (passage.to_code, passage.to_vintage, passage.from_vintage) == ("69149", 2024, EARLIER)
    assert get_territory(session, "commune", "69149").name == "Oullins-Pierre-Bénite"
    with pytest.raises(NotFound):
        get_territory(session, "commune", "69152", 2024)


def test_loading_twice_updates_rows_instead_of_doubling_them(session, any_settings: Settings) -> None:  # type: ignore[no-untyped-def]
    load_cog(session, any_settings, 2024, departements=["69"])
    passages = session.scalar(select(func.count()).select_from(TerritoryPassage))
    report = load_cog(session, any_settings, 2024, departements=["69"])
    assert _count(session, "commune") == report.counts["commune"] == len(_communes(any_settings, "69"))
    assert session.scalar(select(func.count()).select_from(TerritoryPassage)) == passages
    load_cog(session, any_settings, 2024, departements=["01"])     # a neighbour joins
    assert _count(session, "commune") == len(_communes(any_settings, "69")) + len(
        _communes(any_settings, "01"))


def test_two_vintages_of_the_cog_live_side_by_side(session, any_settings: Settings) -> None:  # type: ignore[no-untyped-def]
    load_cog(session, any_settings, 2023, departements=["69"])
    load_cog(session, any_settings, 2024, departements=["69"])
    # each from its own COG: Oullins and Pierre-Bénite merged on 1 January 2024
    assert _count(session, "commune", 2023) == len(_communes(any_settings, "69", 2023)) == 267
    assert _count(session, "commune", 2024) == len(_communes(any_settings, "69", 2024)) == 266
    assert get_territory(session, "commune", "69123").vintage == 2024
    assert get_territory(session, "commune", "69123", 2023).vintage == 2023
    assert get_territory(session, "commune", "69149", 2023).name == "Oullins"
    assert get_territory(session, "commune", "69152", 2023).name == "Pierre-Bénite"
    assert get_territory(session, "commune", "69149", 2024).name == "Oullins-Pierre-Bénite"


@pytest.mark.parametrize(("vintage", "year"), [(2019, 2019), (2020, 2019), (2023, 2023),
                                               (2026, 2026), (2031, 2026)])
def test_each_vintage_reads_its_own_cog_or_the_latest_before_it(any_settings: Settings,
                                                                 vintage: int, year: int) -> None:
    source = cog_for(any_settings, vintage)
    assert source.year == year and source.history_day is None
    assert source.exact == (vintage == year)
    assert (source.note() == "") == (vintage == year)


def test_a_vintage_older_than_every_cog_takes_its_communes_from_the_history(
        session, any_settings: Settings) -> None:  # type: ignore[no-untyped-def]
    """Never named from a later COG: in 2012, 69149 was Oullins, and the Métropole de Lyon
    (2015) and the régions of 2016 did not exist."""
    source = cog_for(any_settings, 2012)
    assert (source.year, source.history_day) == (2019, "2012-01-01")
    assert "not known offline" in source.note()
    report = load_cog(session, any_settings, 2012, departements=["69"])
    assert report.counts.get("epci", 0) == 0 and report.counts.get("region", 0) == 0
    assert report.counts["commune"] == 293          # the Rhône's communes on 1 January 2012
    assert get_territory(session, "commune", "69149", 2012).name == "Oullins"
    assert get_territory(session, "commune", "69152", 2012).name == "Pierre-Bénite"
    lyon = get_territory(session, "commune", "69123", 2012)
    assert (lyon.name, lyon.epci, lyon.departement, lyon.region) == ("Lyon", None, "69", None)
    france = read_cog(any_settings, 2012)
    assert len(france.communes) == 36700            # INSEE's count on 1 January 2012
    # Annecy-le-Vieux, merged into Annecy in 2017, is still a commune in 2012
    assert france.communes["74011"].name == "Annecy-le-Vieux"


def test_search_ignores_accents_and_case(session, any_settings: Settings) -> None:  # type: ignore[no-untyped-def]
    load_cog(session, any_settings, 2024, departements=["69", "13"])
    found = search_territories(session, "ecully", level="commune")
    assert [(t.code, t.name) for t in found] == [("69081", "Écully")]
    assert search_territories(session, "69266")[0].name == "Villeurbanne"
    assert search_territories(session, "METROPOLE de lyon")[0].code == METROPOLE_DE_LYON
    assert len(search_territories(session, "saint", limit=7)) == 7
    assert search_territories(session, "   ") == []


def test_arrondissements_municipaux_belong_to_their_commune(any_settings: Settings, tmp_path: Path) -> None:
    assert read_cog(any_settings).commune_of("69381") == "69123"
    assert commune_of(any_settings, "75112") == "75056"
    assert commune_of(any_settings, "13216") == "13055"
    assert commune_of(None, "69389") == "69123"    # known even without the COG files
    assert commune_of(any_settings, "01001") == "01001"


def test_a_missing_cog_says_how_to_install_it(session, any_settings: Settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NotFound, match="decoupage-administratif"):
        load_cog(session, any_settings.with_(cog_dir=tmp_path / "nowhere"), 2024)
