"""Dashboards: pages of blocks on a grid of ``GRID_COLUMNS`` columns, saved by members under an
organisation, public, internal or restricted (``access.policy``).

Saving checks every block against what it names, as the one saving may see it: the chart,
scenario or indicator exists; the KPI's and the table's columns are in their dataset's latest
published version and their clauses compile; blocks stay inside the grid and do not overlap.
A KPI target's date may not be set in the past (422 naming the field); a target whose date
passes afterwards is kept, and shown as overdue.

What can change after saving (a chart deleted, a column removed by a new version, a clause
that fails on the data) is told in the block when the dashboard is shown, never by failing
the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from mutuelle.access.policy import (
    Viewer,
    readable_chart,
    readable_dashboard,
    readable_dataset,
    readable_indicator,
    readable_scenario,
    require,
    visible_dashboards,
)
from mutuelle.catalog import repository as repo
from mutuelle.catalog.dashboard_models import Dashboard
from mutuelle.catalog.models import Dataset, Organisation, Version
from mutuelle.catalog.observatory_models import LEVELS
from mutuelle.core import clock
from mutuelle.core.config import Settings
from mutuelle.core.errors import InvalidField, MutuelleError, NotFound
from mutuelle.core.ids import new_id
from mutuelle.dashboards import columns
from mutuelle.dashboards.kpi import kpi_query
from mutuelle.dashboards.listing import newest_page
from mutuelle.dashboards.ownership import clean_text, owner, require_member
from mutuelle.dashboards.schemas import (
    BLOCK_KINDS,
    GRID_COLUMNS,
    MAX_DESCRIPTION,
    MAX_TEXT,
    MAX_TITLE,
    Block,
    DashboardBody,
    DashboardChanges,
    Kpi,
    TableSpec,
    parse,
)
from mutuelle.query.records import RecordsParams, plan_records

#: The part of a block each kind is described by (``Block.kpi``, ``Block.chart``...).
PARTS = {kind: kind for kind in BLOCK_KINDS}


# --- the blocks -----------------------------------------------------------------------------

def blocks_of(dashboard: Dashboard) -> list[Block]:
    """A dashboard's blocks as saved (they were checked then), in reading order."""
    blocks = [parse(Block, b, where=f"blocks.{i}") for i, b in enumerate(dashboard.blocks or [])]
    return sorted(blocks, key=lambda b: (b.y, b.x))


def _readable_source(session: Session, viewer: Viewer, key: str, field: str) -> Version:
    try:
        dataset = readable_dataset(session, viewer, key)
    except NotFound:
        raise InvalidField(field, f"{field}: no dataset {key!r}") from None
    version = repo.latest_version(dataset)
    if version is None:
        raise InvalidField(field, f"{field}: dataset {key!r} has no published version")
    return version


def _compiles(settings: Settings, version: Version, params: RecordsParams, field: str) -> None:
    """Refuse clauses that do not compile on ``version`` (naming ``field``)."""
    try:
        plan_records(settings, version, params)
    except InvalidField:
        raise
    except MutuelleError as exc:
        raise InvalidField(field, f"{field}: {exc.message}") from None


def table_query(spec: TableSpec, schema: dict[str, str], *, version: int | None = None,
                where: str = "table") -> RecordsParams:
    """The records query of a table block: its columns (all but geometries when none are
    named), condition, order and number of rows."""
    for j, name in enumerate(spec.columns):
        columns.column(schema, name, f"{where}.columns.{j}", version=version)
    shown = spec.columns or [n for n, kind in schema.items() if kind in columns.PLAIN]
    return RecordsParams.of(select=", ".join(columns.name(n) for n in shown) or None,
                            where=[spec.where] if spec.where.strip() else None,
                            order_by=spec.order_by or None, limit=spec.rows)


def _check_kpi(session: Session, settings: Settings, viewer: Viewer, spec: Kpi, where: str,
               before: dict[str, date], block_id: str | None, today: date) -> None:
    version = _readable_source(session, viewer, spec.dataset, f"{where}.dataset")
    params = kpi_query(spec, version.schema, version=version.number, where=where)
    _compiles(settings, version, params, f"{where}.where")
    target = spec.target
    if target is not None and target.date < today and before.get(block_id or "") != target.date:
        raise InvalidField(f"{where}.target.date",
                           f"{where}.target.date: {target.date.isoformat()} is in the past; a "
                           f"new target's date must be today ({today.isoformat()}) or later")
    if target is not None and spec.measure == "count" and target.value < 0:
        raise InvalidField(f"{where}.target.value", f"{where}.target.value: a count is never "
                                                    "negative")


