"""Members from the command line: accounts, roles, keys, groups and grants, the audit log;
the first administrator that ``make run`` creates."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from mutuelle.app import create_app
from mutuelle.cli import app
from mutuelle.core.config import Settings

from http_testing import LOOPBACK  # type: ignore[import-not-found]


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MUTUELLE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "200")  # tables on one line each
    runner = CliRunner()

    def invoke(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, list(args))
        return result.exit_code, result.output

    return invoke


def _portal(tmp_path: Path) -> TestClient:
    return TestClient(create_app(Settings(home=tmp_path / "home")), client=LOOPBACK,
                      raise_server_exceptions=False)


def test_the_first_administrator_is_made_once_with_a_printed_one_time_password(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, out = run("users", "bootstrap")
    assert code == 0 and "one-time password" in out
    password = re.search(r"one-time password: (\S+)", out).group(1)  # type: ignore[union-attr]
    assert run("users", "bootstrap") == (0, "")
    with _portal(tmp_path) as client:
        signed = client.post("/connexion", data={"email": "admin@mutuelle.localhost", "password": password},
                             follow_redirects=False)
        assert signed.status_code == 303 and signed.headers["location"] == "/compte?changer=1"


def test_roles_and_keys_from_the_command_line_hold_over_http(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert run("orgs", "add", "gpso", "GPSO", "--kind", "territory")[0] == 0
    assert run("orgs", "add", "issy", "Issy-les-Moulineaux", "--parent", "gpso")[0] == 0
    code, out = run("users", "add", "editrice@issy.example", "--org", "issy", "--role", "editor")
    assert code == 0 and "one-time password" in out
    code, secret = run("keys", "create", "editrice@issy.example", "--scope", "write", "--name", "script")
    assert code == 0 and secret.strip().startswith("mut_")
    key = {"Authorization": f"Apikey {secret.strip()}"}
    with _portal(tmp_path) as client:
        made = client.post("/api/datasets", json={"organisation": "issy", "title": "Budget"}, headers=key)
        assert made.status_code == 201, made.text
        assert client.post("/api/datasets", json={"organisation": "gpso", "title": "X"},
                           headers=key).status_code == 403, "an editor of Issy is nobody at GPSO"
    code, out = run("keys", "list", "editrice@issy.example")
    assert "script" in out and secret.strip() not in out
    prefix = secret.strip()[4:].split(".")[0]
    assert run("keys", "revoke", prefix)[0] == 0
    with _portal(tmp_path) as client:
        assert client.get("/api/me", headers=key).status_code == 401
    assert run("users", "set-role", "editrice@issy.example", "issy", "none")[0] == 0
    code, out = run("users", "list")
    assert "editrice@issy.example" in out and "issy:editor" not in out
    code, out = run("audit", "list")
    for action in ("organisation.create", "user.create", "member.role", "key.create", "key.revoke",
                   "dataset.create"):
        assert action in out, action


def test_disabled_accounts_and_resets(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("users", "add", "agent@example.org")
    code, secret = run("keys", "create", "agent@example.org")
    assert run("users", "disable", "agent@example.org")[0] == 0
    with _portal(tmp_path) as client:
        assert client.get("/api/me", headers={"Authorization": f"Apikey {secret.strip()}"}).status_code == 401
    assert run("users", "disable", "agent@example.org", "--enable")[0] == 0
    code, out = run("users", "reset-password", "agent@example.org")
    assert code == 0 and "one-time password" in out


def test_restricted_data_is_granted_to_a_group(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    awkward = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "awkward"
    assert run("import", str(awkward / "communes_bom.csv"), "--dataset", "communes",
               "--organisation", "metro")[0] == 0
    with _portal(tmp_path) as client:
        admin = run("users", "add", "admin@metro.example", "--site-admin")
        assert admin[0] == 0
        code, secret = run("keys", "create", "admin@metro.example", "--scope", "write")
        restricted = client.put("/api/datasets/communes/access", json={"access": "restricted"},
                                headers={"Authorization": f"Apikey {secret.strip()}"})
        assert restricted.status_code == 200, restricted.text
    run("users", "add", "analyste@cpam.example")
    _, partner = run("keys", "create", "analyste@cpam.example")
    partner_key = {"Authorization": f"Apikey {partner.strip()}"}
    with _portal(tmp_path) as client:
        assert client.get("/api/datasets/communes", headers=partner_key).status_code == 404
    assert run("groups", "add", "cpam", "Analystes CPAM")[0] == 0
    assert run("groups", "member", "cpam", "analyste@cpam.example")[0] == 0
    assert run("groups", "grant", "dataset", "communes", "--group", "cpam")[0] == 0
    with _portal(tmp_path) as client:
        assert client.get("/api/datasets/communes", headers=partner_key).status_code == 200
        assert client.get("/api/datasets/communes").status_code == 404


@pytest.mark.parametrize("args,words", [
    (("users", "add", "not-an-email"), "email"),
    (("users", "set-role", "nobody@example.org", "issy", "editor"), "no user"),
    (("keys", "create", "nobody@example.org"), "no user"),
    (("keys", "revoke", "nothing"), "no API key"),
])
def test_bad_member_commands_say_what_in_one_line(run, args: tuple[str, ...], words: str) -> None:  # type: ignore[no-untyped-def]
    code, out = run(*args)
    assert code == 2 and words in out and "Traceback" not in out
