"""The OpenAPI document tells the truth: schemathesis drives the real app (in process) with
requests made from the document, as an anonymous caller and as a site administrator with a
write key, on the demo portal; any 5xx, any status the document does not declare, any body
or content type that does not match what the document declares fails.

Path and query parameters that name objects draw from the portal's real ones half of the time
(so that requests get past the 404 and reach the code behind), from random text otherwise.
Bounded: a fixed seed and a fixed number of examples per operation (about a minute per caller
on 2 cores; ``MUTUELLE_CONTRACT_EXAMPLES`` raises it for a longer hunt)."""

from __future__ import annotations

import os
import re
import traceback
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events, from_schema

from mutuelle.app import create_app
from mutuelle.core.config import Settings

from http_testing import LOOPBACK, admin_key, member_key  # type: ignore[import-not-found]
from portal import OFFERS  # type: ignore[import-not-found]

SEED = 20260611
EXAMPLES = int(os.environ.get("MUTUELLE_CONTRACT_EXAMPLES", "12"))
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_schema_conformance", "unsupported_method")
#: How often a parameter that names an object takes a real one.
KNOWN = 0.5


@pytest.fixture(scope="module")
def contract_app(demo_home: Path) -> Any:
    """The demo portal's app (module-scoped: the administrator's writes accumulate)."""
    return create_app(Settings(home=demo_home, duckdb_memory_limit="512MB"))


def _known_objects(app: Any) -> dict[str, list[str]]:
    """Real values of the parameters that name objects, read through the API."""
    client = TestClient(app, client=LOOPBACK, raise_server_exceptions=False)
    datasets = [d["slug"] for d in client.get("/api/datasets", params={"limit": 100}).json()["results"]]
    fields = [f["name"] for f in client.get(f"/api/datasets/{datasets[0]}/versions/latest").json()["fields"]
              ] if datasets else []
    indicators = [i["id"] for i in client.get("/api/indicators").json()["results"]]
    places = client.get("/api/territories", params={"q": "val", "limit": 10}).json()["results"]
    return {
        "datasets": datasets[:6], "numbers": ["1", "latest"], "fields": fields[:4],
        "downloads": ["original", "csv", "parquet"],
        "formats": ["csv", "json", "jsonl", "geojson", "parquet", "xlsx"],
        "records": ["1", "2"], "indicators": indicators[:6],
        "levels": ["iris", "commune", "epci", "departement", "region", "qpv"],
        "codes": [p["code"] for p in places][:6],
        "within": [f"commune:{p['code']}" for p in places if p["level"] == "commune"][:2],
        "organisations": [o["slug"] for o in client.get("/api/organisations").json()["results"]][:4],
    }


#: Which parameters take which real values.
BINDINGS = {
    "path.key": "datasets", "path.dataset_id": "datasets", "query.object_id": "datasets",
    "path.number": "numbers", "path.name": "fields", "path.kind": "downloads",
    "path.format": "formats", "path.record_id": "records",
    "path.indicator_id": "indicators", "query.x": "indicators", "query.y": "indicators",
    "query.indicator": "indicators", "path.level": "levels", "query.level": "levels",
    "path.code": "codes", "query.within": "within", "path.org": "organisations",
}


def _run(app: Any, headers: dict[str, str]) -> tuple[list[str], int]:
    """A bounded schemathesis run on ``app``: its failures (one line each), its request count."""
    known = _known_objects(app)
    config = SchemathesisConfig.from_dict({
        "seed": SEED,
        "headers": headers,
        "dictionaries": {name: {"values": values} for name, values in known.items()},
        "parameters": {key: {"dictionary": name, "probability": KNOWN}
                       for key, name in BINDINGS.items()},
        "generation": {"max-examples": EXAMPLES, "database": "none"},
        "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
        "phases": {"stateful": {"enabled": False}},
        "continue-on-failure": True,
    })
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app, config=config)
    failures: list[str] = []
    requests = 0
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            recorder = event.recorder
            requests += len(recorder.interactions)
            for case_id, checks in recorder.checks.items():
                for check in checks:
                    if check.failure_info is not None:
                        failure = check.failure_info.failure
                        request = recorder.cases[case_id].value.as_curl_command()
                        failures.append(f"{recorder.label}: {failure.title}: "
                                        f"{' '.join(failure.message.splitlines()[:3])}\n    {request}")
        elif isinstance(event, events.NonFatalError):  # the app raised (a 500 in production)
            raised = "".join(traceback.format_exception(event.value))
            failures.append(f"{event.label}: {event.info.title}: {raised[-1500:]}")
        elif isinstance(event, events.FatalError):
            failures.append(f"schemathesis could not run: {event.exception!r}")
    return sorted(set(failures)), requests


def test_an_anonymous_caller_gets_only_declared_answers(contract_app: Any) -> None:
    failures, requests = _run(contract_app, {})
    assert requests > 50 * EXAMPLES
    assert not failures, "\n".join(failures)


