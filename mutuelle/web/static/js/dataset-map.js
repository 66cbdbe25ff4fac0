// The map of a dataset (its Map tab and its map embed): MapLibre over the portal's own data,
// no base map needed. Small point datasets come as GeoJSON clustered here; bigger ones, lines
// and polygons as the portal's vector tiles, where the server clusters points (a cell of
// `cluster` tile units is one feature with a `count`; a click zooms in where they part). Colours by a field come from the server (config.colour), the same
// classes as the legend beside the map. Imported by dataset-tabs.js when the Map tab is
// first shown, or by the map embed: the only way the map library reaches a page.
import {
  GeoJSONSource, Map as MapLibreMap, NavigationControl, Popup, ScaleControl,
} from "/static/vendor/maplibre-gl/maplibre-gl.mjs";

const STYLE_SHEET = "/static/vendor/maplibre-gl/maplibre-gl.css";
const PLAIN_STYLE = {
  version: 8, sources: {},
  layers: [{ id: "background", type: "background", paint: { "background-color": "#eef1f4" } }],
};
const geometryIs = (...types) => ["in", ["geometry-type"], ["literal", types]];
// A feature that stands for several (a MapLibre cluster, or points sharing a tile unit).
const grouped = ["any", ["has", "point_count"], [">", ["to-number", ["coalesce", ["get", "count"], 1]], 1]];
const groupSize = ["to-number", ["coalesce", ["get", "point_count"], ["get", "count"], 1]];

function readJSON(id) {
  const el = document.getElementById(id);
  return el && el.textContent.trim() ? JSON.parse(el.textContent) : null;
}

