"""Thousands of random and mutated queries at the endpoint: only 200 or a 4xx may come back."""

from __future__ import annotations

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from portal import RECORDS  # type: ignore[import-not-found]

SEEDS = [
    'code_rome = "K2204"', "salaire > 1800 and id < 5", "within_distance(geometry, geom'POINT(4.8 45.7)', 2km)",
    "date_publication >= date'2024-03-01'", 'libelle like "Agent*"', "count(*) as n", "code_rome",
    "avg(salaire) desc", "range(salaire, 100)", "year(date_publication)", "salaire in [1700..2000[",
    "id in (1, 2, 3)", '"nettoyage"', "salaire is not null", "percentile(salaire, 50)",
]
ALPHABET = st.sampled_from(list("()[]'\",.;:*=<>!-+/ %_`\\") + ["and", "or", "not", "in", "like", "null",
                                                                "date", "geom", "id", "salaire", "*"])


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(0, 4))):
        pos = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["insert", "delete", "replace"]))
        piece = draw(ALPHABET)
        if op == "insert":
            text = text[:pos] + piece + text[pos:]
        elif op == "delete":
            text = text[:pos] + text[pos + 1:]
        else:
            text = text[:pos] + piece + text[pos + len(piece):]
    return text


queries = st.one_of(mutated(), st.text(max_size=60))
clauses = st.sampled_from(["where", "select", "group_by", "order_by", "refine", "exclude"])


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(clause=clauses, query=queries)
def test_random_queries_get_200_or_a_clean_4xx(api: TestClient, clause: str, query: str) -> None:
    response = api.get(RECORDS, params={clause: query})
    assert response.status_code == 200 or 400 <= response.status_code < 500, (clause, query, response.text)
    if response.status_code != 200:
        assert set(response.json()) == {"error_code", "message"}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(where=mutated(), fmt=st.sampled_from(["csv", "json", "geojson"]))
def test_random_export_queries_get_200_or_a_clean_4xx(api: TestClient, where: str, fmt: str) -> None:
    response = api.get(f"/api/explore/v2.1/catalog/datasets/offres/exports/{fmt}", params={"where": where})
    assert response.status_code == 200 or 400 <= response.status_code < 500, (where, response.text)
