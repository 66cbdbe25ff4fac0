"""Answers from memory: a repeated query is answered from the cache (the same bytes), the
first page of every version is written at import for every worker, answers checked for members
never reach a request checked as public, and answers made with now() are not kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from conformance import DATASET, EXPLORE, ROWS, Portal, equipment_portal, publish_dataset  # type: ignore[import-not-found]
from fastapi.testclient import TestClient

from mutuelle.app import create_app
from mutuelle.core import cache
from mutuelle.query import answers

from http_testing import LOOPBACK  # type: ignore[import-not-found]

RECORDS = f"{EXPLORE}/{DATASET}/records"


def counts() -> tuple[int, int]:
    stats = cache.stats()["query.answers"]
    return stats.hits, stats.misses


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Portal:
    made = equipment_portal(tmp_path_factory.mktemp("answers"))
    publish_dataset(made.admin, "interne", access="internal")
    return made


def test_a_repeated_query_is_answered_from_memory(portal: Portal) -> None:
    params = [("where", 'categorie = "sport"'), ("where", "surface > 1000"), ("limit", "2")]
    first = portal.anonymous.get(RECORDS, params=params)
    hits, misses = counts()
    again = portal.anonymous.get(RECORDS, params=list(reversed(params)))  # the same query
    assert again.content == first.content and again.headers["etag"] == first.headers["etag"]
    assert counts() == (hits + 1, misses)
    other = portal.anonymous.get(RECORDS, params=[*params, ("timezone", "Europe/Paris")])
    assert other.status_code == 200 and counts() == (hits + 1, misses + 1)


def test_an_etag_sent_back_gets_a_304_without_any_work(portal: Portal) -> None:
    first = portal.anonymous.get(RECORDS, params={"limit": 3})
    hits, misses = counts()
    again = portal.anonymous.get(RECORDS, params={"limit": 3}, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and counts() == (hits, misses)


def test_the_first_page_of_a_version_is_written_at_import_for_every_worker(portal: Portal) -> None:
    checksum = portal.admin.get(f"/api/datasets/{DATASET}/versions/1").json()["checksum"]
    kept = list((portal.settings.store_dir / "answers" / checksum).glob("*.json"))
    assert kept, "no first page in the store"
    answers.clear()  # another worker: nothing in its memory
    other = TestClient(create_app(portal.settings), client=LOOPBACK, raise_server_exceptions=False)
    hits, misses = counts()
    body = other.get(RECORDS).json()
    assert counts() == (hits, misses + 1)  # not in memory: read from the store, not computed
    assert body["total_count"] == len(ROWS) and [r["id"] for r in body["results"]] == [r.id for r in ROWS[:10]]
    assert any(path.read_bytes() == other.get(RECORDS).content for path in kept)


def test_answers_checked_for_members_never_reach_a_public_request(portal: Portal) -> None:
    url = f"{EXPLORE}/interne/records"
    member = portal.admin.get(url, params={"limit": 1})
    assert member.status_code == 200 and member.json()["total_count"] == len(ROWS)
    assert "private" in member.headers["cache-control"]
    for headers in ({}, {"If-None-Match": member.headers["etag"]}):
        stranger = portal.anonymous.get(url, params={"limit": 1}, headers=headers)
        assert stranger.status_code == 404 and b"Piscine" not in stranger.content
    opened = portal.admin.put("/api/datasets/interne/access", json={"access": "public"})
    assert opened.status_code == 200
    public = portal.anonymous.get(url, params={"limit": 1})
    assert public.status_code == 200 and public.headers["etag"] != member.headers["etag"]
    assert "public" in public.headers["cache-control"]


def test_answers_made_with_now_are_not_kept(tmp_path: Path) -> None:
    made = equipment_portal(tmp_path, answer_now_seconds=0)
    params = {"where": "maj < now(days=-1)", "select": "count(*) as n"}
    kept = cache.stats()["query.answers"].items
    for _ in range(2):
        assert made.anonymous.get(RECORDS, params=params).json()["results"] == [{"n": len(ROWS)}]
        assert cache.stats()["query.answers"].items == kept
    made.anonymous.get(RECORDS, params={"limit": 1})
    hits, misses = counts()
    made.anonymous.get(RECORDS, params={"limit": 1})
    assert counts() == (hits + 1, misses)


def test_no_cache_when_turned_off(tmp_path: Path) -> None:
    made = equipment_portal(tmp_path, answer_cache_mib=0)
    made.anonymous.get(RECORDS)
    hits, misses = counts()
    made.anonymous.get(RECORDS)
    assert counts() == (hits, misses)
    assert not (made.settings.store_dir / "answers").exists()


def test_answers_say_where_they_came_from_and_how_long_the_server_took(portal: Portal) -> None:
    params = {"where": "surface > 1000", "limit": 4}
    first = portal.anonymous.get(RECORDS, params=params).headers["server-timing"]
    again = portal.anonymous.get(RECORDS, params=params).headers["server-timing"]
    assert 'answer;desc="computed"' in first and 'answer;desc="memory"' in again
    assert all(part.startswith("app;dur=") for part in (first.split(", ")[-1], again.split(", ")[-1]))
