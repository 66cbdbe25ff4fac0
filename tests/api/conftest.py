"""Fixtures of the API tests: portals with the known offers dataset (see portal.py)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from portal import make_portal  # type: ignore[import-not-found]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    """A site administrator's client on a portal with the offers dataset."""
    return make_portal(tmp_path_factory.mktemp("api"))


@pytest.fixture(scope="module")
def public_api(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    """An anonymous client on a portal with the offers dataset and a draft."""
    return make_portal(tmp_path_factory.mktemp("public"), editing=False)

