// What the observatory map draws over the territories: points layers (datasets of points,
// clustered by the server) and proportional symbols, with what their tooltips say.
import { escapeHTML, fill } from "/static/js/map-util.js";

const SYMBOL_FILL = "rgba(179, 92, 0, 0.55)";
const SYMBOL_LINE = "#6b3700";

const pointId = (slug) => `points-${slug}`;

// The overlays of `map`: the points layers offered (config.point_layers) are those checked in
// `form` (or, without a form, those of config.points); `rootEl` records the ones shown.
export function createOverlays(map, { rootEl, form, config, messages, format }) {
  const pointLayers = config.point_layers || [];

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

  // The symbols of a view, then the points above them.
  function sync(data) {
    syncSymbols(data);
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

  function describeSymbol(feature, data) {
    const p = feature.properties || {};
    const v = data?.choropleth;
    return `<p class="popup-name">${escapeHTML(p.name)}</p>
      <p>${escapeHTML(v?.indicator?.label || "")} : <strong>${escapeHTML(format(Number(p.value)))}</strong> ${escapeHTML(v?.indicator?.unit || "")}</p>`;
  }

  return { sync, syncPoints, syncSymbols, activePointIds, describePoint, describeSymbol };
}
