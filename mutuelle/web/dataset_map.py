"""The map of a dataset page (and of its map embed): where its geometries are drawn from, what
the popups show, and the colours by a field with their legend.

Points of a dataset small enough (``CLUSTER_MAX_POINTS``) come as GeoJSON from the Explore
export and are clustered by MapLibre; bigger datasets, lines and polygons come as the portal's
vector tiles (``/tiles/datasets/...``), where points sharing a tile unit are one feature with
a ``count``. Both serve the latest published version only, so the map shows that version.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import pyarrow.parquet as pq
from sqlglot import exp

from mutuelle.catalog.models import Dataset, Version
from mutuelle.core.cache import cached
from mutuelle.core.config import Settings
from mutuelle.query.odsql import QueryRequest, build_facet
from mutuelle.query.records import EXPLORE, layout, source
from mutuelle.query.run import budgeted
from mutuelle.store.versions import resolve
from mutuelle.web import i18n
from mutuelle.web.dataset_table import TableProblem, odsql_field
from mutuelle.web.observatory_layers import geometry_kinds

#: Properties carried by each feature for its popup (the colour's field comes on top).
MAP_PROPERTIES = 6
#: Points of the tiles clustered by the server in cells of this many tile units (4096 per side:
#: about 4 pixels of a 512-pixel tile), each with its ``count``.
TILE_CLUSTER = 32
#: Largest dataset of points clustered in the browser (GeoJSON); bigger ones come as tiles.
CLUSTER_MAX_POINTS = 20_000
#: Colours of the values of a text field (the most frequent first), then of the others.
CATEGORY_COLOURS = ("#1f77b4", "#d95f02", "#1b9e77", "#7570b3", "#e7298a", "#66a61e",
                    "#a6761d", "#e6ab02")
OTHER_COLOUR = "#8a8f98"
#: Classes of a numeric field (quantiles), light to dark.
CLASS_COLOURS = ("#fde0c5", "#facba6", "#f59e72", "#e0603f", "#a52c1e")
#: Colour of the features when no field colours them, and of clusters.
DEFAULT_COLOUR = "#1f5f8b"
COLOURABLE = frozenset({"text", "boolean", "integer", "decimal"})
#: Names the tiles keep for themselves (a feature's ``count``).
_RESERVED = frozenset({"count"})

Gettext = Callable[..., str]


def geometry_column(version: Version) -> str | None:
    """The column drawn: ``geometry`` if the version has it, else its first geometry."""
    names = [f.name for f in version.fields if f.type == "geometry"]
    return "geometry" if "geometry" in names else (names[0] if names else None)


@cached("web.dataset_bounds", max_items=256)
def _bounds(path: str, checksum: str, column: str) -> tuple[float, float, float, float] | None:
    """West, south, east, north of a geometry column, from the file's GeoParquet metadata."""
    metadata = pq.read_metadata(path).metadata or {}
    try:
        geo = json.loads(metadata.get(b"geo", b"{}"))
        bbox = geo["columns"][column]["bbox"]
        west, south, east, north = (float(v) for v in bbox[:4])
    except (ValueError, KeyError, TypeError):
        return None
    return west, south, east, north


@dataclass
class MapView:
    """What the map draws (``config``, sent to dataset-map.js) and its legend."""

    config: dict[str, Any]
    legend: list[tuple[str, str]] = field(default_factory=list)
    colour_field: str | None = None
    colourable: list[Any] = field(default_factory=list)


