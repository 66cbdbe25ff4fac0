"""Stable identifiers: short random ids and URL slugs."""

from __future__ import annotations

import re
import secrets
import unicodedata

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case
_SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,98}[a-z0-9])?$")


def new_id(length: int = 12) -> str:
    """A random id made of unambiguous lower-case letters and digits."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def slugify(text: str, max_length: int = 80) -> str:
    """A URL-safe slug: accents folded, lower case, words joined by hyphens."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-")
    return slug[:max_length].strip("-") or "jeu-de-donnees"


def is_slug(text: str) -> bool:
    """Whether ``text`` is a valid slug (guards paths against traversal)."""
    return bool(_SLUG_RE.match(text))
