"""The client's address: the peer's, unless the peer is a trusted reverse proxy
(``MUTUELLE_TRUSTED_PROXIES``), whose forwarded headers are then believed. Used for logs and
login throttling only: an address never grants any right."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from functools import lru_cache

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def trusted_networks(setting: str) -> tuple[Network, ...]:
    """The networks of a ``MUTUELLE_TRUSTED_PROXIES`` value."""
    out = []
    for part in setting.split(","):
        if part.strip():
            out.append(ipaddress.ip_network(part.strip(), strict=False))
    return tuple(out)


def _trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def client_address(peer: str | None, headers: Mapping[str, str], trusted_setting: str) -> str:
    """The address of the client behind any trusted proxies."""
    peer = peer or ""
    networks = trusted_networks(trusted_setting)
    if not networks or not _trusted(peer, networks):
        return peer
    forwarded = [part.strip() for part in headers.get("x-forwarded-for", "").split(",") if part.strip()]
    # The right-most address that is not one of our proxies is the client.
    for candidate in reversed(forwarded):
        if not _trusted(candidate, networks):
            return candidate[:64]
    real = headers.get("x-real-ip", "").strip()
    return real[:64] if real else peer