def _check_part(session: Session, settings: Settings, viewer: Viewer, block: Block, i: int,
                before: dict[str, date], today: date) -> None:
    """Check what a block names, as ``viewer`` sees it."""
    where = f"blocks.{i}.{block.kind}"
    if block.kind == "kpi" and block.kpi is not None:
        _check_kpi(session, settings, viewer, block.kpi, where, before, block.id, today)
    elif block.kind == "chart" and block.chart is not None:
        _exists(lambda: readable_chart(session, viewer, block.chart or ""), where,
                f"no chart {block.chart!r}")
    elif block.kind == "scenario" and block.scenario is not None:
        _exists(lambda: readable_scenario(session, viewer, block.scenario or ""), where,
                f"no scenario {block.scenario!r}")
    elif block.kind == "indicator" and block.indicator is not None:
        spec = block.indicator
        _exists(lambda: readable_indicator(session, viewer, spec.indicator), f"{where}.indicator",
                f"no indicator {spec.indicator!r}")
        _level(spec.level, f"{where}.level")
    elif block.kind == "map" and block.map is not None:
        _check_map(session, viewer, block, where)
    elif block.kind == "table" and block.table is not None:
        table = block.table
        version = _readable_source(session, viewer, table.dataset, f"{where}.dataset")
        params = table_query(table, version.schema, version=version.number, where=where)
        _compiles(settings, version, params, f"{where}.where")
    elif block.kind == "text" and block.text is not None:
        clean_text(block.text, where, MAX_TEXT, multiline=True)


def _check_map(session: Session, viewer: Viewer, block: Block, where: str) -> None:
    spec = block.map
    assert spec is not None
    if (spec.indicator is None) == (spec.dataset is None):
        raise InvalidField(where, f"{where}: a map shows an indicator or a dataset's points: "
                                  "name one of them")
    if spec.indicator is not None:
        _exists(lambda: readable_indicator(session, viewer, spec.indicator or ""),
                f"{where}.indicator", f"no indicator {spec.indicator!r}")
        _level(spec.level, f"{where}.level")
        return
    version = _readable_source(session, viewer, spec.dataset or "", f"{where}.dataset")
    if "geometry" not in version.schema.values():
        raise InvalidField(f"{where}.dataset", f"{where}.dataset: dataset {spec.dataset!r} has "
                                               "no geometry to map")


def _exists(fetch: Any, field: str, message: str) -> None:
    try:
        fetch()
    except NotFound:
        raise InvalidField(field, f"{field}: {message}") from None


def _level(level: str | None, field: str) -> None:
    if level is not None and level not in LEVELS:
        raise InvalidField(field, f"{field}: {level!r} is not a level; one of "
                                  f"{', '.join(LEVELS)}")


def _check_shape(block: Block, i: int) -> None:
    """One part, the one of the block's kind, inside the grid."""
    part = PARTS[block.kind]
    if getattr(block, part) is None:
        raise InvalidField(f"blocks.{i}.{part}", f"blocks.{i}.{part}: a {block.kind} block "
                                                 f"needs its {part}")
    for other in set(PARTS.values()) - {part}:
        if getattr(block, other) is not None:
            raise InvalidField(f"blocks.{i}.{other}", f"blocks.{i}.{other}: a {block.kind} "
                                                      f"block takes no {other}")
    if block.x + block.w > GRID_COLUMNS:
        raise InvalidField(f"blocks.{i}.w", f"blocks.{i}.w: a block at column {block.x} is "
                           f"at most {GRID_COLUMNS - block.x} columns wide (the grid has "
                           f"{GRID_COLUMNS})")


def _cells(block: Block) -> set[tuple[int, int]]:
    return {(x, y) for x in range(block.x, block.x + block.w)
            for y in range(block.y, block.y + block.h)}


def check_blocks(session: Session, settings: Settings, viewer: Viewer, blocks: Sequence[Block],
                 *, before: Sequence[dict[str, Any]] = (), today: date | None = None
                 ) -> list[dict[str, Any]]:
    """The blocks as saved (each with an id), every one checked; ``before`` are the blocks saved
    until now, whose targets may keep a date that has passed since."""
    today = today or clock.now().date()
    kept: dict[str, date] = {}
    for old in before:
        target = (old.get("kpi") or {}).get("target") if isinstance(old, dict) else None
        if isinstance(target, dict) and isinstance(target.get("date"), str):
            kept[str(old.get("id"))] = date.fromisoformat(target["date"])
    seen: dict[str, int] = {}
    taken: dict[tuple[int, int], int] = {}
    out = []
    for i, block in enumerate(blocks):
        _check_shape(block, i)
        if block.id is not None and block.id in seen:
            raise InvalidField(f"blocks.{i}.id", f"blocks.{i}.id: {block.id!r} is also the id "
                                                 f"of blocks.{seen[block.id]}")
        for cell in _cells(block):
            if cell in taken:
                raise InvalidField(f"blocks.{i}", f"blocks.{i} overlaps blocks.{taken[cell]} "
                                   f"at column {cell[0]}, row {cell[1]}")
            taken[cell] = i
        _check_part(session, settings, viewer, block, i, kept, today)
        saved = block.model_dump(mode="json", exclude_none=True)
        saved["id"] = block.id or new_id(6)
        seen[saved["id"]] = i
        out.append(saved)
    return out


