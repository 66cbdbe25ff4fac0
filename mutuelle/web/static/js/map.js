// The observatory map: MapLibre GL over the portal's own vector tiles, with no base map
// needed. Colours come from the classes the server computed (the same ones the legend and the
// table show), applied in the browser to each feature's own `value` and `status`: the tiles
// are asked for with `?indicator=`, so a simple choropleth's style holds no per-territory list
// and the page only sends the classes (#map-data); the tooltips' ranks and parents are fetched
// once the map is drawn (data.details_url). The crossing of two indicators still matches codes
// to colours. Names are drawn as HTML labels, so no glyph server is needed offline. The form
// stays a plain GET form: here it updates the map, the legend and the table in place
// (/observatoire/panneau).
import {
  Map as MapLibreMap, NavigationControl, Popup, ScaleControl,
} from "/static/vendor/maplibre-gl/maplibre-gl.mjs";
import { renderScatter } from "/static/js/chart.js";

const SECRET_FILL = "#8c8c8c";
const NO_DATA_FILL = "#ffffff";
const OUTSIDE_FILL = "rgba(0, 0, 0, 0)";
const BACKGROUND = "#dfe4ea";
const LABELS_MAX = 160;
const PLAIN_STYLE = {
  version: 8, sources: {},
  layers: [{ id: "background", type: "background", paint: { "background-color": BACKGROUND } }],
};
const PARTS = ["legend", "crossing", "table"];
// Outlines are drawn from the zoom where they separate territories rather than blacken the
// map (an IRIS is a few pixels wide below zoom 8): below it, the browser neither builds nor
// draws them (their tiles are not even fetched for the parents' outlines), which halves the
// work of drawing France's 48,000 IRIS.
const OUTLINES_MINZOOM = { iris: 8, qpv: 8, commune: 6 };
const PARENT_LINES_MINZOOM = 7;
const SYMBOL_FILL = "rgba(179, 92, 0, 0.55)";
const SYMBOL_LINE = "#6b3700";

const root = document.querySelector("[data-observatory]");
if (root) start(root);

function readJSON(id, scope = document) {
  const el = scope.querySelector(`#${id}`);
  if (!el || !el.textContent.trim()) return null;
  return JSON.parse(el.textContent);
}

function fill(template, values) {
  return template.replace(/%\((\w+)\)s/g, (_, key) => (key in values ? values[key] : ""));
}

function formatter(lang) {
  const cache = {};
  return (value, digits) => {
    if (value === null || value === undefined || !Number.isFinite(value)) return "—";
    const d = digits ?? (Math.abs(value) >= 1000 || Number.isInteger(value) ? 0 : Math.abs(value) >= 10 ? 1 : 2);
    cache[d] ??= new Intl.NumberFormat(lang, { maximumFractionDigits: d, minimumFractionDigits: 0 });
    return cache[d].format(value);
  };
}

