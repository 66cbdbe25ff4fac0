"""The dataset page and its tabs — Information, Table, Chart, Map, API, Export — with the forms
it carries (metadata edited in place, problem reports, publication, access), and the embeds of
its table and map. Each tab is a server-rendered panel reached by ``?tab=``; JavaScript only
switches panels in place, updates the table with htmx and loads the map library when the map
is first shown.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import TemplateNotFound, pass_context
from sqlalchemy import select
from sqlalchemy.orm import Session

from mutuelle.access import csrf, throttle
from mutuelle.access.accounts import get_group, get_user, grants_on, list_groups
from mutuelle.access.policy import (
    Viewer,
    allowed,
    dataset_for,
    publicly_readable,
    readable_dataset,
    readable_version,
    require,
)
from mutuelle.catalog import repository as repo
from mutuelle.catalog.members_models import PartnerGroup, User
from mutuelle.catalog.models import FREQUENCIES, Dataset, Version
from mutuelle.catalog.observatory_models import Territory
from mutuelle.core.cache import Cache
from mutuelle.core.config import Settings
from mutuelle.core.errors import InvalidInput, MutuelleError, NotFound
from mutuelle.discussions import threads
from mutuelle.geo.referential import geometry_path
from mutuelle.geo.static_map import StaticMap, static_map
from mutuelle.ingest.service import publish_version
from mutuelle.members import workflow
from mutuelle.members.looks import look_of
from mutuelle.query.records import EXPLORE
from mutuelle.requests import (
    CsrfRefused,
    SessionDep,
    SettingsDep,
    ViewerDep,
    base_url,
    client_address,
    get_settings,
    safe_next,
)
from mutuelle.web import i18n
from mutuelle.web.dataset_map import MapView, map_messages, map_view
from mutuelle.web.dataset_table import (
    PAGE_SIZES,
    Odsql,
    TablePage,
    TableProblem,
    TableView,
    odsql_field,
    odsql_of,
    offered_values,
    read_page,
    read_view,
)
from mutuelle.core.embeds import embed_snippet
from mutuelle.web.pages import (
    FormProblem,
    gettext_for,
    is_synthetic,
    language,
    render,
    see_other,
    templates,
)

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)

#: The tabs, in the order shown.
TABS = ("information", "table", "chart", "map", "api", "export")
EMBED_VIEWS = ("table", "map")
#: Territories of the coverage named on the page (the others are counted).
COVERAGE_NAMED = 50
#: Most territories of a coverage drawn on its small map (a bigger coverage has no map: its
#: drawing would outweigh the page), and the map's width in SVG units (it sits beside the names).
COVERAGE_MAPPED = 200
COVERAGE_MAP_WIDTH = 240
#: Title of the discussion threads that report a problem on the data: the producer sees
#: them counted at the top of the page.
REPORT_PREFIX = "Signalement : "
#: Kinds of problem a visitor reports.
REPORT_KINDS = ("error", "missing", "outdated", "format", "other")
#: Export formats offered, and those that need a geometry.
EXPORTS = ("csv", "xlsx", "json", "geojson", "parquet", "shp", "kml", "gpx", "fgb")
GEO_EXPORTS = frozenset({"geojson", "shp", "kml", "gpx", "fgb"})
#: Whole-number columns shown without thousands separators: years and codes.
UNGROUPED = re.compile(r"(^|_)(annee|année|an|exercice|year|millesime|millésime|code|id|siren|"
                       r"siret|insee|uai|numero|numéro|num|cp)($|_)", re.IGNORECASE)

Gettext = Callable[..., str]


# --- cells ----------------------------------------------------------------------------------

def geometry_label(value: Mapping[str, Any] | None, _: Gettext, lang: str) -> str:
    """A geometry cell: ``Point (4,8357 ; 45,764)``, ``Polygone``..., never its GeoJSON."""
    if not value:
        return ""
    names = {
        "POINT": _("Point"), "LINESTRING": _("Ligne"), "POLYGON": _("Polygone"),
        "MULTIPOINT": _("Multipoint"), "MULTILINESTRING": _("Multiligne"),
        "MULTIPOLYGON": _("Multipolygone"), "GEOMETRYCOLLECTION": _("Collection de géométries"),
    }
    kind = str(value.get("kind") or "")
    name = names.get(kind) or _("Géométrie")
    if kind == "POINT" and value.get("lon") is not None and value.get("lat") is not None:
        lon, lat = (i18n.format_number(round(float(value[k]), 5), lang) for k in ("lon", "lat"))
        return _("%(name)s (%(lon)s ; %(lat)s)", name=name, lon=lon, lat=lat)
    return name


def _page_gettext(lang: str) -> Gettext:
    return lambda msgid, /, **values: i18n.gettext(lang, msgid, **values)


templates.filters["geometry_cell"] = pass_context(lambda ctx, value: geometry_label(
    value, _page_gettext(str(ctx.get("lang") or "fr")), str(ctx.get("lang") or "fr")))
# A datetime read from a file is shown as written, without time-zone conversion.
templates.filters["cell_datetime"] = pass_context(lambda ctx, value: (
    f"{i18n.format_date(value.date(), ctx['lang'])} {value.strftime('%H:%M:%S')}"))


def _ungrouped(version: Version) -> set[str]:
    """Whole-number columns written without thousands separators (years, codes)."""
    return {f.name for f in version.fields
            if f.type == "integer" and (f.concept or UNGROUPED.search(f.name))}


# --- which version, who sees what -----------------------------------------------------------

def _visible_versions(dataset: Dataset, viewer: Viewer) -> list[Version]:
    return [v for v in reversed(dataset.versions) if allowed(viewer, "read", v)]


def _shown_version(dataset: Dataset, viewer: Viewer) -> Version | None:
    """The newest published version; an editor sees the newest draft while none is published."""
    version = repo.latest_version(dataset)
    if version is None and allowed(viewer, "edit", dataset):
        version = repo.latest_version(dataset, published_only=False)
    return version


def _grants(session: Session, dataset: Dataset) -> dict[str, list[str]]:
    """Whom a restricted dataset is granted to: group slugs and account emails."""
    out: dict[str, list[str]] = {"groups": [], "users": []}
    for kind, grantee in grants_on(session, "dataset", dataset.id):
        if kind == "group" and (group := session.get(PartnerGroup, grantee)) is not None:
            out["groups"].append(group.slug)
        elif kind == "user" and (user := session.get(User, grantee)) is not None:
            out["users"].append(user.email)
    return out


def _split(text: str) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


# --- Information ----------------------------------------------------------------------------

def coverage_names(session: Session, codes: list[str]) -> list[tuple[str, str | None]]:
    """(code, name) of the first ``COVERAGE_NAMED`` codes of a coverage, named from the
    referential (its newest vintage); a code it does not know keeps no name."""
    shown = [str(c) for c in codes[:COVERAGE_NAMED]]
    names: dict[str, tuple[int, str]] = {}
    if shown:
        for code, name, vintage in session.execute(
                select(Territory.code, Territory.name, Territory.vintage)
                .where(Territory.code.in_(shown))):
            if code not in names or vintage > names[code][0]:
                names[code] = (vintage, name)
    return [(code, names[code][1] if code in names else None) for code in shown]


@dataclass(frozen=True)
class CoverageMap:
    """The small static map of a coverage: the territories of one level around those covered
    (``covered``: their codes, drawn in colour), with the names of those covered."""

    drawing: StaticMap
    level: str
    vintage: int
    covered: frozenset[str]
    names: list[str]


#: Coverage maps already drawn, by contour file (path and stamp), level and codes.
_COVERAGE_MAPS: Cache[tuple[Any, ...], StaticMap] = Cache("web.coverage_maps", max_items=128)


def coverage_map(session: Session, settings: Settings, codes: list[str]) -> CoverageMap | None:
    """The coverage drawn with ``geo.static_map``: its codes at the level most of them are at
    (in the newest vintage knowing them), with their neighbours of that level around; None when
    the referential does not know them, has no contours for them, or they are too many."""
    wanted = sorted({str(c) for c in codes})
    if not wanted or len(wanted) > COVERAGE_MAPPED:
        return None
    newest: dict[str, tuple[int, str, str]] = {}
    for code, level, vintage, name in session.execute(
            select(Territory.code, Territory.level, Territory.vintage, Territory.name)
            .where(Territory.code.in_(wanted))):
        if code not in newest or vintage > newest[code][0]:
            newest[code] = (vintage, level, name)
    groups: dict[tuple[int, str], list[str]] = {}
    for code, (vintage, level, _name) in newest.items():
        groups.setdefault((vintage, level), []).append(code)
    if not groups:
        return None
    (vintage, level), covered = max(groups.items(), key=lambda g: (len(g[1]), g[0][0]))
    path = geometry_path(settings, vintage, level)
    try:
        stamp = path.stat()
    except FileNotFoundError:
        return None
    key = (str(path), stamp.st_mtime_ns, stamp.st_size, level, tuple(sorted(covered)))
    drawing = _COVERAGE_MAPS.get(key)
    if drawing is None:
        try:
            drawing = static_map(settings, vintage, level, covered, width=COVERAGE_MAP_WIDTH,
                                 max_shapes=2 * COVERAGE_MAPPED)
        except NotFound:
            return None
        _COVERAGE_MAPS.put(key, drawing)
    if not any(shape.code in covered for shape in drawing.shapes):
        return None
    chosen = set(covered)
    names = [newest[c][2] for c in dict.fromkeys(str(c) for c in codes) if c in chosen]
    return CoverageMap(drawing, level, vintage, frozenset(covered), names)


@dataclass(frozen=True)
class VersionDiff:
    """What changed from one version to another: columns and rows."""

    older: Version
    newer: Version
    added: list[Any]
    removed: list[Any]
    retyped: list[tuple[Any, Any]]

    @property
    def row_change(self) -> int:
        """Rows gained (negative: lost)."""
        return self.newer.row_count - self.older.row_count


def version_diff(older: Version, newer: Version) -> VersionDiff:
    """The schema and row-count difference between two versions of a dataset."""
    before = {f.name: f for f in older.fields}
    after = {f.name: f for f in newer.fields}
    return VersionDiff(
        older, newer,
        added=[f for n, f in after.items() if n not in before],
        removed=[f for n, f in before.items() if n not in after],
        retyped=[(before[n], f) for n, f in after.items() if n in before and before[n].type != f.type])


def _diff(request: Request, versions: list[Version], shown: Version | None, _: Gettext
          ) -> tuple[VersionDiff | None, str]:
    """The comparison asked by ``diff_from``/``diff_to`` (default: the shown version against
    the one before it), and the problem with what was asked ("")."""
    by_number = {str(v.number): v for v in versions}
    asked = (request.query_params.get("diff_from"), request.query_params.get("diff_to"))
    if asked == (None, None):
        ordered = sorted(versions, key=lambda v: v.number)
        newer = shown if shown in ordered else (ordered[-1] if ordered else None)
        before = [v for v in ordered if newer is not None and v.number < newer.number]
        return (version_diff(before[-1], newer), "") if before and newer else (None, "")
    for number in asked:
        if number not in by_number:
            return None, _("Version inconnue : « %(n)s ». Choisissez deux versions de la liste.",
                           n=(number or "")[:20])
    first, second = sorted((by_number[str(asked[0])], by_number[str(asked[1])]),
                           key=lambda v: v.number)
    return version_diff(first, second), ""


# --- API and exports ------------------------------------------------------------------------

def _shell(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def api_calls(base: str, dataset: Dataset, version: Version, latest: bool, odsql: Odsql,
              view: TableView, *, with_key: bool, wall: int, key: str = "YOUR_API_KEY"
              ) -> dict[str, str]:
    """Ready-to-copy calls of the records the table shows: curl, Python (requests), JavaScript
    (fetch); the Explore API for the latest version, the versioned native route otherwise.
    Past ``wall`` rows (offset + limit), the API pages through its ``next`` links instead."""
    slug = quote(dataset.slug, safe="")
    url = (f"{base}{EXPLORE}/catalog/datasets/{slug}/records" if latest
           else f"{base}/api/datasets/{slug}/versions/{version.number}/records")
    offset = (view.page - 1) * view.size
    items = [*odsql.items(), ("limit", str(view.size))]
    if offset and offset + view.size <= wall:
        items.append(("offset", str(offset)))
    curl = [f"curl -G {_shell(url)}"]
    if with_key:
        curl.append(f"-H 'Authorization: Apikey {key}'")
    curl += [f"--data-urlencode {_shell(f'{k}={v}')}" for k, v in items]
    params = ",\n".join(f"        {json.dumps(k)}: {json.dumps(int(v) if k in ('limit', 'offset') else v, ensure_ascii=False)}"
                        for k, v in items)
    headers = f'    headers={{"Authorization": "Apikey {key}"}},\n' if with_key else ""
    python = ("import requests\n\n"
              f"response = requests.get(\n    {json.dumps(url)},\n    params={{\n{params},\n    }},\n"
              f"{headers}    timeout=30,\n)\nresponse.raise_for_status()\n"
              "answer = response.json()\nprint(answer[\"total_count\"])\n"
              "for record in answer[\"results\"]:\n    print(record)\n")
    js_params = ",\n".join(f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in items)
    fetch_options = f', {{\n  headers: {{ Authorization: "Apikey {key}" }},\n}}' if with_key else ""
    javascript = (f"const url = new URL({json.dumps(url)});\n"
                  f"url.search = new URLSearchParams({{\n{js_params},\n}});\n"
                  f"const response = await fetch(url{fetch_options});\n"
                  "const { total_count, results } = await response.json();\n"
                  "console.log(total_count, results);\n")
    return {"url": f"{url}?{urlencode(items)}", "curl": " \\\n  ".join(curl), "python": python,
            "javascript": javascript, "deep": "1" if offset + view.size > wall else "",
            "with_key": "1" if with_key else ""}


def export_links(dataset: Dataset, version: Version, odsql: Odsql, view: TableView
                 ) -> list[dict[str, Any]]:
    """Each export format: the whole dataset's link and the link of what the table shows (its
    filters, order and columns; a geographic format keeps the geometry column); with the
    export's address (``base``) and the parameters of what is shown (``items``), for the CSV
    forms whose options (``decimal=comma``) the visitor chooses."""
    slug = quote(dataset.slug, safe="")
    geometries = [f.name for f in version.fields if f.type == "geometry"]
    out = []
    for fmt in EXPORTS:
        if fmt in GEO_EXPORTS and not geometries:
            continue
        base = f"{EXPLORE}/catalog/datasets/{slug}/exports/{fmt}"
        items = odsql.items()
        if fmt in GEO_EXPORTS and view.chosen_columns and not set(geometries) & set(view.columns):
            columns = [geometries[0], *view.columns]
            items = [("select", ", ".join(odsql_field(c) for c in columns)),
                     *odsql.items(with_select=False)]
        out.append({"format": fmt, "all": base, "base": base, "items": items,
                    "seen": f"{base}?{urlencode(items)}" if items else base})
        if fmt == "csv":
            out.append({"format": "csv_comma", "all": f"{base}?delimiter=%2C",
                        "seen": f"{base}?{urlencode([*items, ('delimiter', ',')])}"})
    return out


# --- the page -------------------------------------------------------------------------------

@dataclass
class TablePart:
    """The table panel: the view asked, its rows, and what went wrong."""

    view: TableView
    odsql: Odsql
    page: TablePage | None = None
    problem: str = ""
    problem_lang: str = ""
    status: int = 200
    values: dict[str, list[tuple[Any, int]]] = field(default_factory=dict)


def _table_part(request: Request, settings: Settings, version: Version, _: Gettext
                ) -> TablePart:
    labels = {f.name: f.label for f in version.fields if f.label}
    default = TableView(columns=tuple(version.schema), all_columns=tuple(version.schema),
                        size=settings.preview_rows, default_size=settings.preview_rows)
    try:
        view = read_view(list(request.query_params.multi_items()), version.schema, _,
                         labels=labels, default_size=settings.preview_rows)
        odsql = odsql_of(view, version.schema, _)
    except TableProblem as exc:
        return TablePart(default, odsql_of(default, version.schema, _), problem=exc.message,
                         problem_lang=language(request), status=exc.status_code)
    part = TablePart(view, odsql)
    try:
        part.page = read_page(settings, version, view, odsql, _)
        part.values = {f.name: found for f in version.fields if f.type in ("text", "boolean")
                       and (found := offered_values(settings, version, f.name)) is not None}
    except TableProblem as exc:
        part.problem, part.problem_lang, part.status = exc.message, language(request), exc.status_code
    except MutuelleError as exc:  # the query layer's own refusals (budget, values): in English
        part.problem, part.problem_lang, part.status = exc.message, "en", exc.status_code
    return part


def _map_part(request: Request, settings: Settings, dataset: Dataset, version: Version,
              _: Gettext) -> tuple[MapView | None, str, int]:
    colour = request.query_params.get("_color") or None
    try:
        return map_view(settings, dataset, version, colour, _, language(request)), "", 200
    except TableProblem as exc:
        try:
            plain = map_view(settings, dataset, version, None, _, language(request))
        except MutuelleError:
            plain = None
        return plain, exc.message, exc.status_code
    except MutuelleError as exc:
        return None, exc.message, exc.status_code


def _chart_builder_available() -> bool:
    try:
        templates.get_template("charts/_builder.html")
    except TemplateNotFound:
        return False
    return True


def _partial_target(request: Request) -> str | None:
    """The part of the page an htmx request asks for (None: the whole page)."""
    if not request.headers.get("hx-request") or request.headers.get("hx-history-restore-request"):
        return None
    return request.headers.get("hx-target")


def _dataset_page(request: Request, session: Session, settings: Settings, viewer: Viewer,
                  dataset: Dataset, version: Version | None, *, error: str = "",
                  error_lang: str = "", status: int = 200, tab: str | None = None,
                  metadata: dict[str, Any] | None = None, report: dict[str, Any] | None = None
                  ) -> HTMLResponse:
    _ = gettext_for(request)
    latest = repo.latest_version(dataset)
    is_latest = version is not None and latest is not None and version.id == latest.id
    base = base_url(request, settings)
    context: dict[str, Any] = {
        "dataset": dataset, "version": version, "latest": latest, "is_latest": is_latest,
        "synthetic": is_synthetic(dataset), "portal": look_of(dataset.organisation),
        "error": error, "error_lang": error_lang, "base": base,
        "can_edit": allowed(viewer, "edit", dataset),
    }
    table: TablePart | None = None
    if version is not None:
        table = _table_part(request, settings, version, _)
        context.update(_table_context(request, dataset, version, table, base, is_latest))
        if _partial_target(request) == "dataset-table":
            return render(request, "dataset/table_update.html", context, status=table.status)
    map_part, map_problem, map_status = (None, "", 200)
    if version is not None and is_latest:
        map_part, map_problem, map_status = _map_part(request, settings, dataset, version, _)
    versions = _visible_versions(dataset, viewer)
    diff, diff_problem = _diff(request, versions, version, _)
    discussion = threads.section(session, viewer, "dataset", dataset.id)
    reports = [t for t, _c in discussion["threads"] if t.title.startswith(REPORT_PREFIX)]
    # the address a visitor left with a report: for the dataset's editors only
    contacts = {t.id: t.contact for t in reports if t.visitor and t.contact} \
        if allowed(viewer, "edit", dataset) else {}
    can_manage = allowed(viewer, "manage", dataset)
    problems = [(table.status if table else 200, "table"), (map_status, "map"),
                (400 if diff_problem else 200, "information")]
    worst = max(problems, key=lambda p: p[0])
    if worst[0] >= 400 and status < 400:
        status = worst[0]
    chosen = tab if tab in TABS else request.query_params.get("tab")
    if worst[0] >= 400 and tab is None:
        chosen = worst[1]
    has_chart = _chart_builder_available() and version is not None
    if chosen not in TABS or (chosen == "chart" and not has_chart) or \
            (chosen in ("table", "map", "api", "export", "chart") and version is None):
        chosen = "table" if version is not None else "information"
    context.update({
        "tab": chosen, "tabs": [t for t in TABS if t != "chart" or has_chart],
        "versions": versions, "diff": diff, "diff_problem": diff_problem,
        "coverage": coverage_names(session, list(dataset.spatial_coverage)),
        "coverage_count": len(dataset.spatial_coverage),
        "coverage_map": coverage_map(session, settings, list(dataset.spatial_coverage)),
        "can_submit": allowed(viewer, "submit", dataset),
        "can_publish": allowed(viewer, "publish", dataset), "can_manage": can_manage,
        "groups": list_groups(session) if can_manage else [],
        "grants": _grants(session, dataset) if can_manage else {},
        "discussion": discussion, "reports": reports, "report_kinds": REPORT_KINDS,
        "report_contacts": contacts,
        "report": report or {}, "report_labels": _report_labels(_), "frequencies": FREQUENCIES,
        "metadata": metadata or {}, "map": map_part, "map_problem": map_problem,
        "map_messages": json.dumps(map_messages(_, language(request))).replace("<", "\\u003c"),
        "map_config": json.dumps(map_part.config if map_part else {}).replace("<", "\\u003c"),
        "map_embed": embed_snippet(f"{base}/datasets/{quote(dataset.slug, safe='')}/embed?"
                                   + urlencode([("view", "map"), *(
                                       [("_color", map_part.colour_field)]
                                       if map_part and map_part.colour_field else [])]),
                                   dataset.title),
        "fields": [{"name": f.name, "type": f.type, "label": f.label, "unit": f.unit}
                   for f in (version.fields if version else [])],
        "imported": _number(request.query_params.get("imported", "")),
        "published": request.query_params.get("published") == "1",
    })
    return render(request, "dataset.html", context, status=status)


def _number(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def _table_context(request: Request, dataset: Dataset, version: Version, table: TablePart,
                   base: str, is_latest: bool) -> dict[str, Any]:
    """What the table panel, the API calls and the exports of "what I see" show."""
    _ = gettext_for(request)
    view = table.view
    path = request.url.path
    embed_query = urlencode([("view", "table"), *view.params(page=1)])
    return {
        "table": table, "view": view, "rows": table.page.rows if table.page else [],
        "ungrouped": _ungrouped(version), "column_labels": {f.name: f.label or f.name for f in version.fields},
        "types": version.schema, "table_path": path, "page_sizes": PAGE_SIZES,
        "api": api_calls(base, dataset, version, is_latest, table.odsql, view,
                         with_key=not publicly_readable(version), key=_("VOTRE_CLE_API"),
                         wall=get_settings(request).query_max_rows),
        "exports": export_links(dataset, version, table.odsql, view) if is_latest else [],
        "table_embed": embed_snippet(
            f"{base}/datasets/{quote(dataset.slug, safe='')}/embed?{embed_query}", dataset.title),
    }


@router.get("/datasets/{slug}", response_class=HTMLResponse)
def dataset_page(slug: str, request: Request, session: SessionDep, settings: SettingsDep,
                 viewer: ViewerDep) -> Response:
    dataset = readable_dataset(session, viewer, slug)
    return _dataset_page(request, session, settings, viewer, dataset, _shown_version(dataset, viewer))


def _readable_version(session: Session, viewer: Viewer, slug: str, number: str
                      ) -> tuple[Dataset, Version]:
    dataset = readable_dataset(session, viewer, slug)
    version = readable_version(viewer, repo.get_version(dataset, number),
                               what=f"version {number} of dataset {slug!r}")
    return dataset, version


@router.get("/datasets/{slug}/versions/{number}", response_class=HTMLResponse)
def version_page(slug: str, number: str, request: Request, session: SessionDep,
                 settings: SettingsDep, viewer: ViewerDep) -> Response:
    dataset, version = _readable_version(session, viewer, slug, number)
    return _dataset_page(request, session, settings, viewer, dataset, version)


# --- embeds ---------------------------------------------------------------------------------

@router.get("/datasets/{slug}/embed", response_class=HTMLResponse)
def dataset_embed(slug: str, request: Request, session: SessionDep, settings: SettingsDep,
                  viewer: ViewerDep, view: str = "table") -> Response:
    """The table or the map of a dataset alone, for another site's ``<iframe>``."""
    _ = gettext_for(request)
    dataset = readable_dataset(session, viewer, slug)
    version = _shown_version(dataset, viewer)
    latest = repo.latest_version(dataset)
    base = base_url(request, settings)
    context: dict[str, Any] = {
        "dataset": dataset, "version": version, "embed_view": view, "problem": "",
        "portal": look_of(dataset.organisation), "base": base,
        "permalink": f"{base}/datasets/{quote(dataset.slug, safe='')}",
    }
    status = 200
    if view not in EMBED_VIEWS:
        context["problem"] = _("Vue inconnue : « %(view)s » (table ou map).", view=view[:20])
        status = 400
    elif version is None:
        context["problem"] = _("Ce jeu de données n’a pas encore de données.")
    elif view == "table":
        table = _table_part(request, settings, version, _)
        context.update(_table_context(request, dataset, version, table, base,
                                      latest is not None and version.id == latest.id))
        status = table.status
    elif latest is None or version.id != latest.id:
        context["problem"] = _("La carte montre la dernière version publiée ; ce jeu de données "
                               "n’en a pas encore.")
    else:
        found, problem, status = _map_part(request, settings, dataset, version, _)
        context.update({"map": found, "map_problem": problem,
                        "map_config": json.dumps(found.config if found else {}).replace("<", "\\u003c"),
                        "map_messages": json.dumps(map_messages(_, language(request))).replace("<", "\\u003c")})
        if found is None and not problem:
            context["problem"] = _("Ce jeu de données n’a pas de géométrie à cartographier.")
    response = render(request, "dataset/embed.html", context, status=status)
    response.headers["Content-Security-Policy"] = "frame-ancestors *"  # made to be framed
    return response


