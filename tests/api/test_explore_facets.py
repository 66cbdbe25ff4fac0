"""Facets as Opendatasoft enumerates them: states refined and excluded, hierarchical dates,
disjunctive facets, and default facets only on the fields marked as facets; counts computed
here from the dataset's rows."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from conformance import DATASET, EXPLORE, ROWS, Portal, conforms, equipment_portal, paris  # type: ignore[import-not-found]

FACETS = f"{EXPLORE}/{DATASET}/facets"


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Portal:
    return equipment_portal(tmp_path_factory.mktemp("facets"))


def facets(portal: Portal, *params: tuple[str, str]) -> dict[str, list[dict[str, Any]]]:
    response = portal.anonymous.get(FACETS, params=list(params))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["links"] == []
    for group in body["facets"]:
        conforms(group, "facet_enumeration", required=("name", "facets"))
    return {group["name"]: group["facets"] for group in body["facets"]}


def test_default_facets_are_the_fields_marked_as_facets(portal: Portal) -> None:
    # dates (hierarchical) and territorial codes; free text (nom, categorie) only when asked
    assert list(facets(portal)) == ["code_commune", "ouverture", "maj"]


def test_refined_values_are_marked_and_the_others_filtered_out(portal: Portal) -> None:
    found = facets(portal, ("facet", "categorie"), ("facet", "code_commune"), ("refine", "categorie:sport"))
    sport = [r for r in ROWS if r.categorie == "sport"]
    assert found["categorie"] == [{"name": "sport", "count": len(sport), "state": "refined", "value": "sport"}]
    assert {v["value"]: v["count"] for v in found["code_commune"]} == Counter(r.code_commune for r in sport)
    assert {v["state"] for v in found["code_commune"]} == {"displayed"}


def test_excluded_values_are_listed_without_count(portal: Portal) -> None:
    found = facets(portal, ("facet", "categorie"), ("exclude", "categorie:sport"))
    counts = Counter(r.categorie for r in ROWS if r.categorie != "sport")
    assert [v for v in found["categorie"] if v["state"] == "displayed"] == [
        {"name": k, "count": n, "state": "displayed", "value": k}
        for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    assert [v for v in found["categorie"] if v["state"] == "excluded"] == [
        {"name": "sport", "state": "excluded", "value": "sport"}]


def test_dates_are_years_then_months_then_days_as_refinements_go_down(portal: Portal) -> None:
    years = facets(portal, ("facet", "ouverture"))["ouverture"]
    assert years == [{"name": str(y), "count": n, "state": "displayed", "value": str(y)}
                     for y, n in sorted(Counter(r.ouverture.year for r in ROWS).items())]
    in_2024 = [r for r in ROWS if r.ouverture.year == 2024]
    refined = facets(portal, ("facet", "ouverture"), ("refine", "ouverture:2024"))["ouverture"]
    assert [(v["value"], v["state"], v["count"]) for v in refined] == [("2024", "refined", len(in_2024))]
    assert refined[0]["facets"] == [
        {"name": f"{m:02d}", "count": n, "state": "displayed", "value": f"2024/{m:02d}"}
        for m, n in sorted(Counter(r.ouverture.month for r in in_2024).items())]
    march = [r for r in in_2024 if r.ouverture.month == 3]
    deeper = facets(portal, ("facet", "ouverture"), ("refine", "ouverture:2024/03"))["ouverture"]
    month = deeper[0]["facets"]
    assert [(v["value"], v["state"], v["count"]) for v in month] == [("2024/03", "refined", len(march))]
    assert month[0]["facets"] == [
        {"name": f"{r.ouverture.day:02d}", "count": 1, "state": "displayed",
         "value": f"2024/03/{r.ouverture.day:02d}"} for r in march]


def test_datetime_facets_follow_the_time_zone(portal: Portal) -> None:
    utc = facets(portal, ("facet", "maj"))["maj"]
    assert {v["value"]: v["count"] for v in utc} == Counter(str(r.maj.year) for r in ROWS)
    local = facets(portal, ("facet", "maj"), ("timezone", "Europe/Paris"))["maj"]
    assert {v["value"]: v["count"] for v in local} == Counter(paris(r.maj)[:4] for r in ROWS)


def test_a_disjunctive_facet_counts_every_value_and_ors_its_refinements(portal: Portal) -> None:
    found = facets(portal, ("facet", 'facet(name="categorie", disjunctive=true)'), ("facet", "code_commune"),
                   ("refine", "categorie:sport"), ("refine", "categorie:culture"))
    counts = Counter(r.categorie for r in ROWS)
    assert {v["value"]: (v["count"], v["state"]) for v in found["categorie"]} == {
        k: (n, "refined" if k in ("sport", "culture") else "displayed") for k, n in counts.items()}
    chosen = [r for r in ROWS if r.categorie in ("sport", "culture")]
    assert {v["value"]: v["count"] for v in found["code_commune"]} == Counter(r.code_commune for r in chosen)


def test_facet_arguments_are_checked(portal: Portal) -> None:
    for bad in ['facet(name="inconnu")', "inconnu", 'facet(name="categorie", disjunctive=peut-etre)',
                'facet(name="categorie", sort="random")', 'facet(name="geo_shape")']:
        response = portal.anonymous.get(FACETS, params={"facet": bad})
        assert response.status_code == 400, bad
        conforms(response.json(), "bad_request", required=("message", "error_code"))
    assert portal.anonymous.get(FACETS, params={"facet": "inconnu"}).json()["error_code"] == "ODSQLError"


def test_facet_limit_keeps_refined_values(portal: Portal) -> None:
    found = facets(portal, ("facet", 'facet(name="nom", limit=2, sort="alphanum")'), ("refine", "nom:Stade municipal"))
    assert found["nom"] == [{"name": "Stade municipal", "count": 1, "state": "refined", "value": "Stade municipal"}]
    shown = facets(portal, ("facet", 'facet(name="nom", limit=2, sort="alphanum")'))["nom"]
    assert [v["value"] for v in shown] == sorted(r.nom for r in ROWS)[:2]
