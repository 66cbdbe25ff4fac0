"""Request-scoped dependencies shared by the API routers and the web pages."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request
from sqlalchemy.orm import Session

from mutuelle.access.policy import Viewer, viewer_for_client
from mutuelle.core.config import Settings


def get_settings(request: Request) -> Settings:
    """The settings of the running app."""
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    """A catalogue session for one request."""
    session = request.app.state.sessions()
    try:
        yield session
    finally:
        session.close()


def get_viewer(request: Request) -> Viewer:
    """Who is asking (anonymous until accounts exist; see ``access.policy``)."""
    settings: Settings = request.app.state.settings
    host = request.client.host if request.client else None
    return viewer_for_client(host, local_editing=bool(settings.local_editing))
