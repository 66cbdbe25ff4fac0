"""The authorisation matrix: every route of the app (enumerated from its route table, so that a
new route cannot escape), for every kind of member, on public, internal, restricted and draft
objects: the exact status, no value of an object one may not read in any answer, and cache
headers that never let a shared cache keep what is not public.

The expected answers come from the rules written out here, in the issue's words, not from
``access.policy`` (the code under test).
"""

from __future__ import annotations

import csv
import io
import itertools
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mutuelle.access import accounts, keys
from mutuelle.access.policy import OPERATOR
from mutuelle.app import create_app
from mutuelle.catalog import repository as repo
from mutuelle.catalog.dashboard_models import Chart, Dashboard
from mutuelle.catalog.db import sessions
from mutuelle.catalog.observatory_models import Scenario
from mutuelle.access.viewers import viewer_of_user
from mutuelle.core.config import Settings
from mutuelle.discussions import threads
from mutuelle.ingest.service import import_file
from mutuelle.members import workflow
from mutuelle.observatory.indicators import define_indicator

from http_testing import LOOPBACK  # type: ignore[import-not-found]

ACTORS = ("anonymous", "viewer_a", "editor_a", "admin_b", "partner", "site_admin")
LEVELS = ("public", "internal", "restricted", "draft")
#: Who may read an object of city A, by its access level (internal: the members of A's tree,
#: that is A and the metropolis above it; city B beside it and the partner are not in it;
#: restricted: named groups, here the partner's; drafts: A's editors).
READERS = {
    "public": set(ACTORS),
    "internal": {"viewer_a", "editor_a", "site_admin"},
    "restricted": {"editor_a", "partner", "site_admin"},
    "draft": {"editor_a", "site_admin"},
}
EDITORS = {"editor_a", "site_admin"}          # change A's objects
PUBLISHERS = {"site_admin"}                   # publish, change access (A's admins: none here)
CITY_A, CITY_B, PARTNER, METRO = "mornebois", "pontlumiere", "partenaire", "metropole-val-sauvage"
COMMUNES = ("96172", "96102", "96128", "96141", "96012", "96117", "96045", "96018")
TILE = (8, 131, 91)  # a z8 tile that holds the demo metropolis (checked in the fixture)


@dataclass
class Portal:
    """The demo portal with city A's objects of every access level and a key per actor."""

    client: TestClient
    settings: Settings
    headers: dict[str, dict[str, str]]
    user_ids: dict[str, str]
    scenarios: dict[str, str] = field(default_factory=dict)
    threads: dict[str, str] = field(default_factory=dict)
    #: dashboards and charts of city A, by level (saved by a member of A outside the matrix)
    saved: dict[tuple[str, str], str] = field(default_factory=dict)
    made: Iterator[int] = field(default_factory=itertools.count)

    def call(self, actor: str, method: str, url: str, **kwargs: Any) -> Any:
        self.client.cookies.clear()  # each caller alone: its key, or nothing at all
        return self.client.request(method, url, headers=self.headers.get(actor, {}),
                                   follow_redirects=False, **kwargs)

    def fresh(self, kind: str, level: str) -> str:
        """A new object of ``kind`` at ``level``, for a call that changes its object."""
        if kind == "scenario":
            return self.scenario(level, f"fresh-scenario-{level}-{next(self.made)}")
        if kind in ("dashboard", "chart"):
            return self.saved_view(kind, level, f"fresh-{kind}-{level}-{next(self.made)}")
        return self.dataset(level, f"fresh-{level}-{next(self.made)}")

    def scenario(self, level: str, title: str) -> str:
        """A scenario of city A at ``level``, saved by a member of A outside the matrix."""
        with sessions(self.settings)() as session:
            scenario = Scenario(title=f"MARK-{title}", access=level,
                                organisation_id=repo.get_organisation(session, CITY_A).id,
                                created_by=self.user_ids["author"],
                                state={"indicator": "taux-pauvrete", "level": "commune"})
            session.add(scenario)
            session.flush()
            if level == "restricted":
                accounts.grant(session, "scenario", scenario.id, group=accounts.get_group(session, "cpam-analystes"))
            session.commit()
            self.scenarios[title] = scenario.id
            return title

    def saved_view(self, kind: str, level: str, title: str) -> str:
        """A dashboard (with one text block, ``texte``) or a chart (of the public dataset) of
        city A at ``level``, saved by a member of A outside the matrix."""
        with sessions(self.settings)() as session:
            common = {"title": f"MARK-{title}", "access": level, "created_by": self.user_ids["author"],
                      "organisation_id": repo.get_organisation(session, CITY_A).id}
            view: Dashboard | Chart = Dashboard(**common, blocks=[
                {"id": "texte", "kind": "text", "x": 0, "y": 0, "w": 6, "h": 2, "text": f"MARK-{title}"}]) \
                if kind == "dashboard" else Chart(**common, dataset_id=repo.get_dataset(session, "jeu-public").id,
                                                   params={"type": "bar", "x": "texte"})
            session.add(view)
            session.flush()
            if level == "restricted":
                accounts.grant(session, kind, view.id, group=accounts.get_group(session, "cpam-analystes"))
            session.commit()
            self.saved[(kind, title)] = view.id
            return title

    def dataset(self, level: str, slug: str) -> str:
        """A new dataset of city A at ``level`` with one version and an indicator on it."""
        with sessions(self.settings)() as session:
            org = repo.get_organisation(session, CITY_A)
            access = "public" if level == "draft" else level
            dataset = workflow.create_dataset(session, OPERATOR, org, title=f"MARK-{slug}", slug=slug,
                                              access=access, description=f"MARK-{slug}")
            session.commit()
            path = self.settings.home / f"{slug}.csv"
            path.write_text(_rows(slug), encoding="utf-8")
            import_file(session, self.settings, dataset, path)
            if level != "draft":
                workflow.publish(session, OPERATOR, dataset)
            if level == "restricted":
                accounts.grant(session, "dataset", dataset.id, group=accounts.get_group(session, "cpam-analystes"))
            define_indicator(session, id=f"ind-{slug}", label=f"MARK-{slug} indicateur", dataset=slug,
                             numerator="valeur", code_column="code_commune", code_level="commune",
                             access="public")
            session.commit()
        return slug