function escapeHTML(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function ensureStyleSheet() {
  if (document.querySelector(`link[href="${STYLE_SHEET}"]`)) return;
  const link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = STYLE_SHEET;
  document.head.append(link);
}

// The fill of each feature: the colours of the field's values or classes, grey without a
// value; groups of features in the plain colour.
function colourOf(config) {
  const spec = config.colour;
  if (!spec) return config.color;
  const value = ["get", spec.field];
  let byValue;
  if (spec.kind === "categories") {
    const pairs = spec.values.flatMap((v, i) => [v, spec.colours[i]]);
    byValue = pairs.length ? ["match", ["to-string", value], ...pairs, spec.other] : spec.other;
  } else {
    byValue = ["step", ["to-number", value, 0], spec.colours[0],
      ...spec.breaks.flatMap((b, i) => [b, spec.colours[i + 1]])];
  }
  return ["case", grouped, config.color, ["!", ["has", spec.field]], spec.other,
    ["==", value, null], spec.other, byValue];
}

function layersOf(config, source, sourceLayer) {
  const fill = colourOf(config);
  const common = { source, ...(sourceLayer ? { "source-layer": sourceLayer } : {}) };
  const out = [];
  if (config.kinds.includes("polygons")) {
    out.push({ id: "dataset-fill", type: "fill", filter: geometryIs("Polygon", "MultiPolygon"),
      paint: { "fill-color": fill, "fill-opacity": 0.45 }, ...common });
    out.push({ id: "dataset-outline", type: "line", filter: geometryIs("Polygon", "MultiPolygon"),
      paint: { "line-color": "#33404d", "line-width": 0.8 }, ...common });
  }
  if (config.kinds.includes("lines")) {
    out.push({ id: "dataset-lines", type: "line", filter: geometryIs("LineString", "MultiLineString"),
      layout: { "line-join": "round", "line-cap": "round" },
      paint: { "line-color": fill, "line-width": ["interpolate", ["linear"], ["zoom"], 8, 2, 14, 4.5] }, ...common });
  }
  if (config.kinds.includes("points")) {
    out.push({ id: "dataset-points", type: "circle", filter: geometryIs("Point", "MultiPoint"),
      paint: {
        "circle-color": fill, "circle-opacity": 0.9,
        "circle-radius": ["case", grouped, ["min", 28, ["+", 8, ["*", 2, ["sqrt", groupSize]]]], 5],
        "circle-stroke-color": "#ffffff", "circle-stroke-width": ["case", grouped, 2, 1],
      }, ...common });
  }
  return out;
}

function formatValue(value, field, messages, number) {
  if (value === null || value === undefined || value === "") return "—";
  if (field.type === "boolean") return value === true || value === "true" ? messages.yes : messages.no;
  if ((field.type === "integer" || field.type === "decimal") && Number.isFinite(Number(value))) {
    return `${number.format(Number(value))}${field.unit ? ` ${field.unit}` : ""}`;
  }
  return String(value);
}

function describe(feature, config, messages, number) {
  const p = feature.properties || {};
  const size = Number(p.point_count ?? p.count ?? 1);
  if (size > 1) {
    return `<p>${escapeHTML(messages.cluster.replace("%(n)s", number.format(size)))}</p>`;
  }
  const rows = config.popup.map((f) => `<tr><th scope="row">${escapeHTML(f.label)}</th><td>${escapeHTML(formatValue(p[f.name], f, messages, number))}</td></tr>`);
  return `<table class="map-popup-table"><caption>${escapeHTML(config.title)}</caption><tbody>${rows.join("")}</tbody></table>`;
}

export function drawMap(frame) {
  const config = readJSON("dataset-map-config");
  const messages = readJSON("dataset-map-messages") || {};
  if (!config || !config.kinds) return null;
  ensureStyleSheet();
  const container = frame.querySelector(".map-canvas");
  const status = frame.querySelector(".map-status");
  const say = (text) => { if (status) status.textContent = text || ""; };
  const number = new Intl.NumberFormat(messages.lang || document.documentElement.lang || "fr", { maximumFractionDigits: 6 });
  say(messages.loading);
  const options = {
    container, style: config.basemap_url || PLAIN_STYLE, attributionControl: false,
    dragRotate: false, pitchWithRotate: false, maxZoom: 18,
  };
  if (config.bounds) {
    options.bounds = config.bounds;
    options.fitBoundsOptions = { padding: 24, maxZoom: 15 };
  } else {
    options.center = [2.5, 46.6];
    options.zoom = 5;
  }
  let map;
  try {
    map = new MapLibreMap(options);
  } catch (error) {
    console.error(error);
    say(messages.no_webgl);
    frame.dataset.mapError = "webgl";
    return null;
  }
  map.addControl(new NavigationControl({ showCompass: false }), "top-right");
  map.addControl(new ScaleControl({ unit: "metric" }), "bottom-left");
  map.touchZoomRotate.disableRotation();
  window.datasetMap = map;

  map.on("load", () => {
    let sourceLayer = null;
    if (config.geojson) {
      map.addSource("dataset", { type: "geojson", data: config.geojson, cluster: true,
        clusterRadius: 40, clusterMaxZoom: 15 });
    } else {
      map.addSource("dataset", { type: "vector", tiles: [`${window.location.origin}${config.tiles}`], minzoom: 0, maxzoom: 14 });
      sourceLayer = config.layer;
    }
    const layers = layersOf(config, "dataset", sourceLayer);
    for (const layer of layers) map.addLayer(layer);
    const ids = layers.filter((l) => l.type !== "fill" || !config.kinds.includes("lines")).map((l) => l.id);
    const popup = new Popup({ closeButton: true, maxWidth: "22rem", className: "dataset-popup" });

    map.on("click", (event) => {
      const found = map.queryRenderedFeatures(event.point, { layers: ids });
      if (!found.length) return;
      const feature = found[0];
      const p = feature.properties || {};
      if (p.cluster_id !== undefined && map.getSource("dataset") instanceof GeoJSONSource) {
        map.getSource("dataset").getClusterExpansionZoom(p.cluster_id)
          .then((zoom) => map.easeTo({ center: feature.geometry.coordinates, zoom }));
        return;
      }
      // a cluster of the server's tiles: closer, where its points part
      if (feature.geometry.type === "Point" && Number(p.count) > 1 && map.getZoom() < map.getMaxZoom() - 2) {
        map.easeTo({ center: feature.geometry.coordinates, zoom: map.getZoom() + 2 });
        return;
      }
      popup.setLngLat(event.lngLat).setHTML(describe(feature, config, messages, number)).addTo(map);
    });
    for (const id of ids) {
      map.on("mouseenter", id, () => { map.getCanvas().style.cursor = "pointer"; });
      map.on("mouseleave", id, () => { map.getCanvas().style.cursor = ""; });
    }
    map.once("idle", () => {
      say("");
      frame.dataset.ready = "1";
    });
  });
  return map;
}

for (const frame of document.querySelectorAll("[data-dataset-map]")) drawMap(frame);
