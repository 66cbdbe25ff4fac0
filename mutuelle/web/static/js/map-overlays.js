// What the observatory map draws over the territories: datasets (points, clustered by the
// server, lines, and polygons as a fill and an outline) and proportional symbols, with what
// their tooltips say.
import { escapeHTML, fill } from "/static/js/map-util.js";

const SYMBOL_FILL = "rgba(179, 92, 0, 0.55)";
const SYMBOL_LINE = "#6b3700";

// The map layers of a dataset, by what it draws (config.point_layers[].kinds), bottom to top.
// The tiles of one dataset mix geometries: each layer keeps its own (MapLibre 6 names a
// multi-geometry "MultiLineString" and so on). A line or a polygon too small for the zoom is
// a one-unit mark in the tiles: round caps make it a dot.
const geometryIs = (...types) => ["in", ["geometry-type"], ["literal", types]];
const KINDS = {
  polygons: [
    { id: (slug) => `fills-${slug}`, type: "fill", filter: geometryIs("Polygon", "MultiPolygon"),
      paint: (color) => ({ "fill-color": color, "fill-opacity": 0.25 }) },
    { id: (slug) => `outlines-${slug}`, type: "line", filter: geometryIs("Polygon", "MultiPolygon"),
      layout: { "line-join": "round", "line-cap": "round" },
      paint: (color) => ({ "line-color": color, "line-width": ["interpolate", ["linear"], ["zoom"], 8, 1.2, 14, 2.5] }) },
  ],
  lines: [
    { id: (slug) => `lines-${slug}`, type: "line", filter: geometryIs("LineString", "MultiLineString"),
      layout: { "line-join": "round", "line-cap": "round" },
      paint: (color) => ({ "line-color": color, "line-opacity": 0.9,
        "line-width": ["interpolate", ["linear"], ["zoom"], 8, 2, 14, 4.5] }) },
  ],
  points: [
    // a clustered feature (several points in one tile unit) grows with its `count`
    { id: (slug) => `points-${slug}`, type: "circle", filter: geometryIs("Point", "MultiPoint"),
      paint: (color) => ({ "circle-color": color, "circle-opacity": 0.9,
        "circle-radius": ["+", 4, ["*", 1.5, ["sqrt", ["max", 0, ["-", ["to-number", ["coalesce", ["get", "count"], 1], 1], 1]]]]],
        "circle-stroke-color": "#ffffff", "circle-stroke-width": 1 }) },
  ],
};
const KIND_ORDER = ["polygons", "lines", "points"];
const sourceId = (slug) => `dataset-${slug}`;

function layersOf(layer) {
  const kinds = layer.kinds?.length ? layer.kinds : ["points"];
  return KIND_ORDER.filter((k) => kinds.includes(k)).flatMap((k) => KINDS[k]);
}

// The overlays of `map`: the dataset layers offered (config.point_layers) are those checked in
// `form` (or, without a form, those of config.points); `rootEl` records the ones shown.
export function createOverlays(map, { rootEl, form, config, messages, format }) {
  const datasetLayers = config.point_layers || [];

  function checkedDatasets() {
    if (!form) return config.points || [];
    return [...form.querySelectorAll("input[name=points]:checked")].map((input) => input.value);
  }

  // The layers whose features have a tooltip: a polygon's by its outline only, so that the
  // territories under it keep theirs.
  function activeDatasetIds() {
    return datasetLayers.flatMap((l) => layersOf(l).filter((spec) => spec.type !== "fill")
      .map((spec) => spec.id(l.slug))).filter((id) => map.getLayer(id));
  }

  // Drawn above the choropleth and the symbols, each dataset in its own colour.
  function syncDatasets() {
    const wanted = new Set(checkedDatasets());
    for (const layer of datasetLayers) {
      const specs = layersOf(layer);
      const source = sourceId(layer.slug);
      if (!wanted.has(layer.slug)) {
        for (const spec of specs) if (map.getLayer(spec.id(layer.slug))) map.removeLayer(spec.id(layer.slug));
        if (map.getSource(source)) map.removeSource(source);
        continue;
      }
      if (!map.getSource(source)) {
        map.addSource(source, { type: "vector", tiles: [`${window.location.origin}${layer.tiles}`], minzoom: 0, maxzoom: 14 });
      }
      for (const spec of specs) {
        const id = spec.id(layer.slug);
        if (map.getLayer(id)) {
          map.moveLayer(id);
          continue;
        }
        map.addLayer({ id, type: spec.type, source, "source-layer": layer.slug, filter: spec.filter,
          ...(spec.layout ? { layout: spec.layout } : {}), paint: spec.paint(layer.color) });
      }
    }
    rootEl.dataset.points = [...wanted].join(",");
  }

  // Circles at the territories' centroids, area proportional to the value (counts only; the
  // server sends no circle for a secret value).
  function syncSymbols(data) {
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

  // The symbols of a view, then the datasets above them.
  function sync(data) {
    syncSymbols(data);
    syncDatasets();
  }

  function describeFeature(feature) {
    const layer = datasetLayers.find((l) => feature.source === sourceId(l.slug));
    const p = feature.properties || {};
    const count = Number(p.count ?? 1);
    let html = `<p class="popup-name">${escapeHTML(layer?.title || "")}</p>`;
    if (count > 1) {
      const grouped = feature.layer.type === "circle" ? messages.points_count : messages.shapes_count;
      return `${html}<p>${escapeHTML(fill(grouped || "", { n: format(count, 0) }))}</p>`;
    }
    if (layer?.label && p[layer.label] !== undefined) html = `<p class="popup-name">${escapeHTML(p[layer.label])}</p><p>${escapeHTML(layer.title)}</p>`;
    if (layer?.detail && p[layer.detail] !== undefined) html += `<p>${escapeHTML(p[layer.detail])}</p>`;
    return html;
  }

  function describeSymbol(feature, data) {
    const p = feature.properties || {};
    const v = data?.choropleth;
    return `<p class="popup-name">${escapeHTML(p.name)}</p>
      <p>${escapeHTML(v?.indicator?.label || "")} : <strong>${escapeHTML(format(Number(p.value)))}</strong> ${escapeHTML(v?.indicator?.unit || "")}</p>`;
  }

  return { sync, syncDatasets, syncSymbols, activeDatasetIds, describeFeature, describeSymbol };
}