# --- metadata, edited in place ----------------------------------------------------------------

async def _form_names(request: Request) -> frozenset[str]:
    """The names of the fields a form sent (FastAPI reads an empty field as one not sent)."""
    return frozenset((await request.form()).keys())


@router.post("/datasets/{slug}/metadata", response_class=HTMLResponse)
def edit_metadata(
    slug: str, request: Request, session: SessionDep, settings: SettingsDep, viewer: ViewerDep,
    title: Annotated[str | None, Form()] = None, description: Annotated[str | None, Form()] = None,
    licence: Annotated[str | None, Form()] = None, themes: Annotated[str | None, Form()] = None,
    keywords: Annotated[str | None, Form()] = None,
    spatial_coverage: Annotated[str | None, Form()] = None,
    frequency: Annotated[str | None, Form()] = None,
    producer: Annotated[str | None, Form()] = None,
    names: Annotated[frozenset[str], Depends(_form_names)] = frozenset(),
) -> Response:
    """The metadata form of the Information tab: the same service as ``PATCH
    /api/datasets/{id}`` (``catalog.repository.update_dataset``), only the fields sent (a
    field sent empty clears it: a producer, themes...)."""
    dataset = dataset_for(session, viewer, "edit", slug)
    _ = gettext_for(request)
    sent = {"title": title, "description": description, "licence": licence, "themes": themes,
            "keywords": keywords, "spatial_coverage": spatial_coverage, "frequency": frequency,
            "producer": producer}
    sent = {k: "" if v is None and k in names else v for k, v in sent.items()}
    lists = ("themes", "keywords", "spatial_coverage")
    changes = {k: (_split(v) if k in lists else v.strip() if k != "description" else v)
               for k, v in sent.items() if v is not None}
    try:
        if "title" in changes and not changes["title"]:
            raise FormProblem(_("Donnez un titre au jeu de données."))
        if "licence" in changes and not changes["licence"]:
            raise FormProblem(_("Indiquez la licence du jeu de données."))
        repo.update_dataset(session, dataset, **changes)
        session.commit()
    except MutuelleError as exc:
        session.rollback()
        shown = {k: v for k, v in sent.items() if v is not None}
        return _dataset_page(request, session, settings, viewer, dataset,
                             _shown_version(dataset, viewer), tab="information",
                             status=400 if exc.status_code < 400 else exc.status_code,
                             metadata={"values": shown, "error": exc.message,
                                       "lang": language(request) if isinstance(exc, FormProblem) else "en"})
    return see_other(f"/datasets/{dataset.slug}?tab=information&saved=1#information")