# --- the service ----------------------------------------------------------------------------

def create_dashboard(session: Session, settings: Settings, viewer: Viewer, body: Any) -> Dashboard:
    """Save a new dashboard (the caller commits)."""
    require_member(viewer, "dashboards")
    b = parse(DashboardBody, body)
    org = owner(session, viewer, b.organisation)
    dashboard = Dashboard(
        title=clean_text(b.title, "title", MAX_TITLE, required=True),
        description=clean_text(b.description, "description", MAX_DESCRIPTION, multiline=True),
        access=b.access, organisation_id=org.id, created_by=viewer.user_id or "",
        blocks=check_blocks(session, settings, viewer, b.blocks))
    session.add(dashboard)
    session.flush()
    return dashboard


def get_dashboard(session: Session, viewer: Viewer, dashboard_id: str) -> Dashboard:
    """The dashboard ``dashboard_id`` if ``viewer`` may open it; otherwise ``NotFound`` (never
    Forbidden: an internal dashboard's existence does not leak)."""
    return readable_dashboard(session, viewer, dashboard_id)


def list_dashboards(session: Session, viewer: Viewer, *, q: str | None = None,
                    organisation: str | None = None, limit: int = 20, offset: int = 0
                    ) -> tuple[int, list[Dashboard]]:
    """The dashboards ``viewer`` may open, newest first."""
    query = select(Dashboard).where(visible_dashboards(viewer))
    if organisation:
        query = query.join(Organisation, Organisation.id == Dashboard.organisation_id).where(
            or_(Organisation.slug == organisation, Organisation.id == organisation))
    return newest_page(session, query, Dashboard, q, limit, offset)


def update_dashboard(session: Session, settings: Settings, viewer: Viewer, dashboard_id: str,
                     changes: Any) -> Dashboard:
    """Change a dashboard's title, description, access, organisation or blocks."""
    dashboard = get_dashboard(session, viewer, dashboard_id)
    require(viewer, "edit", dashboard, what=f"dashboard {dashboard_id!r}")
    c = parse(DashboardChanges, changes)
    given = c.model_fields_set
    if "title" in given and c.title is not None:
        dashboard.title = clean_text(c.title, "title", MAX_TITLE, required=True)
    if "description" in given and c.description is not None:
        dashboard.description = clean_text(c.description, "description", MAX_DESCRIPTION,
                                           multiline=True)
    if "access" in given and c.access is not None:
        dashboard.access = c.access
    if "organisation" in given and c.organisation:
        dashboard.organisation_id = owner(session, viewer, c.organisation).id
    if "blocks" in given and c.blocks is not None:
        dashboard.blocks = check_blocks(session, settings, viewer, c.blocks,
                                        before=list(dashboard.blocks or []))
    session.flush()
    return dashboard


def delete_dashboard(session: Session, viewer: Viewer, dashboard_id: str) -> None:
    """Delete a dashboard: its page and its embeds then answer 404."""
    dashboard = get_dashboard(session, viewer, dashboard_id)
    require(viewer, "delete", dashboard, what=f"dashboard {dashboard_id!r}")
    session.delete(dashboard)
    session.flush()


def dashboard_json(dashboard: Dashboard, *, base_url: str = "") -> dict[str, Any]:
    """The JSON form of a dashboard, with its page and embed addresses."""
    link = f"{base_url}/dashboards/{dashboard.id}"
    return {
        "id": dashboard.id, "title": dashboard.title, "description": dashboard.description,
        "access": dashboard.access, "organisation": dashboard.organisation.slug,
        "blocks": list(dashboard.blocks or []), "created_by": dashboard.created_by,
        "created_at": dashboard.created_at.isoformat() if dashboard.created_at else None,
        "updated_at": dashboard.updated_at.isoformat() if dashboard.updated_at else None,
        "permalink": link, "embed_url": f"{link}/embed",
    }


def source_of(session: Session, viewer: Viewer, key: str) -> tuple[Dataset, Version]:
    """The dataset ``key`` and its latest published version, as ``viewer`` may read them
    (``NotFound`` otherwise): what a table or a map block draws from."""
    dataset = readable_dataset(session, viewer, key)
    version = repo.latest_version(dataset)
    if version is None:
        raise NotFound(f"dataset {key!r} has no published version")
    return dataset, version
