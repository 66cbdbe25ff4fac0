"""Member-city portals: each organisation of the tree (territory → cities; partners beside)
has its own portal ``/o/<slug>`` with its name, logo and colours, listing its own objects and
those of the organisations below it; a host name may be mapped to an organisation."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mutuelle.access.policy import organisation_tree, organisations_below
from mutuelle.catalog.models import Organisation
from mutuelle.members.looks import Look, look_of

__all__ = ["Look", "PortalHosts", "host_map", "look_of", "members_of_territory", "portal_for_host",
           "portal_organisations"]


def portal_organisations(session: Session, org: Organisation) -> list[str]:
    """Ids of the organisations whose objects a portal lists: itself and all below it."""
    return [org.id, *sorted(organisations_below(organisation_tree(session), org.id))]


def members_of_territory(session: Session, org: Organisation) -> list[Organisation]:
    """The organisations directly below ``org`` (a territory's member cities and partners)."""
    return list(session.scalars(select(Organisation).where(Organisation.parent_id == org.id)
                                .order_by(Organisation.name)))


@lru_cache(maxsize=8)
def host_map(setting: str) -> dict[str, str]:
    """host name -> organisation slug, from ``MUTUELLE_PORTAL_HOSTS``."""
    out = {}
    for part in setting.split(","):
        host, sep, slug = part.strip().partition("=")
        if sep and host.strip() and slug.strip():
            out[host.strip().lower()] = slug.strip()
    return out


def portal_for_host(setting: str, host: str | None) -> str | None:
    """The slug of the organisation whose portal this host name shows, if any."""
    if not host:
        return None
    return host_map(setting).get(host.split(":")[0].lower())


class PortalHosts:
    """ASGI middleware: on a host name mapped to an organisation, ``/`` is that
    organisation's portal (``/o/<slug>``); every other address is unchanged."""

    def __init__(self, app: Any, setting: str) -> None:
        self.app = app
        self.setting = setting

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope.get("path") == "/" and self.setting:
            host = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"host"), None)
            slug = portal_for_host(self.setting, host)
            if slug is not None:
                scope = {**scope, "path": f"/o/{slug}", "raw_path": f"/o/{slug}".encode()}
        await self.app(scope, receive, send)
