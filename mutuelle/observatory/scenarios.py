"""Scenarios: saved map views (indicators, level, classification, palette, filters, view)
opened by a short permalink ``/s/<id>``; public, or internal to professionals.

The state is validated here, once, so that a permalink always restores a view the map can
draw; the API, the pages and the CLI all go through these functions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from mutuelle.access.policy import (
    Viewer,
    allowed,
    may_file_under,
    readable_scenario,
    require,
    visible_scenarios,
)
from mutuelle.catalog.models import Organisation
from mutuelle.catalog.observatory_models import LEVELS, Indicator, Scenario
from mutuelle.core.embeds import embed_snippet
from mutuelle.core.errors import Forbidden, InvalidInput, InvalidText, NotFound, Unauthenticated
from mutuelle.core.ids import is_slug
from mutuelle.core.text import check_text
from mutuelle.observatory import classification

#: Who may open a scenario: anyone with the link, members of its organisation's tree, or the
#: groups and users it is granted to.
ACCESS_LEVELS = ("public", "internal", "restricted")
METHODS = classification.METHODS
MIN_CLASSES, MAX_CLASSES = classification.MIN_CLASSES, classification.MAX_CLASSES
#: Parent territories a map may be limited to (``filters``), as columns of ``Territory``.
FILTER_KEYS = ("commune", "epci", "departement", "region")
STATE_KEYS = ("indicator", "indicator2", "level", "vintage", "method", "classes", "breaks",
              "palette", "filters", "center", "zoom", "selected", "points", "proportional")
#: Point datasets (slugs) a map may overlay.
MAX_POINT_LAYERS = 10
MAX_TITLE = 300
MAX_COMMENT = 5000
MAX_ZOOM = 22
DEFAULT_STATE: dict[str, Any] = {
    "indicator2": None, "level": "iris", "vintage": None, "method": "quantile", "classes": 5,
    "breaks": [], "palette": classification.DEFAULT_PALETTE, "filters": {}, "center": None,
    "zoom": None, "selected": None, "points": [], "proportional": False,
}


# --- the state ------------------------------------------------------------------------------

def palettes() -> tuple[str, ...]:
    """Names of the palettes a map may use."""
    return (*classification.SEQUENTIAL, *classification.DIVERGING)


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidInput(f"{name} must be a finite number, not {value!r}")
    return float(value)


def _indicator_id(session: Session, name: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"state.{name} must be an indicator id")
    if session.get(Indicator, value) is None:
        raise InvalidInput(f"state.{name}: unknown indicator {value!r}")
    return value


def check_classes(classes: Any, *, name: str = "classes") -> int:
    """A number of classes between 3 and 9, else ``InvalidInput`` naming the parameter."""
    if isinstance(classes, bool) or not isinstance(classes, int) \
            or not MIN_CLASSES <= classes <= MAX_CLASSES:
        raise InvalidInput(f"{name} must be a whole number from {MIN_CLASSES} to {MAX_CLASSES}, "
                           f"not {classes!r}")
    return classes


def check_method(method: Any, *, name: str = "method") -> str:
    """A classification method, else ``InvalidInput`` naming the parameter."""
    if method not in METHODS:
        raise InvalidInput(f"{name} must be one of {', '.join(METHODS)}, not {method!r}")
    return str(method)


def check_level(level: Any, *, name: str = "level") -> str:
    """A level of the referential, else ``InvalidInput`` naming the parameter."""
    if level not in LEVELS:
        raise InvalidInput(f"{name} must be one of {', '.join(LEVELS)}, not {level!r}")
    return str(level)


def check_breaks(breaks: Any, *, name: str = "breaks") -> list[float]:
    """Manual class limits: finite numbers (an order or a count that does not fit the classes
    is told by the classification's note when the map is drawn, not refused)."""
    if not isinstance(breaks, (list, tuple)):
        raise InvalidInput(f"{name} must be a list of numbers")
    return [_number(name, b) for b in breaks]


def _filters(value: Any) -> dict[str, str]:
    if value in (None, {}):
        return {}
    if not isinstance(value, Mapping):
        raise InvalidInput("state.filters must be an object such as {\"commune\": \"69123\"}")
    unknown = sorted(set(value) - set(FILTER_KEYS))
    if unknown:
        raise InvalidInput(f"state.filters: unknown key(s) {', '.join(unknown)}; "
                           f"allowed: {', '.join(FILTER_KEYS)}")
    out = {}
    for key, code in value.items():
        if code in (None, ""):
            continue
        if not isinstance(code, str) or len(code) > 20:
            raise InvalidInput(f"state.filters.{key} must be a territory code")
        out[key] = code
    if len(out) > 1:
        raise InvalidInput("state.filters may limit the map to one territory only, "
                           f"not {len(out)}")
    return out


def validate_state(session: Session, state: Any) -> dict[str, Any]:
    """The state of a map view with defaults filled in; ``InvalidInput`` names the bad key."""
    if not isinstance(state, Mapping):
        raise InvalidInput("state must be an object")
    unknown = sorted(set(state) - set(STATE_KEYS))
    if unknown:
        raise InvalidInput(f"state: unknown key(s) {', '.join(unknown)}; "
                           f"allowed: {', '.join(STATE_KEYS)}")
    s = {**DEFAULT_STATE, **{k: v for k, v in state.items() if v is not None}}
    out: dict[str, Any] = {"indicator": _indicator_id(session, "indicator", state.get("indicator"))}
    out["indicator2"] = (_indicator_id(session, "indicator2", s["indicator2"])
                         if s["indicator2"] else None)
    if out["indicator2"] == out["indicator"]:
        raise InvalidInput("state.indicator2 must differ from state.indicator")
    out["level"] = check_level(s["level"], name="state.level")
    if s["vintage"] is not None and (isinstance(s["vintage"], bool)
                                     or not isinstance(s["vintage"], int)):
        raise InvalidInput(f"state.vintage must be a year, not {s['vintage']!r}")
    out["vintage"] = s["vintage"]
    out["method"] = check_method(s["method"], name="state.method")
    out["classes"] = check_classes(s["classes"], name="state.classes")
    out["breaks"] = check_breaks(s["breaks"], name="state.breaks")
    if out["method"] == "manual" and not out["breaks"]:
        raise InvalidInput("state.breaks are needed with the manual method")
    palette = s["palette"]
    if palette is not None and palette not in palettes():
        raise InvalidInput(f"state.palette must be one of {', '.join(palettes())}, "
                           f"not {palette!r}")
    out["palette"] = palette
    out["filters"] = _filters(s["filters"])
    center = s["center"]
    if center is not None:
        if not isinstance(center, Sequence) or isinstance(center, str) or len(center) != 2:
            raise InvalidInput("state.center must be [longitude, latitude]")
        lon, lat = _number("state.center", center[0]), _number("state.center", center[1])
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise InvalidInput(f"state.center is out of range: {[lon, lat]}")
        center = [lon, lat]
    out["center"] = center
    zoom = s["zoom"]
    if zoom is not None:
        zoom = _number("state.zoom", zoom)
        if not 0 <= zoom <= MAX_ZOOM:
            raise InvalidInput(f"state.zoom must be between 0 and {MAX_ZOOM}, not {zoom}")
    out["zoom"] = zoom
    selected = s["selected"]
    if selected is not None and (not isinstance(selected, str) or len(selected) > 20):
        raise InvalidInput("state.selected must be a territory code")
    out["selected"] = selected
    points = s["points"]
    if (not isinstance(points, Sequence) or isinstance(points, str) or len(points) > MAX_POINT_LAYERS
            or not all(isinstance(p, str) and is_slug(p) for p in points)):
        raise InvalidInput(f"state.points must be a list of at most {MAX_POINT_LAYERS} dataset slugs")
    out["points"] = list(dict.fromkeys(points))
    if not isinstance(s["proportional"], bool):
        raise InvalidInput("state.proportional must be true or false")
    out["proportional"] = s["proportional"]
    return out


# --- access ---------------------------------------------------------------------------------

def _require_member(viewer: Viewer, what: str) -> None:
    """Saving map views is for members (anonymous visitors share the page's address)."""
    if not viewer.signed_in:
        raise Unauthenticated(f"sign in to {what} scenarios")
    if viewer.key_scope == "read":
        raise Forbidden(f"this API key may only read: it may not {what} scenarios")


def _text(name: str, value: Any, limit: int, *, required: bool = False) -> str:
    if value is None:
        value = ""
    text = check_text(value, name, max_length=limit, multiline=name == "comment").strip()
    if required and not text:
        raise InvalidText(f"a scenario needs a {name}")
    return text


def _access(value: Any) -> str:
    if value not in ACCESS_LEVELS:
        raise InvalidInput(f"access must be one of {', '.join(ACCESS_LEVELS)}, not {value!r}")
    return str(value)


def _organisation_id(session: Session, viewer: Viewer, slug: Any) -> str | None:
    """The organisation a scenario belongs to: one the viewer is a member of."""
    if slug in (None, ""):
        return None
    org = session.scalar(select(Organisation).where(
        or_(Organisation.slug == str(slug), Organisation.id == str(slug))))
    if org is None:
        raise InvalidInput(f"unknown organisation {slug!r}")
    if not may_file_under(viewer, org):
        raise Forbidden(f"you are not a member of {org.name}: its scenarios are not yours to save")
    return str(org.id)


# --- the service ----------------------------------------------------------------------------

def create_scenario(session: Session, viewer: Viewer, *, title: Any, state: Any,
                    comment: Any = "", access: Any = "public",
                    organisation: Any = None) -> Scenario:
    """Save a map view as a new scenario (the caller commits)."""
    _require_member(viewer, "create")
    scenario = Scenario(
        title=_text("title", title, MAX_TITLE, required=True),
        comment=_text("comment", comment, MAX_COMMENT),
        state=validate_state(session, state), access=_access(access),
        organisation_id=_organisation_id(session, viewer, organisation),
        created_by=viewer.user_id or "")
    session.add(scenario)
    session.flush()
    return scenario


def get_scenario(session: Session, viewer: Viewer, scenario_id: str) -> Scenario:
    """The scenario ``scenario_id`` if ``viewer`` may open it; otherwise ``NotFound``
    (never Forbidden, so that an internal scenario's existence does not leak)."""
    if len(scenario_id) > 16:
        raise NotFound(f"no scenario {scenario_id!r}")
    return readable_scenario(session, viewer, scenario_id)


def list_scenarios(session: Session, viewer: Viewer, *, q: str | None = None,
                   indicator: str | None = None, limit: int = 20,
                   offset: int = 0) -> tuple[int, list[Scenario]]:
    """The gallery: the scenarios ``viewer`` may open; newest first."""
    query = select(Scenario).where(visible_scenarios(viewer))
    if q:
        pattern = f"%{q.strip().lower()}%"
        query = query.where(or_(func.lower(Scenario.title).like(pattern),
                                func.lower(Scenario.comment).like(pattern)))
    rows = list(session.scalars(query.order_by(Scenario.created_at.desc(), Scenario.id)))
    if indicator:
        rows = [s for s in rows if indicator in (s.state.get("indicator"), s.state.get("indicator2"))]
    return len(rows), rows[offset:offset + limit]


def update_scenario(session: Session, viewer: Viewer, scenario_id: str,
                    changes: Mapping[str, Any]) -> Scenario:
    """Change a scenario's title, comment, access, organisation or state."""
    scenario = get_scenario(session, viewer, scenario_id)
    require(viewer, "edit", scenario, what=f"scenario {scenario_id!r}")
    unknown = sorted(set(changes) - {"title", "comment", "access", "organisation", "state"})
    if unknown:
        raise InvalidInput(f"unknown field(s) {', '.join(unknown)}")
    if "title" in changes:
        scenario.title = _text("title", changes["title"], MAX_TITLE, required=True)
    if "comment" in changes:
        scenario.comment = _text("comment", changes["comment"], MAX_COMMENT)
    if "access" in changes:
        scenario.access = _access(changes["access"])
    if "organisation" in changes:
        scenario.organisation_id = _organisation_id(session, viewer, changes["organisation"])
    if "state" in changes:
        scenario.state = validate_state(session, changes["state"])
    session.flush()
    return scenario


def delete_scenario(session: Session, viewer: Viewer, scenario_id: str) -> None:
    """Delete a scenario: its permalink then answers 404."""
    scenario = get_scenario(session, viewer, scenario_id)
    require(viewer, "delete", scenario, what=f"scenario {scenario_id!r}")
    session.delete(scenario)
    session.flush()


def duplicate_scenario(session: Session, viewer: Viewer, scenario_id: str, *,
                       title: Any = None) -> Scenario:
    """A copy of a scenario (same state) under a new id, remembering where it came from."""
    source = get_scenario(session, viewer, scenario_id)
    _require_member(viewer, "duplicate")
    copy = Scenario(
        title=_text("title", title, MAX_TITLE) or _copy_title(source.title),
        comment=source.comment, state=dict(source.state), access=source.access,
        organisation_id=source.organisation_id if allowed(viewer, "edit", source) else None,
        duplicated_from=source.id, created_by=viewer.user_id or "")
    session.add(copy)
    session.flush()
    return copy


def _copy_title(title: str) -> str:
    suffix = " (copie)"
    return title[:MAX_TITLE - len(suffix)] + suffix


def scenario_json(scenario: Scenario, *, base_url: str = "") -> dict[str, Any]:
    """The JSON form of a scenario, with its permalink and embed URLs."""
    link = f"{base_url}/s/{scenario.id}"
    return {
        "id": scenario.id, "title": scenario.title, "comment": scenario.comment,
        "state": scenario.state, "access": scenario.access,
        "organisation_id": scenario.organisation_id,
        "duplicated_from": scenario.duplicated_from, "created_by": scenario.created_by,
        "created_at": scenario.created_at.isoformat() if scenario.created_at else None,
        "updated_at": scenario.updated_at.isoformat() if scenario.updated_at else None,
        "permalink": link, "embed_url": f"{link}/embed",
        "embed_html": embed_snippet(f"{link}/embed", scenario.title),
    }