# --- problem reports --------------------------------------------------------------------------

@router.post("/datasets/{slug}/signalement", response_class=HTMLResponse)
def report_problem(
    slug: str, request: Request, session: SessionDep, settings: SettingsDep, viewer: ViewerDep,
    kind: Annotated[str, Form(max_length=20)] = "",
    subject: Annotated[str, Form(max_length=200)] = "",
    message: Annotated[str, Form(max_length=10_000)] = "",
    contact: Annotated[str, Form(max_length=320)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    site_web: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """A visitor reports a problem on the data. A member's report is a public discussion
    thread; a visitor without an account (on data anyone may read) sends an internal one, seen
    by the producer only, with an address to be answered — protected by the form's CSRF token
    (required even without cookies), a honeypot field (``site_web``, hidden: a robot that fills
    it is thanked and nothing is kept) and a limit per address (429). The producer sees both
    kinds counted at the top of its page."""
    dataset = readable_dataset(session, viewer, slug)   # NotFound first: hides it
    require(viewer, "report", dataset, what=f"dataset {slug!r}")
    _ = gettext_for(request)
    anonymous = viewer.user_id is None and not viewer.operator
    address = client_address(request)
    if anonymous:
        key = csrf.secret_key(settings)
        if not csrf.token_ok(key, request.cookies.get(csrf.CSRF_COOKIE),
                             getattr(request.state, "session_hash", None), csrf_token):
            raise CsrfRefused("this form has expired or was not sent by this portal: reload "
                              "the page and try again")
        if site_web.strip():   # a robot: thanked, nothing kept, counted against its address
            log.info("report_refused reason=honeypot dataset=%s address=%s", dataset.slug, address)
            throttle.record_report(session, settings, address)
            session.commit()
            return see_other(f"/datasets/{dataset.slug}?reported=1#signaler")
    labels = _report_labels(_)
    sent = {"kind": kind, "subject": subject, "message": message, "contact": contact}
    try:
        if kind not in REPORT_KINDS:
            raise FormProblem(_("Choisissez la nature du problème."))
        if not subject.strip() or not message.strip():
            raise FormProblem(_("Décrivez le problème : un titre et un message."))
        title = f"{REPORT_PREFIX}{labels[kind]} — {subject.strip()}"[:threads.MAX_TITLE]
        if anonymous:
            if contact.strip() and not threads.is_contact(contact.strip()):
                raise FormProblem(_("L’adresse électronique « %(value)s » n’en est pas une : "
                                    "corrigez-la ou laissez le champ vide.", value=contact.strip()[:60]))
            threads.report_as_visitor(session, settings, viewer, dataset.id, title=title,
                                      body=message.strip(), contact=contact, address=address)
        else:
            threads.start_thread(session, viewer, "dataset", dataset.id, internal=False,
                                 title=title, body=message.strip())
        session.commit()
    except threads.ReportsThrottled:
        session.rollback()
        log.info("report_refused reason=throttled dataset=%s address=%s", dataset.slug, address)
        return _dataset_page(request, session, settings, viewer, dataset,
                             _shown_version(dataset, viewer), status=429, report={
                                 **sent, "lang": language(request), "error": _(
                                     "Trop de signalements envoyés depuis votre connexion : "
                                     "réessayez dans %(minutes)s minutes, ou connectez-vous.",
                                     minutes=settings.report_window_minutes)})
    except (FormProblem, InvalidInput) as exc:
        session.rollback()
        return _dataset_page(request, session, settings, viewer, dataset,
                             _shown_version(dataset, viewer), status=400, report={
                                 **sent, "error": exc.message,
                                 "lang": language(request) if isinstance(exc, FormProblem) else "en"})
    return see_other(f"/datasets/{dataset.slug}?reported=1#signaler")


def _report_labels(_: Gettext) -> dict[str, str]:
    return {"error": _("Valeur erronée"), "missing": _("Données manquantes"),
            "outdated": _("Données périmées"), "format": _("Problème de format"),
            "other": _("Autre problème")}



# --- publication and access (the forms of the page) -----------------------------------------

@router.post("/datasets/{slug}/publish", response_class=HTMLResponse)
def publish_dataset(slug: str, request: Request, session: SessionDep, settings: SettingsDep,
                    viewer: ViewerDep) -> Response:
    dataset = dataset_for(session, viewer, "read", slug)
    _ = gettext_for(request)
    try:
        workflow.publish(session, viewer, dataset, address=client_address(request))
        session.commit()
    except InvalidInput:
        session.rollback()
        message = _("Le jeu de données ne peut être publié qu’avec au moins une version publiée.")
        version = repo.latest_version(dataset, published_only=False)
        return _dataset_page(request, session, settings, viewer, dataset, version, error=message,
                             status=400)
    return see_other(safe_next(request.query_params.get("next")) or f"/datasets/{dataset.slug}?published=1")


@router.post("/datasets/{slug}/submit", response_class=HTMLResponse)
def submit_dataset(slug: str, request: Request, session: SessionDep, settings: SettingsDep,
                   viewer: ViewerDep) -> Response:
    dataset = dataset_for(session, viewer, "read", slug)
    _ = gettext_for(request)
    try:
        workflow.submit_dataset(session, viewer, dataset, address=client_address(request))
        session.commit()
    except InvalidInput:
        session.rollback()
        message = _("Importez d’abord un fichier : un jeu de données sans version ne peut pas "
                    "être soumis à la relecture.")
        return _dataset_page(request, session, settings, viewer, dataset, None, error=message,
                             status=400)
    return see_other(f"/datasets/{dataset.slug}?submitted=1")


@router.post("/datasets/{slug}/unpublish", response_class=HTMLResponse)
def unpublish_dataset(slug: str, request: Request, session: SessionDep, viewer: ViewerDep) -> Response:
    dataset = dataset_for(session, viewer, "read", slug)
    workflow.send_back(session, viewer, dataset, address=client_address(request))
    session.commit()
    return see_other(safe_next(request.query_params.get("next")) or f"/datasets/{dataset.slug}")


@router.post("/datasets/{slug}/access", response_class=HTMLResponse)
async def change_access(slug: str, request: Request, session: SessionDep, viewer: ViewerDep) -> Response:
    form = await request.form()
    dataset = dataset_for(session, viewer, "read", slug)
    groups = [get_group(session, str(g)) for g in form.getlist("groups")]
    users = [get_user(session, e.strip()) for e in str(form.get("users") or "").split(",") if e.strip()]
    workflow.set_access(session, viewer, dataset, str(form.get("access") or ""), groups=groups,
                        users=users, address=client_address(request))
    session.commit()
    return see_other(f"/datasets/{dataset.slug}?tab=information#acces")


@router.post("/datasets/{slug}/versions/{number}/publish", response_class=HTMLResponse)
def publish_draft_version(slug: str, number: str, request: Request, session: SessionDep,
                          viewer: ViewerDep) -> Response:
    dataset = dataset_for(session, viewer, "publish", slug)
    version = repo.get_version(dataset, number)
    if version.status != "published":
        publish_version(session, version)
        workflow.version_published(session, viewer, dataset, version, action="version.publish",
                                   address=client_address(request))
        session.commit()
    return see_other(f"/datasets/{dataset.slug}/versions/{version.number}")
