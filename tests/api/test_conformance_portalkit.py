"""Conformance with PyPI ``portalkit`` (its Opendatasoft backend), on a portal served on the
loopback: it recognises the portal, searches the catalogue by keyword, describes the dataset,
pages its records (limit/offset) and falls back on the JSON export, and gets the values
computed here from the dataset's rows."""

from __future__ import annotations

from collections.abc import Iterator

import portalkit
import pytest
from conformance import DATASET, ROWS, LivePortal, live_portal  # type: ignore[import-not-found]
from portalkit.detect import forget, identify
from portalkit.http import Client


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LivePortal]:
    yield from live_portal(tmp_path_factory.mktemp("portalkit"))


@pytest.fixture(scope="module")
def ods(portal: LivePortal) -> portalkit.backends.base.Portal:
    return portalkit.open(portal.base, kind="opendatasoft", cache=False)


def test_portalkit_recognises_an_opendatasoft_portal(portal: LivePortal) -> None:
    forget()
    with Client(max_attempts=1) as client:
        assert identify(portal.base, client=client) == "opendatasoft"


def test_keyword_search_finds_the_dataset(ods: portalkit.backends.base.Portal) -> None:
    found = ods.search("équipements")
    assert [d.id for d in found] == [DATASET]
    assert ods.search("introuvable") == []


def test_describe_gives_rows_and_fields(ods: portalkit.backends.base.Portal) -> None:
    info = ods.describe(DATASET)
    assert info.rows == len(ROWS)
    assert [f.name for f in info.fields][:7] == ["id", "nom", "categorie", "code_commune", "ouverture", "maj", "surface"]


def test_records_are_paged_with_where_select_and_order(ods: portalkit.backends.base.Portal) -> None:
    frame = ods.dataset(DATASET).to_pandas(where='categorie != "sport"', select="id, nom, surface",
                                           order="surface desc", limit=5, cache=False)
    expected = sorted((r for r in ROWS if r.categorie != "sport"), key=lambda r: -r.surface)[:5]
    assert list(frame["id"]) == [r.id for r in expected]
    assert list(frame["surface"]) == [r.surface for r in expected]


def test_everything_comes_through_the_json_export(ods: portalkit.backends.base.Portal) -> None:
    frame = ods.dataset(DATASET).to_pandas(cache=False)
    assert list(frame["id"]) == [r.id for r in ROWS]
    assert list(frame["geo_point_2d"]) == [{"lon": r.lon, "lat": r.lat} for r in ROWS]
    assert [t.isoformat() for t in frame["maj"]] == [r.maj.isoformat() for r in ROWS]


def test_a_missing_dataset_is_reported_as_such(ods: portalkit.backends.base.Portal) -> None:
    with pytest.raises(portalkit.DatasetNotFound):
        ods.describe("nulle-part")
