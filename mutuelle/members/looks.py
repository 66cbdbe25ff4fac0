"""The look of an organisation's own portal: name, logo and colours, checked when written and
again when read (stored values are never trusted into a page's CSS or an image address)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from mutuelle.catalog.models import Organisation
from mutuelle.core.errors import InvalidInput
from mutuelle.core.text import check_text

_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
#: Where a logo may come from: our own static files (no way out of them by "..") or an https URL
#: (never javascript: or data:).
_LOGO = re.compile(r"^(https://[^\s\"'<>]+|/static/(?!.*\.\.)[A-Za-z0-9_./-]+)$")


#: WCAG 2.1 AA contrast for normal text: the primary colour is used for links on white.
MIN_CONTRAST = 4.5


def contrast_on_white(colour: str) -> float:
    """WCAG contrast ratio of ``#rrggbb`` against white."""
    def channel(c: int) -> float:
        v = c / 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    luminance = 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)
    return 1.05 / (luminance + 0.05)


@dataclass(frozen=True)
class Look:
    """What a portal looks like: safe to put in a page's CSS and an ``<img src>``."""

    name: str
    logo_url: str
    primary_colour: str
    accent_colour: str

    def css_variables(self) -> str:
        """The portal's colours as CSS variables for a style attribute (colours are checked):
        the primary colour takes the place of the site's accent (links, buttons), the accent
        colour underlines the header."""
        parts = []
        if self.primary_colour:
            parts.append(f"--accent: {self.primary_colour}; --accent-dark: {self.primary_colour}")
        if self.accent_colour:
            parts.append(f"--portal-band: {self.accent_colour}")
        return "; ".join(parts)


def look_of(org: Organisation) -> Look:
    """The look of an organisation's portal (stored values are checked again: never trusted)."""
    def colour(value: str) -> str:
        return value if value and _COLOUR.match(value) else ""

    logo = org.logo_url if org.logo_url and _LOGO.match(org.logo_url) else ""
    return Look(name=org.name, logo_url=logo, primary_colour=colour(org.primary_colour),
                accent_colour=colour(org.accent_colour))


def update_look(session: Session, org: Organisation, values: dict[str, Any]) -> Organisation:
    """Change an organisation's name, description, logo or colours."""
    unknown = set(values) - {"name", "description", "logo_url", "primary_colour", "accent_colour"}
    if unknown:
        raise InvalidInput(f"unknown organisation field(s): {', '.join(sorted(unknown))}")
    if "name" in values:
        org.name = check_text(values["name"], "name", max_length=300, required=True)
    if "description" in values:
        org.description = check_text(values["description"], "description", max_length=10_000,
                                     multiline=True)
    for key in ("primary_colour", "accent_colour"):
        if key in values:
            value = check_text(values[key] or "", key, max_length=7)
            if value and not _COLOUR.match(value):
                raise InvalidInput(f"{key} must be a colour such as #1f5f8b, not {value!r}")
            if key == "primary_colour" and value and contrast_on_white(value) < MIN_CONTRAST:
                raise InvalidInput(f"{key} {value} is too light for text on white "
                                   f"(contrast {contrast_on_white(value):.1f}:1, at least {MIN_CONTRAST}:1)")
            setattr(org, key, value)
    if "logo_url" in values:
        value = check_text(values["logo_url"] or "", "logo_url", max_length=500)
        if value and not _LOGO.match(value):
            raise InvalidInput("logo_url must be an https:// address or a /static/ path")
        org.logo_url = value
    session.flush()
    return org