def _rows(slug: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    writer.writerow(["code_commune", "valeur", "texte", "latitude", "longitude"])
    for i, code in enumerate(COMMUNES):
        writer.writerow([code, 20 + i, f"VAL-{slug}", "45,3", f"4,{600 + i}"])
    return out.getvalue()


@pytest.fixture(scope="module")
def portal(demo_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    home = tmp_path_factory.mktemp("matrix") / "home"
    shutil.copytree(demo_home, home)
    settings = Settings(home=home, duckdb_memory_limit="512MB")
    app = create_app(settings)
    headers: dict[str, dict[str, str]] = {}
    user_ids: dict[str, str] = {}
    with sessions(settings)() as session:
        metro = repo.get_organisation(session, METRO)
        partner_org = repo.create_organisation(session, name="Partenaire", slug=PARTNER, kind="partner",
                                               parent=metro)
        group = accounts.create_group(session, name="Analystes CPAM", slug="cpam-analystes")
        people = {"viewer_a": (CITY_A, "viewer"), "editor_a": (CITY_A, "editor"),
                  "admin_b": (CITY_B, "admin"), "partner": (PARTNER, "viewer"), "site_admin": None,
                  "author": (CITY_A, "viewer")}
        for name, role in people.items():
            user, _ = accounts.create_user(session, email=f"{name}@matrix.example",
                                           password="correct horse battery", site_admin=name == "site_admin")
            if role:
                accounts.set_role(session, user, partner_org if role[0] == PARTNER
                                  else repo.get_organisation(session, role[0]), role[1])
            if name == "partner":
                accounts.add_to_group(session, group, user)
            made = keys.create_key(session, user, scope="write")
            headers[name] = {"Authorization": f"Apikey {made.secret}"}
            user_ids[name] = user.id
        session.commit()
    with TestClient(app, client=LOOPBACK, raise_server_exceptions=False) as client:
        portal = Portal(client, settings, headers, user_ids)
        for level in LEVELS:
            portal.dataset(level, slug=f"jeu-{level}")
        for level in ("public", "internal", "restricted"):
            portal.scenarios[level] = portal.scenarios[portal.scenario(level, f"scenario-{level}")]
            for kind in ("dashboard", "chart"):
                portal.saved[(kind, level)] = portal.saved[(kind, portal.saved_view(kind, level, f"{kind}-{level}"))]
        with sessions(settings)() as session:
            for level in LEVELS:
                thread = threads.start_thread(session, viewer_of_user(session, accounts.get_user(
                    session, "editor_a@matrix.example")), "dataset", f"jeu-{level}",
                    title=f"MARK-jeu-{level} discussion", body=f"VAL-jeu-{level}", internal=False)
                portal.threads[level] = thread.id
            session.commit()
        yield portal


# --- what each route is, and what it must answer --------------------------------------------

@dataclass(frozen=True)
class Case:
    """How to call one route on one object, and which rule decides."""

    method: str
    url: Callable[[Portal, str], str]
    rule: str                      # read, edit, publish, comment, report, site, member, open...
    body: Callable[[Portal, str], dict[str, Any]] | None = None
    kind: str = "dataset"          # dataset, scenario, none
    fresh: bool = False            # changes its object: a new one for each allowed caller
    ok: int = 200


def _json(data: dict[str, Any]) -> Callable[[Portal, str], dict[str, Any]]:
    return lambda _p, _o: {"json": data}


def _form(data: dict[str, Any]) -> Callable[[Portal, str], dict[str, Any]]:
    return lambda _p, _o: {"data": data}


def _upload(_p: Portal, obj: str) -> dict[str, Any]:
    return {"files": {"file": ("v.csv", _rows(obj).encode())}, "data": {"publish": "false"}}


EXPLORE = "/api/explore/v2.1/catalog/datasets"
Z, X, Y = TILE
CASES: dict[tuple[str, str], list[Case]] = {
    # -- datasets, native API
    ("GET", "/api/datasets/{key}"): [Case("GET", lambda p, o: f"/api/datasets/{o}", "read")],
    ("PATCH", "/api/datasets/{key}"): [Case("PATCH", lambda p, o: f"/api/datasets/{o}", "edit", _json({}))],
    ("POST", "/api/datasets/{key}/publish"): [Case("POST", lambda p, o: f"/api/datasets/{o}/publish", "publish", fresh=True)],
    ("POST", "/api/datasets/{key}/versions"): [Case("POST", lambda p, o: f"/api/datasets/{o}/versions", "edit", _upload, fresh=True, ok=201)],
    ("GET", "/api/datasets/{key}/versions"): [Case("GET", lambda p, o: f"/api/datasets/{o}/versions", "read")],
    ("GET", "/api/datasets/{key}/versions/{number}"): [Case("GET", lambda p, o: f"/api/datasets/{o}/versions/1", "read")],
    # (version 1 is published already: the gate passed, the service answers 422)
    ("POST", "/api/datasets/{key}/versions/{number}/publish"): [Case("POST", lambda p, o: f"/api/datasets/{o}/versions/1/publish", "publish", ok=422)],
    ("PATCH", "/api/datasets/{key}/versions/{number}/fields/{name}"): [Case("PATCH", lambda p, o: f"/api/datasets/{o}/versions/1/fields/valeur", "edit", _json({"unit": "u"}))],
    ("GET", "/api/datasets/{key}/versions/{number}/download/{kind}"): [
        Case("GET", lambda p, o, n=n, k=k: f"/api/datasets/{o}/versions/{n}/download/{k}", "read")
        for n in ("1", "latest") for k in ("csv", "parquet", "original")],
    ("GET", "/api/datasets/{dataset_id}/versions/{number}/records"): [
        Case("GET", lambda p, o: f"/api/datasets/{o}/versions/1/records", "read"),
        Case("GET", lambda p, o: f"/api/datasets/{o}/versions/latest/records", "read")],
    ("POST", "/api/datasets/{key}/submit"): [Case("POST", lambda p, o: f"/api/datasets/{o}/submit", "submit", fresh=True)],
    ("POST", "/api/datasets/{key}/unpublish"): [Case("POST", lambda p, o: f"/api/datasets/{o}/unpublish", "publish", fresh=True)],
    ("PUT", "/api/datasets/{key}/access"): [Case("PUT", lambda p, o: f"/api/datasets/{o}/access", "publish", _json({"access": "internal"}), fresh=True)],
    # -- datasets, Explore API
    ("GET", "/api/explore/v2.1/catalog/datasets/{dataset_id}"): [Case("GET", lambda p, o: f"{EXPLORE}/{o}", "read")],
    ("GET", "/api/explore/v2.1/catalog/datasets/{dataset_id}/records"): [
        Case("GET", lambda p, o: f"{EXPLORE}/{o}/records", "read"),
        Case("GET", lambda p, o: f"{EXPLORE}/{o}/records?select=count(*)&group_by=texte", "read")],
    ("GET", "/api/explore/v2.1/catalog/datasets/{dataset_id}/records/{record_id}"): [Case("GET", lambda p, o: f"{EXPLORE}/{o}/records/1", "read")],
    ("GET", "/api/explore/v2.1/catalog/datasets/{dataset_id}/facets"): [Case("GET", lambda p, o: f"{EXPLORE}/{o}/facets?facet=texte", "read")],
    ("GET", "/api/explore/v2.1/catalog/datasets/{dataset_id}/exports/{format}"): [
        Case("GET", lambda p, o, f=f: f"{EXPLORE}/{o}/exports/{f}", "read")
        for f in ("csv", "json", "geojson", "xlsx", "parquet", "shp", "kml", "gpx", "fgb")],
    ("GET", "/api/explore/v2.1/catalog/datasets/{dataset_id}/exports"): [Case("GET", lambda p, o: f"{EXPLORE}/{o}/exports", "read")],
    ("GET", "/api/explore/v2.1/catalog/datasets/{dataset_id}/attachments"): [Case("GET", lambda p, o: f"{EXPLORE}/{o}/attachments", "read")],
    # -- Opendatasoft's legacy paths (v1 search, download)
    ("GET", "/api/records/1.0/search"): [Case("GET", lambda p, o: f"/api/records/1.0/search/?dataset={o}", "read")],
    ("GET", "/explore/dataset/{dataset_id}/download"): [
        Case("GET", lambda p, o, f=f: f"/explore/dataset/{o}/download/?format={f}", "read") for f in ("csv", "geojson")],
    ("GET", "/tiles/datasets/{dataset_id}/{z}/{x}/{y}.mvt"): [Case("GET", lambda p, o: f"/tiles/datasets/{o}/{Z}/{X}/{Y}.mvt?properties=texte", "read")],
    # -- indicators (public themselves, computed from city A's dataset of each level)
    ("GET", "/api/indicators/{indicator_id}"): [Case("GET", lambda p, o: f"/api/indicators/ind-{o}", "read")],
    ("GET", "/api/indicators/{indicator_id}/values"): [Case("GET", lambda p, o: f"/api/indicators/ind-{o}/values?level=commune", "read")],
    ("GET", "/api/indicators/{indicator_id}/classes"): [Case("GET", lambda p, o: f"/api/indicators/ind-{o}/classes?level=commune&classes=3", "read")],
    ("GET", "/api/indicators/cross"): [Case("GET", lambda p, o: f"/api/indicators/cross?x=ind-{o}&y=taux-pauvrete&level=commune", "read")],
    ("GET", "/tiles/{level}/{z}/{x}/{y}.mvt"): [Case("GET", lambda p, o: f"/tiles/commune/{Z}/{X}/{Y}.mvt?indicator=ind-{o}", "read")],
    ("GET", "/tiles/{level}.json"): [Case("GET", lambda p, o: f"/tiles/commune.json?indicator=ind-{o}", "read")],
    # -- indicators defined by their users: editors of the owner change and delete them
    ("PATCH", "/api/indicators/{indicator_id}"): [Case("PATCH", lambda p, o: f"/api/indicators/ind-{o}", "edit", _json({"label": "MARK-changé"}))],
    ("DELETE", "/api/indicators/{indicator_id}"): [Case("DELETE", lambda p, o: f"/api/indicators/ind-{o}", "edit", fresh=True, ok=204)],
    ("GET", "/observatoire/indicateurs/{indicator_id}"): [Case("GET", lambda p, o: f"/observatoire/indicateurs/ind-{o}", "read_page")],
    ("GET", "/observatoire/indicateurs/{indicator_id}/modifier"): [Case("GET", lambda p, o: f"/observatoire/indicateurs/ind-{o}/modifier", "edit_page")],
    ("POST", "/observatoire/indicateurs/{indicator_id}/modifier"): [Case("POST", lambda p, o: f"/observatoire/indicateurs/ind-{o}/modifier", "edit_page",
                                                                         _form({"label": "MARK-changé", "action": "save"}), ok=303)],
    ("POST", "/observatoire/indicateurs/{indicator_id}/supprimer"): [Case("POST", lambda p, o: f"/observatoire/indicateurs/ind-{o}/supprimer", "edit", fresh=True, ok=303)],
    # the map's form: an indicator one may not read is answered as one that does not exist
    ("GET", "/observatoire"): [Case("GET", lambda p, o: f"/observatoire?indicator=ind-{o}&level=commune", "read_param")],
    ("GET", "/observatoire/carte"): [Case("GET", lambda p, o: f"/observatoire/carte?indicator=ind-{o}&level=commune", "read_param")],
    ("GET", "/observatoire/panneau"): [Case("GET", lambda p, o: f"/observatoire/panneau?indicator=ind-{o}&level=commune", "read_param")],
    ("GET", "/observatoire/details"): [Case("GET", lambda p, o: f"/observatoire/details?indicator=ind-{o}&level=commune", "read_param")],
    ("GET", "/observatoire/valeurs.csv"): [Case("GET", lambda p, o: f"/observatoire/valeurs.csv?indicator=ind-{o}&level=commune", "read_param")],
    # -- discussions on datasets
    ("GET", "/api/threads"): [Case("GET", lambda p, o: f"/api/threads?kind=dataset&object_id={o}", "read")],
    ("POST", "/api/threads"): [Case("POST", lambda p, o: "/api/threads", "comment", lambda p, o: {"json": {
        "kind": "dataset", "object_id": o, "title": "Question", "body": "Bonjour", "internal": False}}, ok=201)],
    ("POST", "/api/follows"): [Case("POST", lambda p, o: "/api/follows", "comment", lambda p, o: {"json": {"kind": "dataset", "object_id": o}}, ok=204)],
    ("DELETE", "/api/follows"): [Case("DELETE", lambda p, o: f"/api/follows?kind=dataset&object_id={o}", "comment", ok=204)],
    ("POST", "/discussions"): [Case("POST", lambda p, o: "/discussions", "comment", lambda p, o: {"data": {
        "kind": "dataset", "object_id": o, "title": "Question", "body": "Bonjour", "visibility": "public"}}, ok=303)],
    ("POST", "/suivre"): [Case("POST", lambda p, o: "/suivre", "comment", lambda p, o: {"data": {"kind": "dataset", "object_id": o}}, ok=303)],
    # -- dataset pages
    ("GET", "/datasets/{slug}"): [Case("GET", lambda p, o: f"/datasets/{o}", "read_page")],
    ("GET", "/datasets/{slug}/versions/{number}"): [Case("GET", lambda p, o: f"/datasets/{o}/versions/1", "read_page")],
    ("GET", "/datasets/{slug}/import"): [Case("GET", lambda p, o: f"/datasets/{o}/import", "edit_page")],
    ("POST", "/datasets/{slug}/import"): [Case("POST", lambda p, o: f"/datasets/{o}/import", "edit_page", _upload, fresh=True, ok=303)],
    ("POST", "/datasets/{slug}/publish"): [Case("POST", lambda p, o: f"/datasets/{o}/publish", "publish", fresh=True, ok=303)],
    ("POST", "/datasets/{slug}/submit"): [Case("POST", lambda p, o: f"/datasets/{o}/submit", "submit", fresh=True, ok=303)],
    ("POST", "/datasets/{slug}/unpublish"): [Case("POST", lambda p, o: f"/datasets/{o}/unpublish", "publish", fresh=True, ok=303)],
    ("POST", "/datasets/{slug}/access"): [Case("POST", lambda p, o: f"/datasets/{o}/access", "publish", _form({"access": "internal"}), fresh=True, ok=303)],
    ("POST", "/datasets/{slug}/versions/{number}/publish"): [Case("POST", lambda p, o: f"/datasets/{o}/versions/1/publish", "publish", ok=303)],
    ("GET", "/datasets/{slug}/embed"): [Case("GET", lambda p, o, v=v: f"/datasets/{o}/embed?view={v}", "read_page") for v in ("table", "map")],
    ("POST", "/datasets/{slug}/metadata"): [Case("POST", lambda p, o: f"/datasets/{o}/metadata", "edit", _form({"keywords": "matrice"}), ok=303)],
    ("POST", "/datasets/{slug}/signalement"): [Case("POST", lambda p, o: f"/datasets/{o}/signalement", "report", _form({
        "kind": "error", "subject": "Valeur", "message": "Bonjour"}), ok=303)],
    # -- scenarios (city A's, by another member of A)
    ("GET", "/api/scenarios/{scenario_id}"): [Case("GET", lambda p, o: f"/api/scenarios/{p.scenarios[o]}", "read", kind="scenario")],
    ("PUT", "/api/scenarios/{scenario_id}"): [Case("PUT", lambda p, o: f"/api/scenarios/{p.scenarios[o]}", "edit", _json({"comment": "vu"}), kind="scenario")],
    ("DELETE", "/api/scenarios/{scenario_id}"): [Case("DELETE", lambda p, o: f"/api/scenarios/{p.scenarios[o]}", "edit", kind="scenario", fresh=True, ok=204)],
    ("POST", "/api/scenarios/{scenario_id}/duplicate"): [Case("POST", lambda p, o: f"/api/scenarios/{p.scenarios[o]}/duplicate", "copy", kind="scenario", ok=201)],
    ("GET", "/s/{scenario_id}"): [Case("GET", lambda p, o: f"/s/{p.scenarios[o]}", "read_scenario_page", kind="scenario")],
    ("GET", "/s/{scenario_id}/embed"): [Case("GET", lambda p, o: f"/s/{p.scenarios[o]}/embed", "read_scenario_page", kind="scenario")],
    ("POST", "/s/{scenario_id}/duplicate"): [Case("POST", lambda p, o: f"/s/{p.scenarios[o]}/duplicate", "copy", kind="scenario", ok=303)],
    ("POST", "/s/{scenario_id}/delete"): [Case("POST", lambda p, o: f"/s/{p.scenarios[o]}/delete", "edit", kind="scenario", fresh=True, ok=303)],
    # -- dashboards and charts (city A's, by another member of A; charts of the public dataset)
    ("GET", "/api/dashboards/{dashboard_id}"): [Case("GET", lambda p, o: f"/api/dashboards/{p.saved['dashboard', o]}", "read", kind="dashboard")],
    ("PUT", "/api/dashboards/{dashboard_id}"): [Case("PUT", lambda p, o: f"/api/dashboards/{p.saved['dashboard', o]}", "edit",
                                                     _json({"description": "vu"}), kind="dashboard")],
    ("DELETE", "/api/dashboards/{dashboard_id}"): [Case("DELETE", lambda p, o: f"/api/dashboards/{p.saved['dashboard', o]}", "edit",
                                                        kind="dashboard", fresh=True, ok=204)],
    ("GET", "/dashboards/{dashboard_id}"): [Case("GET", lambda p, o: f"/dashboards/{p.saved['dashboard', o]}", "read_page", kind="dashboard")],
    ("GET", "/dashboards/{dashboard_id}/embed"): [Case("GET", lambda p, o: f"/dashboards/{p.saved['dashboard', o]}/embed", "read_page", kind="dashboard")],
    ("GET", "/dashboards/{dashboard_id}/blocs/{block_id}/embed"): [Case("GET", lambda p, o: f"/dashboards/{p.saved['dashboard', o]}/blocs/texte/embed",
                                                                        "read_page", kind="dashboard")],
    ("GET", "/dashboards/{dashboard_id}/modifier"): [Case("GET", lambda p, o: f"/dashboards/{p.saved['dashboard', o]}/modifier", "edit_page", kind="dashboard")],
    ("POST", "/dashboards/{dashboard_id}/supprimer"): [Case("POST", lambda p, o: f"/dashboards/{p.saved['dashboard', o]}/supprimer", "edit",
                                                            kind="dashboard", fresh=True, ok=303)],
    ("GET", "/api/charts/{chart_id}"): [Case("GET", lambda p, o: f"/api/charts/{p.saved['chart', o]}", "read", kind="chart")],
    ("PUT", "/api/charts/{chart_id}"): [Case("PUT", lambda p, o: f"/api/charts/{p.saved['chart', o]}", "edit", _json({"description": "vu"}), kind="chart")],
    ("DELETE", "/api/charts/{chart_id}"): [Case("DELETE", lambda p, o: f"/api/charts/{p.saved['chart', o]}", "edit", kind="chart", fresh=True, ok=204)],
    ("GET", "/charts/{chart_id}"): [Case("GET", lambda p, o: f"/charts/{p.saved['chart', o]}", "read_page", kind="chart")],
    ("GET", "/charts/{chart_id}/embed"): [Case("GET", lambda p, o: f"/charts/{p.saved['chart', o]}/embed", "read_page", kind="chart")],
    ("GET", "/charts/{chart_id}/modifier"): [Case("GET", lambda p, o: f"/charts/{p.saved['chart', o]}/modifier", "edit_page", kind="chart")],
    ("POST", "/charts/{chart_id}/supprimer"): [Case("POST", lambda p, o: f"/charts/{p.saved['chart', o]}/supprimer", "edit",
                                                    kind="chart", fresh=True, ok=303)],
    # -- threads: a public thread on city A's dataset of each level
    ("GET", "/api/threads/{thread_id}"): [Case("GET", lambda p, o: f"/api/threads/{p.threads[o]}", "read", kind="thread")],
    ("POST", "/api/threads/{thread_id}/comments"): [Case("POST", lambda p, o: f"/api/threads/{p.threads[o]}/comments", "comment",
                                                         _json({"body": "Merci"}), kind="thread", ok=201)],
    ("POST", "/discussions/{thread_id}/reponses"): [Case("POST", lambda p, o: f"/discussions/{p.threads[o]}/reponses", "comment",
                                                         _form({"body": "Merci"}), kind="thread", ok=303)],
}

#: Routes answered the same way to everyone (listings, searches, maps of public things, the
#: documentation): checked for leaks of what each caller may not read.
OPEN: dict[tuple[str, str], list[str]] = {
    ("GET", "/api/openapi.json"): ["/api/openapi.json"],
    ("GET", "/api/docs"): ["/api/docs"],
    ("GET", "/docs/oauth2-redirect"): ["/docs/oauth2-redirect"],
    ("GET", "/favicon.ico"): ["/favicon.ico"],
    ("GET", "/api/organisations"): ["/api/organisations"],
    ("GET", "/api/datasets"): ["/api/datasets?limit=100", "/api/datasets?q=MARK-jeu"],
    ("GET", "/api/explore/v2.1/catalog/datasets"): [f"{EXPLORE}?limit=100", f"{EXPLORE}?where=search('MARK')"],
    ("GET", "/api/explore/v2.1/catalog/facets"): ["/api/explore/v2.1/catalog/facets"],
    ("GET", "/api/explore/v2.1/catalog/exports/{format}"): [
        "/api/explore/v2.1/catalog/exports/csv", "/api/explore/v2.1/catalog/exports/json"],
    ("GET", "/api/indicators"): ["/api/indicators"],
    ("GET", "/api/territories"): ["/api/territories?q=Mornebois"],
    ("GET", "/api/territories/{level}/{code}"): ["/api/territories/commune/96102"],
    ("GET", "/api/scenarios"): ["/api/scenarios?limit=100", "/api/scenarios?q=MARK"],
    ("GET", "/api/me"): ["/api/me"],
    ("GET", "/api/me/notifications"): ["/api/me/notifications"],
    ("GET", "/"): ["/"],
    ("GET", "/datasets"): ["/datasets?q=MARK"],
    ("GET", "/catalogue"): ["/catalogue?q=MARK-jeu", "/catalogue?organisation=mornebois"],
    ("GET", "/territoires"): ["/territoires?q=Mornebois"],
    ("GET", "/observatoire/indicateurs"): ["/observatoire/indicateurs"],
    ("GET", "/territoires/{level}/{code}"): ["/territoires/commune/96102"],
    ("GET", "/scenarios"): ["/scenarios?q=MARK"],
    ("GET", "/api/dashboards"): ["/api/dashboards?limit=100", "/api/dashboards?q=MARK"],
    ("GET", "/api/charts"): ["/api/charts?limit=100", "/api/charts?dataset=jeu-public&q=MARK"],
    ("GET", "/dashboards"): ["/dashboards?q=MARK"],
    ("GET", "/o/{slug}"): ["/o/mornebois", "/o/metropole-val-sauvage"],
    ("POST", "/deconnexion"): [],
}

_SITE = {"anonymous": 401, "viewer_a": 403, "editor_a": 403, "admin_b": 403, "partner": 403, "site_admin": 200}
_SIGNED = {a: (401 if a == "anonymous" else 200) for a in ACTORS}
_SITE_PAGE = {**_SITE, "anonymous": 303}


#: An indicator on city A's public dataset, as the API and the form define it.
_DEFINITION = {"label": "Nouvel indicateur", "dataset": "jeu-public", "level": "commune",
               "code_column": "code_commune", "numerator": "valeur"}


def _by(**status: int) -> dict[str, int]:
    return {a: status.get(a, status.get("others", 0)) for a in ACTORS}


#: Routes about the caller or the site rather than one object: the exact status per caller.
PER_ACTOR: dict[tuple[str, str], tuple[str, Callable[[Portal, str], dict[str, Any]] | None, dict[str, int]]] = {
    ("POST", "/api/organisations"): ("/api/organisations", lambda p, a: {"json": {"name": f"Quartier {a}", "parent": CITY_A}},
                                     _by(anonymous=401, others=403, site_admin=201)),
    ("PATCH", "/api/organisations/{org}"): (f"/api/organisations/{CITY_A}", _json({"description": "Ville"}),
                                            _by(anonymous=401, others=403, site_admin=200)),
    ("POST", "/api/datasets"): ("/api/datasets", lambda p, a: {"json": {"organisation": CITY_A, "title": f"Nouveau {a}"}},
                                _by(anonymous=401, others=403, editor_a=201, site_admin=201)),
    ("GET", "/api/me/keys"): ("/api/me/keys", None, _SIGNED),
    ("POST", "/api/me/keys"): ("/api/me/keys", _json({"name": "x"}), _by(anonymous=401, others=403)),
    ("DELETE", "/api/me/keys/{key_id}"): ("/api/me/keys/{author_key}", None, _by(others=404, site_admin=403)),
    ("GET", "/api/users"): ("/api/users", None, _SITE),
    ("POST", "/api/users"): ("/api/users", lambda p, a: {"json": {"email": f"new-{a}@matrix.example"}}, {**_SITE, "site_admin": 201}),
    ("PATCH", "/api/users/{user_id}"): ("/api/users/{author}", _json({"disabled": False}), _SITE),
    ("GET", "/api/organisations/{org}/members"): (f"/api/organisations/{CITY_A}/members", None,
                                                  _by(anonymous=401, others=403, viewer_a=200, editor_a=200, site_admin=200)),
    ("PUT", "/api/organisations/{org}/members"): (f"/api/organisations/{CITY_A}/members",
                                                  _json({"user": "author@matrix.example", "role": "viewer"}), _SITE),
    ("GET", "/api/groups"): ("/api/groups", None, _SITE),
    ("POST", "/api/groups"): ("/api/groups", lambda p, a: {"json": {"name": f"Groupe {a}"}}, {**_SITE, "site_admin": 201}),
    ("POST", "/api/groups/{slug}/members"): ("/api/groups/cpam-analystes/members", _json({"add": ["partner@matrix.example"]}), _SITE),
    ("GET", "/api/review"): ("/api/review", None, _SIGNED),
    ("GET", "/api/audit"): ("/api/audit", None, _SITE),
    ("GET", "/api/audit.csv"): ("/api/audit.csv", None, _SITE),
    ("POST", "/api/scenarios"): ("/api/scenarios", _json({"title": "Vue", "state": {"indicator": "taux-pauvrete", "level": "commune"}}),
                                _by(anonymous=401, others=201)),
    ("POST", "/api/dashboards"): ("/api/dashboards", lambda p, a: {"json": {"title": f"Tableau {a}", "organisation": CITY_A}},
                                  _by(anonymous=401, others=403, viewer_a=201, editor_a=201, site_admin=201)),
    ("POST", "/api/charts"): ("/api/charts", lambda p, a: {"json": {"title": f"Graphique {a}", "dataset": "jeu-public",
                                                                     "organisation": CITY_A, "params": {"type": "bar", "x": "texte"}}},
                              _by(anonymous=401, others=403, viewer_a=201, editor_a=201, site_admin=201)),
    ("GET", "/dashboards/nouveau"): ("/dashboards/nouveau", None, _by(anonymous=303, others=200)),
    ("POST", "/dashboards/nouveau"): ("/dashboards/nouveau", lambda p, a: {"data": {"title": f"Page {a}", "organisation": CITY_A}},
                                      _by(anonymous=401, others=403, viewer_a=303, editor_a=303, site_admin=303)),
    ("POST", "/dashboards/blocs/apercu"): ("/dashboards/blocs/apercu", _json({"block": {"kind": "text", "text": "Bonjour"}}),
                                           _by(anonymous=401, others=200)),
    ("POST", "/scenarios"): ("/scenarios", _form({"title": "Vue", "state": '{"indicator": "taux-pauvrete", "level": "commune"}'}),
                             _by(anonymous=401, others=303)),
    ("GET", "/datasets/new"): ("/datasets/new", None,
                               _by(anonymous=303, others=403, editor_a=200, admin_b=200, site_admin=200)),
    ("POST", "/datasets/new"): ("/datasets/new", lambda p, a: {"data": {"organisation": CITY_A, "title": f"Page {a}"}},
                                _by(anonymous=401, others=403, editor_a=303, site_admin=303)),
    # defining indicators: editors somewhere preview; creating needs the owner's create right
    ("POST", "/api/indicators"): ("/api/indicators", lambda p, a: {"json": {**_DEFINITION, "id": f"api-{a.replace('_', '-')}", "organisation": CITY_A}},
                                  _by(anonymous=401, others=403, editor_a=201, site_admin=201)),
    ("POST", "/api/indicators/preview"): ("/api/indicators/preview", _json({**_DEFINITION, "id": "apercu-matrice"}),
                                          _by(anonymous=401, others=403, editor_a=200, admin_b=200, site_admin=200)),
    ("GET", "/observatoire/indicateurs/nouveau"): ("/observatoire/indicateurs/nouveau?dataset=jeu-public", None,
                                                   _by(anonymous=303, others=403, editor_a=200, admin_b=200, site_admin=200)),
    ("POST", "/observatoire/indicateurs/nouveau"): ("/observatoire/indicateurs/nouveau", lambda p, a: {"data": {
        **_DEFINITION, "id": f"page-{a.replace('_', '-')}", "organisation": CITY_A, "action": "save"}},
        _by(anonymous=401, others=403, editor_a=303, site_admin=303)),
    ("GET", "/observatoire/indicateurs/apercu"): ("/observatoire/indicateurs/apercu?dataset=jeu-public&level=commune&code_column=code_commune&numerator=valeur", None,
                                                  _by(anonymous=303, others=403, editor_a=200, admin_b=200, site_admin=200)),
    ("GET", "/connexion"): ("/connexion", None, _by(anonymous=200, others=303)),
    ("POST", "/connexion"): ("/connexion", lambda p, a: {"data": {"email": f"nobody-{a}@matrix.example",
                                                                  "password": "wrong password"}},
                             _by(others=401)),
    ("GET", "/compte"): ("/compte", None, _by(anonymous=303, others=200)),
    ("POST", "/compte/mot-de-passe"): ("/compte/mot-de-passe", _form({"current_password": "not it", "new_password": "x" * 12,
                                                                      "confirm_password": "x" * 12}),
                                       _by(anonymous=401, others=422)),
    ("POST", "/compte/cles"): ("/compte/cles", _form({"name": "x", "scope": "read"}), _by(anonymous=401, others=403)),
    ("POST", "/compte/cles/{key_id}/revoquer"): ("/compte/cles/{author_key}/revoquer", None, _by(others=404, site_admin=403)),
    ("POST", "/compte/notifications/lues"): ("/compte/notifications/lues", None, _by(others=303)),
    ("GET", "/admin/membres"): ("/admin/membres", None, _SITE_PAGE),
    ("POST", "/admin/membres"): ("/admin/membres", lambda p, a: {"data": {"email": f"page-{a}@matrix.example"}}, _SITE),
    ("POST", "/admin/membres/{user_id}"): ("/admin/membres/{author}", _form({"action": "enable"}), _SITE),
    ("GET", "/admin/journal"): ("/admin/journal", None, _SITE_PAGE),
    ("GET", "/admin/journal.csv"): ("/admin/journal.csv", None, _SITE_PAGE),
    ("GET", "/revue"): ("/revue", None, _by(anonymous=303, others=200)),
    ("GET", "/o/{slug}/gestion"): (f"/o/{CITY_A}/gestion", None, _SITE_PAGE),
    ("POST", "/o/{slug}/apparence"): (f"/o/{CITY_A}/apparence", _form({"name": "Mornebois", "primary_colour": "#1f5f8b"}), _SITE),
    ("POST", "/o/{slug}/membres"): (f"/o/{CITY_A}/membres", _form({"email": "author@matrix.example", "role": "viewer"}),
                                    {**_SITE, "site_admin": 303}),
}


# --- running the matrix ---------------------------------------------------------------------

def _routes(routes: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    for route in routes:
        if hasattr(route, "original_router"):
            yield from _routes(route.original_router.routes, prefix + route.include_context.prefix)
        elif getattr(route, "methods", None):
            for method in sorted(route.methods - {"HEAD"}):
                yield method, prefix + route.path


def _levels(kind: str) -> tuple[str, ...]:
    return ("public", "internal", "restricted") if kind in ("scenario", "dashboard", "chart") else LEVELS


def expected(case: Case, actor: str, level: str) -> int:
    """The status the rules give ``actor`` calling ``case`` on an object at ``level``."""
    if actor not in READERS[level]:
        return 400 if case.rule == "read_param" else 404
    if case.rule.startswith("read"):
        return case.ok
    if case.rule in ("comment", "copy"):
        return 401 if actor == "anonymous" else case.ok
    if case.rule == "report":   # anyone who reads it; a visitor with the form's token only
        return 403 if actor == "anonymous" else case.ok
    allowed = PUBLISHERS if case.rule == "publish" else EDITORS
    if actor in allowed:
        if case.rule == "submit" and level != "draft":
            return 400  # already published: the gate passed, the service refuses
        return case.ok
    if actor == "anonymous":
        return 303 if case.method == "GET" else 401   # pages send visitors to sign in
    return 403


def _unreadable_marks(actor: str) -> list[bytes]:
    marks = []
    for level in LEVELS:
        if actor not in READERS[level]:
            marks += [f"MARK-jeu-{level}".encode(), f"VAL-jeu-{level}".encode(),
                      f"MARK-scenario-{level}".encode(), f"MARK-dashboard-{level}".encode(),
                      f"MARK-chart-{level}".encode()]
    return marks


def _check_answer(response: Any, actor: str, what: str, *, public: bool) -> None:
    for mark in _unreadable_marks(actor):
        assert mark not in response.content, f"{what}: {actor} sees {mark.decode()}"
    if response.status_code == 200 and not public:
        cache = response.headers.get("cache-control", "")
        assert "public" not in cache and "private" in cache, f"{what}: Cache-Control {cache!r}"


def test_every_route_of_the_app_is_in_the_matrix(portal: Portal) -> None:
    routes = set(_routes(portal.client.app.router.routes))
    known = set(CASES) | set(OPEN) | set(PER_ACTOR)
    assert routes - known == set(), "routes the matrix does not cover"
    assert known - routes == set(), "the matrix names routes that are gone"


@pytest.mark.parametrize("route", sorted(CASES), ids=lambda r: f"{r[0]} {r[1]}")
def test_object_routes_answer_each_caller_as_the_rules_say(portal: Portal, route: tuple[str, str]) -> None:
    for case in CASES[route]:
        for level in _levels(case.kind):
            shared = f"jeu-{level}" if case.kind == "dataset" else level
            # refused callers first: they must change nothing
            for actor in sorted(ACTORS, key=lambda a: expected(case, a, level) < 300):
                want = expected(case, actor, level)
                target = portal.fresh(case.kind, level) if case.fresh and want < 400 else shared
                response = portal.call(actor, case.method, case.url(portal, target),
                                       **(case.body(portal, target) if case.body else {}))
                what = f"{case.method} {case.url(portal, target)} as {actor} ({level})"
                assert response.status_code == want, f"{what}: {response.status_code} {response.text[:300]}"
                _check_answer(response, actor, what, public=level == "public")


@pytest.mark.parametrize("route", sorted(OPEN), ids=lambda r: f"{r[0]} {r[1]}")
def test_shared_routes_show_each_caller_only_what_they_may_read(portal: Portal, route: tuple[str, str]) -> None:
    method = route[0]
    for url in OPEN[route] or [route[1]]:
        for actor in ACTORS:
            response = portal.call(actor, method, url)
            assert response.status_code == (303 if method == "POST" else 200), f"{url} as {actor}"
            _check_answer(response, actor, f"{url} as {actor}", public=True)
            if "MARK-jeu" in url and route[1] in ("/api/datasets", "/catalogue"):
                for level in LEVELS:   # and what they may read is there
                    if actor in READERS[level]:
                        assert f"MARK-jeu-{level}".encode() in response.content, f"{url} as {actor}: {level}"


@pytest.mark.parametrize("route", sorted(PER_ACTOR), ids=lambda r: f"{r[0]} {r[1]}")
def test_member_and_site_routes_answer_each_caller_as_the_rules_say(portal: Portal, route: tuple[str, str]) -> None:
    template, body, statuses = PER_ACTOR[route]
    with sessions(portal.settings)() as session:
        author_key = keys.list_keys(session, accounts.get_user(session, "author@matrix.example"))[0].id
    url = template.format(author=portal.user_ids["author"], author_key=author_key)
    for actor in ACTORS:
        response = portal.call(actor, route[0], url, **(body(portal, actor) if body else {}))
        assert response.status_code == statuses[actor], f"{route[0]} {url} as {actor}: {response.text[:300]}"
        _check_answer(response, actor, f"{url} as {actor}", public=False)


def test_a_hidden_indicator_on_the_map_is_answered_as_one_that_does_not_exist(portal: Portal) -> None:
    url = "/observatoire/details?level=commune&indicator="
    hidden = portal.call("anonymous", "GET", url + "ind-jeu-internal")
    missing = portal.call("anonymous", "GET", url + "ind-nulle-part")
    assert hidden.status_code == missing.status_code == 400
    token = re.compile(r'csrf-token" content="[0-9a-f]+"')   # each new browser gets its own
    assert token.sub("", hidden.text.replace("ind-jeu-internal", "X")) == token.sub(
        "", missing.text.replace("ind-nulle-part", "X"))


def test_the_restricted_dataset_s_values_reach_its_group_only(portal: Portal) -> None:
    """The leak checks are not vacuous: the marks are in the answers of those who may read."""
    for actor in ("partner", "editor_a"):
        response = portal.call(actor, "GET", f"{EXPLORE}/jeu-restricted/records")
        assert b"VAL-jeu-restricted" in response.content
    assert portal.call("viewer_a", "GET", f"{EXPLORE}/jeu-restricted/records").status_code == 404