def test_a_site_administrator_gets_only_declared_answers(contract_app: Any) -> None:
    failures, requests = _run(contract_app, admin_key(contract_app.state.settings))
    assert requests > 50 * EXAMPLES
    assert not failures, "\n".join(failures)


class _Filled(dict[str, object]):
    """Values for a path's parameters; one the portal has no real value for is ``none``."""

    def __missing__(self, key: str) -> str:
        return "none"


def _integer_parameters(document: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(path, parameter, where) of every integer parameter of the document's GET operations."""
    found = []
    for path, operations in document["paths"].items():
        for parameter in operations.get("get", {}).get("parameters", []):
            schema = parameter.get("schema", {})
            kinds = [schema.get("type")] + [s.get("type") for s in schema.get("anyOf", [])]
            if "integer" in kinds:
                found.append((path, parameter["name"], parameter["in"]))
    return found


def _refuses_huge_numbers(app: Any) -> list[str]:
    """Send every integer parameter of every GET operation a number no store column holds
    (with real objects in the rest of the path): each is refused with an error body."""
    client = TestClient(app, client=LOOPBACK, raise_server_exceptions=False)
    known = _known_objects(app)
    real = {key.split(".", 1)[1]: (known[name] or ["none"])[0] for key, name in BINDINGS.items()
            if key.startswith("path.")}
    checked = []
    for path, name, where in _integer_parameters(client.get("/api/openapi.json").json()):
        for huge in (10**20, -(10**20)):
            url = path.format_map(_Filled({**real, "z": 1, "x": 1, "y": 1, "number": 1, name: huge}))
            response = client.get(url, params={name: huge} if where == "query" else None)
            assert response.status_code in (400, 404, 422), (url, name, response.text[:300])
            assert set(response.json()) >= {"error_code", "message"} or "error" in response.json()
            checked.append(f"{path} {name}")
    return checked


def test_every_number_parameter_refuses_a_number_too_large_for_the_store(contract_app: Any) -> None:
    checked = _refuses_huge_numbers(contract_app)
    assert any("vintage" in c for c in checked) and any("offset" in c for c in checked)


def test_numbers_too_large_are_refused_on_each_catalogue_backend(any_settings: Settings) -> None:
    app = create_app(any_settings)
    editor = TestClient(app, client=LOOPBACK, raise_server_exceptions=False,
                        headers=admin_key(any_settings))
    assert editor.post("/api/organisations", json={"name": "Lyon", "slug": "lyon"}).status_code == 201
    assert editor.post("/api/datasets", json={"organisation": "lyon", "title": "Offres",
                                              "slug": "offres"}).status_code == 201
    assert editor.post("/api/datasets/offres/versions",
                       files={"file": ("offres.csv", OFFERS.encode("cp1252"))}).status_code == 201
    assert editor.post("/api/datasets/offres/publish").status_code == 200
    assert len(_refuses_huge_numbers(app)) > 20


def test_a_method_an_address_does_not_answer_is_405_naming_those_it_does(contract_app: Any) -> None:
    client = TestClient(contract_app, client=LOOPBACK, raise_server_exceptions=False)
    paths = client.get("/api/openapi.json").json()["paths"]
    for path, operations in paths.items():
        declared = {method.upper() for method in operations}
        unused = next(m for m in ("PUT", "PATCH", "DELETE", "POST") if m not in declared)
        url = re.sub(r"{(\w+)}", "1", path)
        response = client.request(unused, url)
        assert response.status_code == 405, (unused, url, response.text[:200])
        allowed = set(response.headers["allow"].split(", "))
        # every method of the path (and of a path it also matches: /api/indicators/{id} for
        # /api/indicators/cross), never the one refused
        assert declared <= allowed and unused not in allowed, (url, allowed)
        if url.startswith(("/api/", "/tiles/")):   # others answer in their own shape (pages)
            assert response.json()["error_code"] == "MethodNotAllowed"


def test_a_member_without_rights_gets_only_declared_answers_to_reads(contract_app: Any) -> None:
    """Every GET operation once, with real objects, as a member of no organisation: refusals
    (403 rather than 401) are declared too."""
    settings = contract_app.state.settings
    client = TestClient(contract_app, client=LOOPBACK, raise_server_exceptions=False,
                        headers=member_key(settings, "nobody@tests.example"))
    known = _known_objects(contract_app)
    real = {key.split(".", 1)[1]: (known[name] or ["none"])[0] for key, name in BINDINGS.items()
            if key.startswith("path.")}
    paths = client.get("/api/openapi.json").json()["paths"]
    refused = []
    for path, operations in paths.items():
        if "get" not in operations:
            continue
        url = path.format_map(_Filled({**real, "z": 1, "x": 1, "y": 1, "number": "latest"}))
        response = client.get(url)
        assert response.status_code < 500, (url, response.text[:300])
        assert str(response.status_code) in operations["get"]["responses"], (url, response.status_code)
        refused += [url] if response.status_code == 403 else []
    assert "/api/users" in refused and "/api/audit" in refused
