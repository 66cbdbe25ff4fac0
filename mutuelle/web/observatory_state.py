"""The state of the observatory's map: read from the map form's fields (the query string of
``/observatoire``) or from a saved scenario, validated, and written back as fields."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from mutuelle.access.policy import Viewer, readable_indicator
from mutuelle.core.errors import InvalidInput, NotFound
from mutuelle.observatory import classification
from mutuelle.observatory import scenarios as scenario_service
from mutuelle.observatory.maps import (
    parse_within,
    read_breaks,
    visible_indicators,
)

#: Query parameters of the map page, as strings (the form's fields).
FORM_FIELDS = ("indicator", "indicator2", "level", "vintage", "method", "classes", "breaks",
               "palette", "within", "center", "zoom", "selected", "points", "proportional")


def form_from_query(params: Mapping[str, str]) -> dict[str, str]:
    """The map form's fields as written in the query string (``points`` may be repeated or
    comma-separated)."""
    form = {name: (params.get(name) or "").strip() for name in FORM_FIELDS}
    getlist = getattr(params, "getlist", None)
    points = getlist("points") if getlist else [form["points"]]
    slugs = [p.strip() for value in points for p in str(value).split(",") if p.strip()]
    form["points"] = ",".join(dict.fromkeys(slugs))
    return form


def form_from_state(state: Mapping[str, Any]) -> dict[str, str]:
    """The map form's fields of a saved state."""
    filters = state.get("filters") or {}
    within = next((f"{k}:{v}" for k, v in filters.items()), "")
    center = state.get("center")
    return {
        "indicator": state.get("indicator") or "", "indicator2": state.get("indicator2") or "",
        "level": state.get("level") or "", "vintage": str(state.get("vintage") or ""),
        "method": state.get("method") or "", "classes": str(state.get("classes") or ""),
        "breaks": ";".join(f"{b:g}" for b in state.get("breaks") or []),
        "palette": state.get("palette") or "", "within": within,
        "center": f"{center[0]:.6f},{center[1]:.6f}" if center else "",
        "zoom": f"{state['zoom']:.3f}" if state.get("zoom") is not None else "",
        "selected": state.get("selected") or "",
        "points": ",".join(state.get("points") or []),
        "proportional": "1" if state.get("proportional") else "",
    }


def _int(name: str, text: str) -> int | None:
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise InvalidInput(f"{name} must be a whole number, not {text!r}") from None


def _floats(name: str, text: str, count: int) -> list[float] | None:
    if not text:
        return None
    try:
        numbers = [float(p) for p in text.split(",")]
    except ValueError:
        raise InvalidInput(f"{name} must be {count} numbers separated by commas") from None
    if len(numbers) != count:
        raise InvalidInput(f"{name} must be {count} numbers separated by commas")
    return numbers


def state_from_form(session: Session, viewer: Viewer, form: dict[str, str],
                    default_level: str) -> dict[str, Any]:
    """A validated state from the form's fields; ``InvalidInput`` names the bad field."""
    indicators = visible_indicators(session, viewer)
    if not form["indicator"] and indicators:
        form["indicator"] = indicators[0].id
    for key in ("indicator", "indicator2"):
        if form[key]:
            try:
                readable_indicator(session, viewer, form[key])
            except NotFound:
                raise InvalidInput(f"{key}: unknown indicator {form[key]!r}") from None
    form["level"] = form["level"] or default_level
    within = parse_within(form["within"])
    zoom = _floats("zoom", form["zoom"], 1)
    method = form["method"] or "quantile"
    breaks = read_breaks(form["breaks"])[0] if method == "manual" else []
    if method == "manual" and not breaks:
        # Nothing to draw manual classes with (yet): quantiles meanwhile, told by breaks_notes.
        method = "quantile"
    raw = {
        "indicator": form["indicator"], "indicator2": form["indicator2"] or None,
        "level": form["level"], "vintage": _int("vintage", form["vintage"]), "method": method,
        "classes": _int("classes", form["classes"]) or 5,
        # Breaks typed for another method are kept in the form but not used.
        "breaks": breaks,
        "palette": form["palette"] or classification.DEFAULT_PALETTE,
        "filters": {within[0]: within[1]} if within else {},
        "center": _floats("center", form["center"], 2), "zoom": zoom[0] if zoom else None,
        "selected": form["selected"] or None,
        "points": [p for p in form["points"].split(",") if p],
        "proportional": form["proportional"] in ("1", "on", "true"),
    }
    return scenario_service.validate_state(session, raw)


def breaks_notes(form: Mapping[str, str]) -> list[dict[str, Any]]:
    """What the legend says of manual breaks typed in the form that could not all be used:
    parts that are no number (left out), or no break at all (quantiles meanwhile). The map is
    drawn either way (the classification's own notes tell the rest)."""
    if form.get("method") != "manual":
        return []
    numbers, unreadable = read_breaks(form.get("breaks") or "")
    notes: list[dict[str, Any]] = []
    if unreadable:
        notes.append({"code": "breaks_unreadable", "parts": unreadable})
    if not numbers:
        notes.append({"code": "breaks_missing"})
    return notes


def table_page(params: Mapping[str, str]) -> int:
    """The page of the table of values asked for (``page=``, from 1)."""
    text = (params.get("page") or "").strip()
    page = _int("page", text) if text else 1
    if page is None or page < 1:
        raise InvalidInput(f"page must be a whole number from 1, not {text!r}")
    return page


def table_sort(params: Mapping[str, str]) -> str:
    """The order of the table of values asked for (``sort=``: ``name`` by default, ``-value``
    for the highest values first...; ``maps.check_sort`` refuses others when the table is
    made, so that the page keeps its form and says why)."""
    return (params.get("sort") or "").strip() or "name"


def details_url(state: dict[str, Any] | None) -> str | None:
    """Where ``map.js`` fetches the tooltips' ranks and parents of a state's choropleth."""
    if state is None:
        return None
    fields = form_from_state({**state, "indicator2": None, "center": None, "zoom": None,
                              "selected": None, "points": None, "proportional": False})
    return "/observatoire/details?" + urlencode({k: v for k, v in fields.items() if v})