function escapeHTML(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function hatchImage() {
  const size = 8;
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = size;
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#d4d4d4";
  ctx.fillRect(0, 0, size, size);
  ctx.strokeStyle = "#5e5e5e";
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  ctx.moveTo(0, size); ctx.lineTo(size, 0);
  ctx.moveTo(-size / 2, size / 2); ctx.lineTo(size / 2, -size / 2);
  ctx.moveTo(size / 2, size * 1.5); ctx.lineTo(size * 1.5, size / 2);
  ctx.stroke();
  return ctx.getImageData(0, 0, size, size);
}

// The rows of a view sent column by column (see observatory_pages.compact).
function rows(view, extra = {}) {
  const columns = view.columns;
  const names = Object.keys(columns);
  return columns.code.map((_, i) => {
    const row = { ...extra };
    for (const name of names) row[name] = columns[name][i];
    return row;
  });
}

// Every ring of a (multi)polygon, for the label boxes.
function* rings(geometry) {
  if (geometry.type === "Polygon") yield* geometry.coordinates;
  else if (geometry.type === "MultiPolygon") for (const poly of geometry.coordinates) yield* poly;
}

function start(rootEl) {
  // Marks for bench/maps.py: script started, style loaded, choropleth drawn.
  performance.mark("observatory:start");
  const config = readJSON("map-config");
  const messages = readJSON("obs-messages") || {};
  const lang = messages.lang || document.documentElement.lang || "fr";
  const format = formatter(lang);
  const form = document.getElementById("map-form");
  const statusEl = rootEl.querySelector("#map-status");
  const labelsEl = rootEl.querySelector(".obs-labels");
  const container = rootEl.querySelector("#map");
  let data = readJSON("map-data");
  let level = config.level;
  let vintage = config.vintage;
  let indicator = config.state?.indicator || null;
  let byCode = new Map();
  let selected = config.state?.selected || null;
  // The page of the table of values: kept while the view is the same, back to 1 when it changes.
  let tablePage = Number(new URLSearchParams(window.location.search).get("page")) || 1;
  let scatter = null;
  let request = 0;

  // Loading and failures show on the map; other news is only announced to screen readers.
  const say = (text, visible = false) => {
    if (!statusEl) return;
    statusEl.textContent = text;
    statusEl.classList.toggle("is-visible", visible);
  };

  // --- the map ----------------------------------------------------------------------------
  const state = config.state || {};
  const options = {
    container,
    style: config.basemap_url || PLAIN_STYLE,
    attributionControl: false,
    locale: messages.map_controls || {},
    maxZoom: 17,
    dragRotate: false,
    pitchWithRotate: false,
  };
  if (state.center && state.zoom !== null && state.zoom !== undefined) {
    options.center = state.center;
    options.zoom = state.zoom;
  } else if (config.bounds) {
    options.bounds = config.bounds;
    options.fitBoundsOptions = { padding: 16 };
  } else {
    options.center = [2.5, 46.6];
    options.zoom = 5;
  }
  let map;
  try {
    say(messages.loading || "", true);
    map = new MapLibreMap(options);
  } catch (error) {
    console.error(error);
    say(messages.no_webgl || "", true);
    rootEl.dataset.mapError = "webgl";
    return;
  }
  map.addControl(new NavigationControl({ showCompass: false }), "top-right");
  map.addControl(new ScaleControl({ unit: "metric" }), "bottom-left");
  map.touchZoomRotate.disableRotation();
  window.observatory = { map, get data() { return data; }, select };

  const popup = new Popup({ closeButton: false, closeOnClick: false, maxWidth: "20rem", className: "obs-popup" });

  function tileURL(lv, withValues = false) {
    const path = config.tiles.replace("{level}", lv);
    const params = new URLSearchParams();
    if (vintage) params.set("vintage", vintage);
    if (withValues && indicator) params.set("indicator", indicator);
    const search = params.toString();
    return `${window.location.origin}${path}${search ? `?${search}` : ""}`;
  }

  function removeLayers() {
    for (const id of ["territory-selected", "territory-hover", "parent-line", "territory-line",
      "territory-secret", "territory-fill"]) {
      if (map.getLayer(id)) map.removeLayer(id);
    }
    for (const id of ["territories", "parents"]) if (map.getSource(id)) map.removeSource(id);
  }

  function addLayers() {
    removeLayers();
    map.addSource("territories", { type: "vector", tiles: [tileURL(level, true)], minzoom: 0, maxzoom: 14, promoteId: "code" });
    map.addLayer({ id: "territory-fill", type: "fill", source: "territories", "source-layer": level,
      paint: { "fill-color": OUTSIDE_FILL, "fill-opacity": config.basemap_url ? 0.75 : 0.92 } });
    map.addLayer({ id: "territory-secret", type: "fill", source: "territories", "source-layer": level,
      filter: ["==", ["get", "code"], ""], paint: { "fill-pattern": "hatch" } });
    map.addLayer({ id: "territory-line", type: "line", source: "territories", "source-layer": level,
      minzoom: OUTLINES_MINZOOM[level] ?? 0, paint: { "line-color": "#4f5a6b", "line-opacity": 0.55,
        "line-width": ["interpolate", ["linear"], ["zoom"], 8, 0.3, 13, 1] } });
    const parentLevel = level === "iris" || level === "qpv" ? config.parent_level : null;
    if (parentLevel) {
      map.addSource("parents", { type: "vector", tiles: [tileURL(parentLevel)], minzoom: 0, maxzoom: 14 });
      map.addLayer({ id: "parent-line", type: "line", source: "parents", "source-layer": parentLevel,
        minzoom: PARENT_LINES_MINZOOM, paint: { "line-color": "#1d2433", "line-width": ["interpolate", ["linear"], ["zoom"], 8, 1, 13, 2.2] } });
    }
    map.addLayer({ id: "territory-hover", type: "line", source: "territories", "source-layer": level,
      filter: ["==", ["get", "code"], ""], paint: { "line-color": "#1d2433", "line-width": 2 } });
    map.addLayer({ id: "territory-selected", type: "line", source: "territories", "source-layer": level,
      filter: ["==", ["get", "code"], selected || ""], paint: { "line-color": "#b35c00", "line-width": 3.5 } });
  }

  // --- points layers (datasets of points, clustered by the server) and proportional symbols --
  const pointLayers = config.point_layers || [];
  const pointId = (slug) => `points-${slug}`;

  function checkedPoints() {
    if (!form) return config.points || [];
    return [...form.querySelectorAll("input[name=points]:checked")].map((input) => input.value);
  }

  function activePointIds() {
    return pointLayers.map((l) => pointId(l.slug)).filter((id) => map.getLayer(id));
  }

  // Drawn above the choropleth and the symbols, each dataset in its own colour; a clustered
  // feature (several points in one tile unit) grows with its `count`.
  function syncPoints() {
    const wanted = new Set(checkedPoints());
    for (const layer of pointLayers) {
      const id = pointId(layer.slug);
      if (!wanted.has(layer.slug)) {
        if (map.getLayer(id)) map.removeLayer(id);
        if (map.getSource(id)) map.removeSource(id);
        continue;
      }
      if (!map.getSource(id)) {
        map.addSource(id, { type: "vector", tiles: [`${window.location.origin}${layer.tiles}`], minzoom: 0, maxzoom: 14 });
      }
      if (map.getLayer(id)) {
        map.moveLayer(id);
        continue;
      }
      const count = ["to-number", ["coalesce", ["get", "count"], 1], 1];
      map.addLayer({ id, type: "circle", source: id, "source-layer": layer.slug,
        paint: { "circle-color": layer.color, "circle-opacity": 0.9,
          "circle-radius": ["+", 4, ["*", 1.5, ["sqrt", ["max", 0, ["-", count, 1]]]]],
          "circle-stroke-color": "#ffffff", "circle-stroke-width": 1 } });
    }
    rootEl.dataset.points = [...wanted].join(",");
  }

  // Circles at the territories' centroids, area proportional to the value (counts only; the
  // server sends no circle for a secret value).
  function syncSymbols() {
    const symbols = data?.symbols;
    if (!symbols || !symbols.geojson.features.length) {
      if (map.getLayer("symbols")) map.removeLayer("symbols");
      if (map.getSource("symbols")) map.removeSource("symbols");
      return;
    }
    if (map.getSource("symbols")) map.getSource("symbols").setData(symbols.geojson);
    else map.addSource("symbols", { type: "geojson", data: symbols.geojson });
    if (map.getLayer("symbols")) map.moveLayer("symbols");
    else {
      map.addLayer({ id: "symbols", type: "circle", source: "symbols",
        layout: { "circle-sort-key": ["-", 0, ["to-number", ["get", "value"], 0]] },
        paint: { "circle-color": SYMBOL_FILL, "circle-stroke-color": SYMBOL_LINE, "circle-stroke-width": 1 } });
    }
    // The radii of the server's size legend: max_radius for the largest value, the others by
    // the square root of their value, never under min_radius.
    const k = symbols.max > 0 ? symbols.max_radius / Math.sqrt(symbols.max) : 0;
    map.setPaintProperty("symbols", "circle-radius",
      ["max", symbols.min_radius, ["*", k, ["sqrt", ["max", 0, ["to-number", ["get", "value"], 0]]]]]);
  }

  function overlays() {
    syncSymbols();
    syncPoints();
  }

  function describePoint(feature) {
    const layer = pointLayers.find((l) => pointId(l.slug) === feature.layer.id);
    const p = feature.properties || {};
    const count = Number(p.count ?? 1);
    let html = `<p class="popup-name">${escapeHTML(layer?.title || "")}</p>`;
    if (count > 1) return `${html}<p>${escapeHTML(fill(messages.points_count || "", { n: format(count, 0) }))}</p>`;
    if (layer?.label && p[layer.label] !== undefined) html = `<p class="popup-name">${escapeHTML(p[layer.label])}</p><p>${escapeHTML(layer.title)}</p>`;
    if (layer?.detail && p[layer.detail] !== undefined) html += `<p>${escapeHTML(p[layer.detail])}</p>`;
    return html;
  }

  function describeSymbol(feature) {
    const p = feature.properties || {};
    const v = data?.choropleth;
    return `<p class="popup-name">${escapeHTML(p.name)}</p>
      <p>${escapeHTML(v?.indicator?.label || "")} : <strong>${escapeHTML(format(Number(p.value)))}</strong> ${escapeHTML(v?.indicator?.unit || "")}</p>`;
  }

  // The fill of a simple choropleth: the server's classes (class i holds breaks[i] <= value <
  // breaks[i + 1], values beyond the ends go to the first or last class) as a `step` over the
  // tiles' `value`, grey for secret cells and white for territories without data.
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

  function classOf(v, value) {
    if (value === null || value === undefined || !Number.isFinite(value)) return null;
    let k = 0;
    while (k + 1 < v.breaks.length && value >= v.breaks[k + 1]) k += 1;
    return Math.min(k, v.colors.length - 1);
  }

  // code -> what the tooltip needs beyond the feature's own properties, and the fill of the view.
  function paint() {
    byCode = new Map();
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
        NO_DATA_FILL];
      secretFilter = ["==", status, "secret"];
      if (v.within && v.inside) {
        // Limited to some territories: the others are left uncoloured.
        const inside = ["in", ["get", "code"], ["literal", v.inside]];
        fillColor = ["case", inside, fillColor, OUTSIDE_FILL];
        secretFilter = ["all", inside, secretFilter];
      }
    }
    map.setPaintProperty("territory-fill", "fill-color", fillColor);
    map.setFilter("territory-secret", secretFilter);
    rootEl.classList.toggle("is-bivariate", Boolean(data?.crossing));
  }

  // Ranks and parents for the tooltips of a simple choropleth: fetched once the map is drawn,
  // so that tens of thousands of IRIS do not delay it (the tiles carry names and values).
  let details = 0;
  async function loadDetails() {
    const mine = ++details;
    rootEl.dataset.details = "";
    if (!data?.choropleth || data.crossing || !data.details_url) return;
    try {
      const response = await fetch(data.details_url, { headers: { Accept: "application/json" } });
      if (!response.ok || mine !== details) return;
      const found = await response.json();
      if (mine !== details) return;
      const fresh = new Map();
      for (const item of rows(found)) {
        item.parent = item.parent === null ? null : found.parents[item.parent];
        fresh.set(item.code, item);
      }
      byCode = fresh;
      rootEl.dataset.details = "1";
    } catch (error) {
      console.error(error);
    }
  }

  function drawScatter() {
    const el = document.getElementById("scatter");
    scatter = null;
    if (!el || !data?.crossing) return Promise.resolve();
    return renderScatter(el, { ...data.crossing, results: rows(data.crossing) }, { messages, lang, onSelect: (code) => select(code, { fly: true }) })
      .then((chart) => { scatter = chart; if (selected) chart?.highlight(selected); });
  }

  // --- labels without glyphs: HTML, placed where the territory is big enough -----------------
  let labels = [];
  function placeLabels() {
    if (!map.getLayer("territory-fill")) return;
    const boxes = new Map();
    for (const feature of map.queryRenderedFeatures({ layers: ["territory-fill"] })) {
      const code = feature.properties.code;
      if (!feature.properties.name) continue;   // tiles of small territories at low zooms
      let box = boxes.get(code);
      if (!box) {
        box = { code, name: feature.properties.name, w: Infinity, s: Infinity, e: -Infinity, n: -Infinity };
        boxes.set(code, box);
      }
      for (const ring of rings(feature.geometry)) {
        for (const [x, y] of ring) {
          if (x < box.w) box.w = x; if (x > box.e) box.e = x;
          if (y < box.s) box.s = y; if (y > box.n) box.n = y;
        }
      }
    }
    const candidates = [];
    for (const box of boxes.values()) {
      const a = map.project([box.w, box.n]);
      const b = map.project([box.e, box.s]);
      const width = Math.abs(b.x - a.x);
      const height = Math.abs(b.y - a.y);
      const textWidth = box.name.length * 6.4 + 6;
      if (width < textWidth * 0.9 || height < 16) continue;
      candidates.push({ ...box, lngLat: [(box.w + box.e) / 2, (box.s + box.n) / 2], area: width * height, textWidth });
    }
    candidates.sort((p, q) => q.area - p.area);
    const placed = [];
    for (const c of candidates) {
      if (placed.length >= LABELS_MAX) break;
      const p = map.project(c.lngLat);
      const rect = { x0: p.x - c.textWidth / 2, x1: p.x + c.textWidth / 2, y0: p.y - 8, y1: p.y + 8 };
      if (placed.some((o) => rect.x0 < o.rect.x1 && rect.x1 > o.rect.x0 && rect.y0 < o.rect.y1 && rect.y1 > o.rect.y0)) continue;
      placed.push({ ...c, rect });
    }
    labels = placed;
    labelsEl.replaceChildren(...placed.map((l) => {
      const span = document.createElement("span");
      span.className = "obs-label";
      span.textContent = l.name;
      l.el = span;
      return span;
    }));
    moveLabels();
  }
  function moveLabels() {
    for (const l of labels) {
      const p = map.project(l.lngLat);
      l.el.style.transform = `translate(${Math.round(p.x)}px, ${Math.round(p.y)}px) translate(-50%, -50%)`;
    }
  }

  // --- tooltip and selection ----------------------------------------------------------------
  // What the tooltip says of a territory: the tile feature's own name, value and status, with
  // the rank and the parent's value the page knows.
  function describe(code, properties = {}) {
    let item = byCode.get(code);
    const view = data?.choropleth;
    if (!data?.crossing && view && properties.status && (!view.within || item)) {
      const value = properties.status === "ok" && properties.value !== undefined ? Number(properties.value) : null;
      item = { parent: null, rank: null, ...item, code, name: properties.name ?? item?.name ?? code,
        status: properties.status, value, class: classOf(view, value) };
    }
    if (!item) return `<p>${escapeHTML(messages.outside || "")}</p>`;
    const valueText = (value, status) => (status === "ok" ? format(value)
      : status === "secret" ? messages.secret : messages.no_data);
    if (item.bivariate) {
      const c = data.crossing;
      return `<p class="popup-name">${escapeHTML(item.name)}</p>
        <p>${escapeHTML(c.x.label)} : <strong>${escapeHTML(valueText(item.x, item.status_x))}</strong> ${escapeHTML(c.x.unit || "")}</p>
        <p>${escapeHTML(c.y.label)} : <strong>${escapeHTML(valueText(item.y, item.status_y))}</strong> ${escapeHTML(c.y.unit || "")}</p>`;
    }
    const v = data.choropleth;
    let html = `<p class="popup-name">${escapeHTML(item.name)}</p>
      <p>${escapeHTML(v.indicator.label)} : <strong>${escapeHTML(valueText(item.value, item.status))}</strong> ${item.status === "ok" ? escapeHTML(v.indicator.unit || "") : ""}</p>`;
    if (item.rank && item.class !== null) {
      html += `<p>${escapeHTML(fill(messages.rank, { rank: format(item.rank, 0), total: format(v.ranked, 0) }))} · ${escapeHTML(fill(messages.class, { n: item.class + 1 }))}</p>`;
    }
    const parent = item.parent;
    if (parent) {
      html += `<p>${escapeHTML(fill(messages.parent, { name: parent.name, value: valueText(parent.value, parent.status) }))}`;
      if (item.status === "ok" && parent.status === "ok") {
        const word = item.value > parent.value ? messages.above : item.value < parent.value ? messages.below : messages.same;
        html += ` — ${escapeHTML(word)}`;
      }
      html += "</p>";
    }
    return html;
  }

  function select(code, { fly = false, properties = null } = {}) {
    selected = code || null;
    if (map.getLayer("territory-selected")) map.setFilter("territory-selected", ["==", ["get", "code"], selected || ""]);
    if (form?.elements.selected) form.elements.selected.value = selected || "";
    scatter?.highlight(selected);
    for (const row of document.querySelectorAll("tr[data-code].current")) row.classList.remove("current");
    if (selected) {
      const row = document.querySelector(`tr[data-code="${CSS.escape(selected)}"]`);
      row?.classList.add("current");
      const name = byCode.get(selected)?.name ?? properties?.name;
      if (name) say(fill(messages.selected, { name }));
      if (fly) {
        const features = map.querySourceFeatures("territories", { sourceLayer: level, filter: ["==", ["get", "code"], selected] });
        if (features.length) {
          let w = Infinity; let s = Infinity; let e = -Infinity; let n = -Infinity;
          for (const f of features) for (const ring of rings(f.geometry)) for (const [x, y] of ring) {
            w = Math.min(w, x); e = Math.max(e, x); s = Math.min(s, y); n = Math.max(n, y);
          }
          const center = [(w + e) / 2, (s + n) / 2];
          if (!map.getBounds().contains(center)) map.easeTo({ center, duration: 400 });
        }
      }
    }
    rootEl.dataset.selected = selected || "";
    syncURL();
  }

  map.on("mousemove", "territory-fill", (event) => {
    const feature = event.features?.[0];
    if (!feature) return;
    const code = feature.properties.code;
    map.getCanvas().style.cursor = "pointer";
    map.setFilter("territory-hover", ["==", ["get", "code"], code]);
    popup.setLngLat(event.lngLat).setHTML(describe(code, feature.properties)).addTo(map);
  });
  map.on("mouseleave", "territory-fill", () => {
    map.getCanvas().style.cursor = "";
    map.setFilter("territory-hover", ["==", ["get", "code"], ""]);
    popup.remove();
  });
  map.on("click", "territory-fill", (event) => {
    const properties = event.features?.[0]?.properties || {};
    const code = properties.code;
    if (code) {
      select(code === selected ? null : code, { properties });
      popup.setLngLat(event.lngLat).setHTML(describe(code, properties)).addTo(map);
    }
  });

  // Points and symbols lie over the territories: their tooltip wins.
  let overOverlay = false;
  map.on("mousemove", (event) => {
    const ids = activePointIds();
    const layers = map.getLayer("symbols") ? [...ids, "symbols"] : ids;
    const feature = layers.length ? map.queryRenderedFeatures(event.point, { layers })[0] : null;
    if (!feature) {
      if (overOverlay) {
        overOverlay = false;
        if (!map.queryRenderedFeatures(event.point, { layers: ["territory-fill"] }).length) popup.remove();
      }
      return;
    }
    overOverlay = true;
    map.getCanvas().style.cursor = "pointer";
    const html = feature.layer.id === "symbols" ? describeSymbol(feature) : describePoint(feature);
    popup.setLngLat(event.lngLat).setHTML(html).addTo(map);
  });

  // --- the view in the form and the address -------------------------------------------------
  function recordView() {
    const c = map.getCenter();
    const z = map.getZoom();
    rootEl.dataset.center = `${c.lng.toFixed(6)},${c.lat.toFixed(6)}`;
    rootEl.dataset.zoom = z.toFixed(3);
    if (form) {
      form.elements.center.value = rootEl.dataset.center;
      form.elements.zoom.value = rootEl.dataset.zoom;
    }
    syncURL();
  }

  function query() {
    const params = new URLSearchParams();
    if (!form) return params;
    const points = [];
    for (const [key, value] of new FormData(form)) {
      if (!String(value).trim()) continue;
      if (key === "points") points.push(value);
      else params.set(key, value);
    }
    if (points.length) params.set("points", points.join(","));
    if (params.get("method") !== "manual") params.delete("breaks");
    if (tablePage > 1) params.set("page", tablePage);
    return params;
  }

  function syncURL() {
    if (!form || !window.location.pathname.startsWith(config.page_url)) return;
    history.replaceState(null, "", `${config.page_url}?${query()}`);
  }

  function liveState() {
    const base = data?.state ? { ...data.state } : null;
    if (!base) return null;
    const c = map.getCenter();
    base.center = [Number(c.lng.toFixed(6)), Number(c.lat.toFixed(6))];
    base.zoom = Number(map.getZoom().toFixed(3));
    base.selected = selected;
    return base;
  }

  async function update() {
    const mine = ++request;
    say(messages.updating || "", true);
    rootEl.setAttribute("aria-busy", "true");
    rootEl.dataset.ready = "";
    try {
      const response = await fetch(`${config.panel_url}?${query()}`, { headers: { Accept: "text/html" } });
      const html = await response.text();
      if (mine !== request) return;
      const doc = new DOMParser().parseFromString(html, "text/html");
      for (const part of PARTS) {
        const fresh = doc.querySelector(`[data-part="${part}"]`);
        const old = document.querySelector(`[data-part="${part}"]`);
        if (fresh && old) old.replaceWith(document.importNode(fresh, true));
      }
      const dataEl = doc.querySelector("#map-data");
      data = dataEl && dataEl.textContent.trim() ? JSON.parse(dataEl.textContent) : null;
      const saveState = document.querySelector("#scenario-form input[name=state]");
      if (saveState) saveState.value = data?.state ? JSON.stringify(data.state) : "";
      const view = data?.choropleth;
      const shown = data?.state?.indicator || view?.indicator?.id || null;
      if (view && (view.level !== level || view.vintage !== vintage || shown !== indicator)) {
        level = view.level;
        vintage = view.vintage;
        indicator = shown;
        addLayers();
      }
      paint();
      overlays();
      select(data?.state?.selected ?? selected);
      await drawScatter();
      if (!response.ok) say(messages.failed || "", true);
      afterDraw();
    } catch (error) {
      console.error(error);
      if (mine === request) say(messages.failed || "", true);
    } finally {
      if (mine === request) rootEl.removeAttribute("aria-busy");
    }
  }

  function afterDraw() {
    map.once("idle", () => {
      // The choropleth is drawn: the map is ready; the names follow (placing them reads
      // every rendered feature, seconds with tens of thousands of IRIS).
      rootEl.dataset.ready = "1";
      performance.mark("observatory:drawn");
      loadDetails();
      setTimeout(placeLabels, 0);
      const v = data?.crossing || data?.choropleth;
      if (v) {
        const label = data.crossing ? `${data.crossing.x.label} × ${data.crossing.y.label}` : v.indicator.label;
        const levelText = (messages.levels || {})[v.level] || v.level;
        say(fill(messages.drawn, { indicator: label, level: levelText }));
      }
    });
    map.triggerRepaint();
  }

  let started = false;
  function init() {
    if (started) return;
    started = true;
    performance.mark("observatory:style-loaded");
    if (!map.hasImage("hatch")) map.addImage("hatch", hatchImage(), { pixelRatio: 1 });
    addLayers();
    paint();
    overlays();
    drawScatter();
    recordView();
    if (selected) select(selected);
    afterDraw();
  }
  map.on("load", init);
  // An unreachable base map (no internet) must not leave the map empty: our own layers are
  // drawn on a plain background instead.
  let plain = false;
  if (config.basemap_url) {
    map.on("error", (event) => {
      if (started || plain) return;
      plain = true;
      console.warn("base map unavailable, drawn without it", event.error);
      map.setStyle(PLAIN_STYLE);
      map.once("idle", init);
    });
  }
  map.on("move", moveLabels);
  map.on("moveend", () => { recordView(); placeLabels(); });

  // --- the form -----------------------------------------------------------------------------
  if (form) {
    // Proportional symbols are offered for counts only (indicators aggregated by sum).
    const showCounts = () => {
      const option = form.elements.indicator?.selectedOptions?.[0];
      const counts = Boolean(option && option.hasAttribute("data-count"));
      const field = form.querySelector("[data-counts-only]");
      if (field) field.hidden = !counts;
      if (form.elements.proportional) form.elements.proportional.disabled = !counts;
    };
    showCounts();
    const showBreaks = () => {
      const manual = form.elements.method.value === "manual";
      for (const el of form.querySelectorAll("[data-for-method=manual]")) el.hidden = !manual;
    };
    showBreaks();
    form.addEventListener("change", (event) => {
      tablePage = 1;
      if (event.target.name === "method") showBreaks();
      if (event.target.name === "indicator") showCounts();
      if (event.target.name === "points") syncPoints();
      if (event.target.name === "breaks" && form.elements.method.value !== "manual") return;
      syncURL();
      update();
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      tablePage = 1;
      syncURL();
      update();
    });
  }
  // The table's other pages, without drawing the map again (the links work without script).
  document.addEventListener("click", (event) => {
    const link = event.target.closest?.("[data-part=table] a[data-page]");
    if (!link || !form || event.ctrlKey || event.metaKey || event.shiftKey) return;
    event.preventDefault();
    tablePage = Number(link.dataset.page) || 1;
    syncURL();
    update().then(() => document.getElementById("table-title")?.scrollIntoView());
  });
  const saveForm = document.getElementById("scenario-form");
  saveForm?.addEventListener("submit", () => {
    const live = liveState();
    if (live) saveForm.elements.state.value = JSON.stringify(live);
  });
  for (const button of document.querySelectorAll("[data-copy]")) {
    button.addEventListener("click", async () => {
      const source = document.getElementById(button.dataset.copy);
      source.select();
      try {
        await navigator.clipboard.writeText(source.value);
      } catch {
        document.execCommand("copy");
      }
      const status = document.querySelector(".copy-status");
      if (status) status.textContent = messages.copied || "";
    });
  }
}
