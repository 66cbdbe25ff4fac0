// The territories' layers of the observatory map (fill, secret hatching, outlines, the
// parents' outlines, hover and selection) over the portal's vector tiles, and the fill of a
// view: the server's classes applied to each feature's own `value` and `status`, or the
// crossing of two indicators matched code by code.
import { rows } from "/static/js/map-util.js";

const SECRET_FILL = "#8c8c8c";
const NO_DATA_FILL = "#ffffff";
// A larger territory withheld for too low a coverage; an IRIS left out (habitat only).
const PARTIAL_FILL = "#e6e1ee";
const EXCLUDED_FILL = "#e9e3cf";
const OUTSIDE_FILL = "rgba(0, 0, 0, 0)";
// Outlines are drawn from the zoom where they separate territories rather than blacken the
// map (an IRIS is a few pixels wide below zoom 8): below it, the browser neither builds nor
// draws them (their tiles are not even fetched for the parents' outlines), which halves the
// work of drawing France's 48,000 IRIS.
const OUTLINES_MINZOOM = { iris: 8, qpv: 8, commune: 6 };
const PARENT_LINES_MINZOOM = 7;

// The tiles of a level; those of the territories are asked for with `?indicator=` (each
// feature then carries its value and status), those of the parents' outlines without.
function tileURL(config, lv, vintage, indicator = null) {
  const path = config.tiles.replace("{level}", lv);
  const params = new URLSearchParams();
  if (vintage) params.set("vintage", vintage);
  if (indicator) params.set("indicator", indicator);
  const search = params.toString();
  return `${window.location.origin}${path}${search ? `?${search}` : ""}`;
}

function removeLayers(map) {
  for (const id of ["territory-selected", "territory-hover", "parent-line", "territory-line",
    "territory-secret", "territory-fill"]) {
    if (map.getLayer(id)) map.removeLayer(id);
  }
  for (const id of ["territories", "parents"]) if (map.getSource(id)) map.removeSource(id);
}

// The layers of a level (replacing those of the previous one), the selected territory outlined.
export function addLayers(map, config, { level, vintage, indicator, selected }) {
  removeLayers(map);
  map.addSource("territories", { type: "vector", tiles: [tileURL(config, level, vintage, indicator)], minzoom: 0, maxzoom: 14, promoteId: "code" });
  map.addLayer({ id: "territory-fill", type: "fill", source: "territories", "source-layer": level,
    paint: { "fill-color": OUTSIDE_FILL, "fill-opacity": config.basemap_url ? 0.75 : 0.92 } });
  map.addLayer({ id: "territory-secret", type: "fill", source: "territories", "source-layer": level,
    filter: ["==", ["get", "code"], ""], paint: { "fill-pattern": "hatch" } });
  map.addLayer({ id: "territory-line", type: "line", source: "territories", "source-layer": level,
    minzoom: OUTLINES_MINZOOM[level] ?? 0, paint: { "line-color": "#4f5a6b", "line-opacity": 0.55,
      "line-width": ["interpolate", ["linear"], ["zoom"], 8, 0.3, 13, 1] } });
  const parentLevel = level === "iris" || level === "qpv" ? config.parent_level : null;
  if (parentLevel) {
    map.addSource("parents", { type: "vector", tiles: [tileURL(config, parentLevel, vintage)], minzoom: 0, maxzoom: 14 });
    map.addLayer({ id: "parent-line", type: "line", source: "parents", "source-layer": parentLevel,
      minzoom: PARENT_LINES_MINZOOM, paint: { "line-color": "#1d2433", "line-width": ["interpolate", ["linear"], ["zoom"], 8, 1, 13, 2.2] } });
  }
  map.addLayer({ id: "territory-hover", type: "line", source: "territories", "source-layer": level,
    filter: ["==", ["get", "code"], ""], paint: { "line-color": "#1d2433", "line-width": 2 } });
  map.addLayer({ id: "territory-selected", type: "line", source: "territories", "source-layer": level,
    filter: ["==", ["get", "code"], selected || ""], paint: { "line-color": "#b35c00", "line-width": 3.5 } });
}

// The fill of a simple choropleth: the server's classes (class i holds breaks[i] <= value <
// breaks[i + 1], values beyond the ends go to the first or last class) as a `step` over the
// tiles' `value`, grey for secret cells and white for territories without data.
// (map-tooltip.js's classOf names the same class for a tooltip.)
function stepColor(v) {
  const expression = ["step", ["to-number", ["get", "value"], 0], v.colors[0]];
  let last = null;
  for (let i = 1; i < v.colors.length && i < v.breaks.length; i += 1) {
    const limit = v.breaks[i];
    if (last !== null && limit <= last) {
      // Equal limits (ties): the later class wins, as on the server.
      expression[expression.length - 1] = v.colors[i];
      continue;
    }
    expression.push(limit, v.colors[i]);
    last = limit;
  }
  return expression;
}

// The style of a view (`data` of #map-data): code -> what the tooltip needs beyond the
// feature's own properties (`byCode`), and the fill and secret hatching of the territories.
export function styleOf(data) {
  const byCode = new Map();
  let fillColor = OUTSIDE_FILL;
  let secretFilter = ["==", ["get", "code"], ""];
  if (data?.crossing) {
    // Two indicators: the tiles carry one value only, so codes are matched to their cell.
    const c = data.crossing;
    const groups = new Map();
    const secret = [];
    const noData = [];
    const add = (code, color) => {
      if (!groups.has(color)) groups.set(color, []);
      groups.get(color).push(code);
    };
    for (const item of rows(c, { bivariate: true })) {
      byCode.set(item.code, item);
      if (item.cell !== null) add(item.code, c.colors[item.cell]);
      else if (item.status_x === "secret" || item.status_y === "secret") secret.push(item.code);
      else noData.push(item.code);
    }
    const expression = ["match", ["get", "code"]];
    for (const [color, codes] of groups) expression.push(codes, color);
    if (secret.length) expression.push(secret, SECRET_FILL);
    if (noData.length) expression.push(noData, NO_DATA_FILL);
    expression.push(OUTSIDE_FILL);
    if (expression.length > 3) fillColor = expression;
    secretFilter = ["in", ["get", "code"], ["literal", secret]];
  } else if (data?.choropleth) {
    const v = data.choropleth;
    const status = ["get", "status"];
    fillColor = ["case",
      ["all", ["==", status, "ok"], ["has", "value"]], v.colors.length ? stepColor(v) : NO_DATA_FILL,
      ["==", status, "secret"], SECRET_FILL,
      ["==", status, "partial"], PARTIAL_FILL,
      ["==", status, "excluded"], EXCLUDED_FILL,
      NO_DATA_FILL];
    secretFilter = ["==", status, "secret"];
    if (v.within && v.inside) {
      // Limited to some territories: the others are left uncoloured.
      const inside = ["in", ["get", "code"], ["literal", v.inside]];
      fillColor = ["case", inside, fillColor, OUTSIDE_FILL];
      secretFilter = ["all", inside, secretFilter];
    }
  }
  return { byCode, fillColor, secretFilter, bivariate: Boolean(data?.crossing) };
}

export function applyStyle(map, rootEl, { fillColor, secretFilter, bivariate }) {
  map.setPaintProperty("territory-fill", "fill-color", fillColor);
  map.setFilter("territory-secret", secretFilter);
  rootEl.classList.toggle("is-bivariate", bivariate);
}
