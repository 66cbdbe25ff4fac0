"""Shared fixtures: real stores in temporary folders (SQLite and PostgreSQL catalogues, DuckDB
and Parquet on disk), the real ASGI app, a live server and headless Chromium."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from mutuelle.core.config import Settings

from http_testing import LOOPBACK, admin_key, session_token  # type: ignore[import-not-found]

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
if not FIXTURES.exists():  # CI clones next to shared/, like the work tree
    FIXTURES = Path(os.environ.get("MUTUELLE_FIXTURES", "../shared/fixtures")).resolve()
AWKWARD = FIXTURES / "awkward"
GEO = FIXTURES / "geo"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"

PG_ADMIN_URL = os.environ.get("MUTUELLE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """The shared real-world files (../shared/fixtures)."""
    if not FIXTURES.exists():
        pytest.fail(f"shared fixtures not found at {FIXTURES}")
    return FIXTURES


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings of a fresh embedded instance (SQLite + DuckDB) in a temporary folder."""
    home = tmp_path / "home"
    return Settings(home=home, duckdb_memory_limit="512MB")


def _postgres_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session; CI fails rather than skips without it."""
    if not _postgres_reachable():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432 (required in CI)")
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    name = f"mutuelle_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as con:
        con.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    from mutuelle.catalog.db import _engine_for

    _engine_for.cache_clear()
    with admin.connect() as con:
        con.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def empty_pg(pg_database: str) -> Callable[[], str]:
    """``empty_pg()``: the session's PostgreSQL database with an empty schema (its URL)."""

    def empty() -> str:
        engine = create_engine(pg_database)
        with engine.begin() as con:
            con.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        engine.dispose()
        from mutuelle.catalog.db import _engine_for

        _engine_for.cache_clear()
        return pg_database

    return empty


@pytest.fixture(params=["sqlite", "postgresql"])
def any_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings on each catalogue backend: SQLite, then PostgreSQL (schema reset per test)."""
    home = tmp_path / "home"
    if request.param == "sqlite":
        return Settings(home=home, duckdb_memory_limit="512MB")
    url = request.getfixturevalue("empty_pg")()
    return Settings(home=home, database_url=url, duckdb_memory_limit="512MB")


@pytest.fixture
def session(any_settings: Settings):  # type: ignore[no-untyped-def]
    """A catalogue session on each backend (SQLite, then PostgreSQL), schema migrated."""
    from mutuelle.catalog.db import sessions, upgrade

    upgrade(any_settings)
    with sessions(any_settings)() as s:
        yield s


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A portal home holding the whole demo territory (datasets, referential, indicators),
    loaded once per session by the real ``load_demo`` and copied for each test module."""
    import shutil

    from mutuelle.app import create_app
    from mutuelle.demo.load import load_demo

    shared = tmp_path_factory.getbasetemp() / "observatory-demo"
    if not (shared / "ready").exists():
        demo_settings = Settings(home=shared / "home", duckdb_memory_limit="512MB")
        with create_app(demo_settings).state.sessions() as session:
            load_demo(session, demo_settings)
        (shared / "ready").write_text("1")
    home = tmp_path_factory.mktemp("demo") / "home"
    shutil.copytree(shared / "home", home)
    return home


@pytest.fixture(scope="module")
def demo_api(demo_home: Path):  # type: ignore[no-untyped-def]
    """A site administrator's client (with a write key) on this module's copy of the demo portal."""
    from fastapi.testclient import TestClient

    from mutuelle.app import create_app

    settings = Settings(home=demo_home, duckdb_memory_limit="512MB")
    app = create_app(settings)
    with TestClient(app, client=LOOPBACK, raise_server_exceptions=False,
                    headers=admin_key(settings)) as client:
        yield client


@pytest.fixture(scope="module")
def demo_public_api(demo_home: Path):  # type: ignore[no-untyped-def]
    """An anonymous client on the same copy of the demo portal."""
    from fastapi.testclient import TestClient

    from mutuelle.app import create_app

    app = create_app(Settings(home=demo_home, duckdb_memory_limit="512MB"))
    with TestClient(app, client=LOOPBACK, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def app(settings: Settings):  # type: ignore[no-untyped-def]
    """The real ASGI app over a fresh embedded store."""
    from mutuelle.app import create_app

    return create_app(settings)


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    """An HTTP client on the app as a site administrator (with a write key)."""
    from fastapi.testclient import TestClient

    with TestClient(app, client=LOOPBACK, raise_server_exceptions=False,
                    headers=admin_key(app.state.settings)) as c:
        yield c


@pytest.fixture
def anonymous_client(settings: Settings):  # type: ignore[no-untyped-def]
    """An HTTP client as an anonymous visitor."""
    from fastapi.testclient import TestClient

    from mutuelle.app import create_app

    with TestClient(create_app(settings), client=LOOPBACK, raise_server_exceptions=False) as c:
        yield c


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live_server(app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The app served by uvicorn on a free local port, for the browser."""
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser():  # type: ignore[no-untyped-def]
    """Debian's headless Chromium driven by Playwright."""
    from playwright.sync_api import sync_playwright

    executable = os.environ.get("MUTUELLE_CHROMIUM", "/usr/bin/chromium")
    if not Path(executable).exists():
        pytest.fail(f"Chromium not found at {executable}: `make test` installs Debian's chromium")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
        ])
        yield b
        b.close()


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    """A fresh browser page (French locale), closed after the test."""
    context = browser.new_context(locale="fr-FR")
    pg = context.new_page()
    yield pg
    context.close()


@pytest.fixture
def member_page(browser, app, live_server: str):  # type: ignore[no-untyped-def]
    """A browser page signed in as a site administrator of the served app (French locale)."""
    context = browser.new_context(locale="fr-FR")
    context.add_cookies([{"name": "mutuelle_session", "url": live_server,
                          "value": session_token(app.state.settings)}])
    pg = context.new_page()
    yield pg
    context.close()


def _screenshot(page, name: str) -> Path:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def screenshot():  # type: ignore[no-untyped-def]
    """screenshot(page, name): keep a full-page screenshot under test-artifacts/."""
    return _screenshot