def _value_text(value: Any) -> str:
    """A value as the map's expressions compare it (``to-string``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _categories(settings: Settings, version: Version, column: str, kind: str, _: Gettext
                ) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    read = layout(settings, version)
    schema = {n: k for n, k in read.schema.items() if n in version.schema}
    query = build_facet(column, QueryRequest(), schema, source(settings, version, read=read),
                        sort="-count", limit=len(CATEGORY_COLOURS) + 1)
    with budgeted(settings) as con:
        rows = con.execute(query.sql(dialect="duckdb")).fetchall()
    shown = rows[:len(CATEGORY_COLOURS)]
    values = [_value_text(value) for value, _count in shown]
    colours = list(CATEGORY_COLOURS[:len(values)])
    if kind == "boolean":
        labels = [_("oui") if v == "true" else _("non") for v in values]
    else:
        labels = values
    legend = list(zip(colours, labels, strict=True))
    if len(rows) > len(shown):
        legend.append((OTHER_COLOUR, _("autres valeurs")))
    legend.append((OTHER_COLOUR, _("sans valeur")))
    return {"kind": "categories", "field": column, "values": values, "colours": colours,
            "other": OTHER_COLOUR}, legend


def _rounded(value: float, kind: str) -> float:
    if kind == "integer":
        return float(round(value))
    magnitude = abs(value)
    return round(value, 0 if magnitude >= 1000 else 1 if magnitude >= 10 else 2)


def _classes(settings: Settings, version: Version, column: str, kind: str, _: Gettext,
             lang: str) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    col = exp.column(exp.to_identifier(column, quoted=True))
    steps = [(i + 1) / len(CLASS_COLOURS) for i in range(len(CLASS_COLOURS) - 1)]
    query = exp.select(
        exp.func("quantile_cont", col, exp.Array(expressions=[exp.Literal.number(s) for s in steps])),
        exp.func("min", col.copy()), exp.func("max", col.copy()),
    ).from_(source(settings, version))
    with budgeted(settings) as con:
        row = con.execute(query.sql(dialect="duckdb")).fetchone()
    found, low, high = (row or (None, None, None))
    breaks = sorted({_rounded(float(v), kind) for v in (found or []) if v is not None})
    breaks = [b for b in breaks if low is not None and high is not None and low < b <= high]
    colours = list(CLASS_COLOURS[-(len(breaks) + 1):])
    number = (lambda v: i18n.format_number(v, lang))  # noqa: E731
    legend: list[tuple[str, str]] = []
    for i, colour in enumerate(colours):
        if not breaks:
            legend.append((colour, _("toutes les valeurs")))
        elif i == 0:
            legend.append((colour, _("moins de %(high)s", high=number(breaks[0]))))
        elif i == len(breaks):
            legend.append((colour, _("%(low)s et plus", low=number(breaks[-1]))))
        else:
            legend.append((colour, _("de %(low)s à moins de %(high)s", low=number(breaks[i - 1]),
                                     high=number(breaks[i]))))
    legend.append((OTHER_COLOUR, _("sans valeur")))
    return {"kind": "classes", "field": column, "breaks": breaks, "colours": colours,
            "other": OTHER_COLOUR}, legend


def map_view(settings: Settings, dataset: Dataset, version: Version, colour: str | None,
             _: Gettext, lang: str) -> MapView | None:
    """The map of ``version`` (the latest published one), coloured by the field ``colour``;
    None when the version has no geometry. An unknown or uncolourable field is a
    ``TableProblem``."""
    geometry = geometry_column(version)
    if geometry is None:
        return None
    fields = {f.name: f for f in version.fields}
    colourable = [f for f in version.fields if f.type in COLOURABLE and f.name not in _RESERVED]
    if colour is not None:
        if colour not in fields:
            names = ", ".join(fields)[:500]
            raise TableProblem(_("Colonne inconnue : « %(name)s ». Les colonnes sont : %(names)s.",
                                 name=colour[:100], names=names))
        if colour not in {f.name for f in colourable}:
            raise TableProblem(_("La carte ne peut pas être colorée selon « %(name)s » : "
                                 "choisissez une colonne de texte, de nombres ou oui/non.",
                                 name=fields[colour].label or colour))
    shown = [f.name for f in version.fields
             if f.type != "geometry" and f.name not in _RESERVED][:MAP_PROPERTIES]
    if colour and colour not in shown:
        shown.append(colour)
    kinds = geometry_kinds(version.detected) or ["points", "lines", "polygons"]
    path = str(resolve(settings, version.parquet_path))
    slug = quote(dataset.slug, safe="")
    config: dict[str, Any] = {
        "layer": dataset.slug, "kinds": kinds, "bounds": _bounds(path, version.checksum, geometry),
        "color": DEFAULT_COLOUR, "basemap_url": settings.basemap_url or None,
        "popup": [{"name": n, "label": fields[n].label or n, "unit": fields[n].unit,
                   "type": fields[n].type} for n in shown],
        "title": dataset.title,
    }
    if kinds == ["points"] and version.row_count <= CLUSTER_MAX_POINTS:
        select = ", ".join(odsql_field(n) for n in [geometry, *shown])
        config["geojson"] = (f"{EXPLORE}/catalog/datasets/{slug}/exports/geojson?"
                             + urlencode({"select": select}))
    else:
        query = urlencode({"properties": ",".join(shown), "geometry": geometry,
                           "cluster": TILE_CLUSTER})
        config["tiles"] = f"/tiles/datasets/{slug}/{{z}}/{{x}}/{{y}}.mvt?{query}"
    view = MapView(config, colour_field=colour, colourable=colourable)
    if colour:
        kind = fields[colour].type
        spec, legend = (_categories(settings, version, colour, kind, _) if kind in ("text", "boolean")
                        else _classes(settings, version, colour, kind, _, lang))
        config["colour"] = spec
        view.legend = legend
    return view


def map_messages(_: Gettext, lang: str) -> Mapping[str, str]:
    """The texts dataset-map.js shows, in the page's language."""
    return {"lang": lang, "cluster": _("%(n)s éléments ici : zoomez pour les séparer."),
            "no_webgl": _("Votre navigateur ne peut pas afficher la carte (WebGL indisponible)."),
            "loading": _("Chargement de la carte…"), "yes": _("oui"), "no": _("non")}
