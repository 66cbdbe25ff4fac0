// The observatory map: MapLibre GL over the portal's own vector tiles, with no base map
// needed. Colours come from the classes the server computed (the same ones the legend and the
// table show), applied in the browser to each feature's own `value` and `status`: the tiles
// are asked for with `?indicator=`, so a simple choropleth's style holds no per-territory list
// and the page only sends the classes (#map-data); the tooltips' ranks and parents are fetched
// once the map is drawn (data.details_url). The crossing of two indicators still matches codes
// to colours. Names are drawn as HTML labels, so no glyph server is needed offline. The form
// stays a plain GET form: here it updates the map, the legend and the table in place
// (/observatoire/panneau).
//
// The pieces live beside this module: map-layers.js (the territories' layers and their fill),
// map-overlays.js (datasets' points, lines and polygons, and proportional symbols), map-labels.js (the names),
// map-tooltip.js (what the tooltip says, with the details it fetches), map-export.js (the map
// as a PNG, loaded on demand) and map-util.js (small shared helpers); this one holds the page's
// state and wires them to the map, the form, the table of values and the address.
import {
  Map as MapLibreMap, NavigationControl, Popup, ScaleControl,
} from "/static/vendor/maplibre-gl/maplibre-gl.mjs";
import { renderScatter } from "/static/js/chart.js";
import { createLabels } from "/static/js/map-labels.js";
import { addLayers, applyStyle, styleOf } from "/static/js/map-layers.js";
import { createOverlays } from "/static/js/map-overlays.js";
import { createDetails, describe } from "/static/js/map-tooltip.js";
import { fill, formatter, hatchImage, readJSON, rings, rows } from "/static/js/map-util.js";

const BACKGROUND = "#dfe4ea";
const PLAIN_STYLE = {
  version: 8, sources: {},
  layers: [{ id: "background", type: "background", paint: { "background-color": BACKGROUND } }],
};
const PARTS = ["legend", "crossing", "table"];

const root = document.querySelector("[data-observatory]");
if (root) start(root);

// On a wide screen the map and the legend beside it fill the first screen under the page's
// head, whatever its height (the style sheet's height assumes a one-line header). Not in an
// embed, whose height follows its content, nor on a narrow screen, where the map comes after
// the controls.
function fitToScreen(rootEl, container) {
  if (rootEl.hasAttribute("data-embed") || !window.matchMedia("(min-width: 56.01rem)").matches) return;
  const rem = parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
  const top = container.getBoundingClientRect().top + window.scrollY;
  const room = window.innerHeight - top - rem;
  container.style.height = `${Math.round(Math.min(42 * rem, Math.max(22 * rem, room)))}px`;
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
  const pngButton = document.getElementById("map-png");
  let data = readJSON("map-data");
  let level = config.level;
  let vintage = config.vintage;
  let indicator = config.state?.indicator || null;
  let byCode = new Map();
  let selected = config.state?.selected || null;
  // The page of the table of values: kept while the view is the same, back to 1 when it
  // changes; its order (sort=, by name unless a header's button chose another) is kept.
  const asked = new URLSearchParams(window.location.search);
  let tablePage = Number(asked.get("page")) || 1;
  let tableSort = asked.get("sort") || "name";
  // The territory the map is limited to ("Limiter à"): the map zooms to it when it changes.
  let within = JSON.stringify(config.state?.filters || {});
  let scatter = null;
  let request = 0;

  // Loading and failures show on the map; other news is only announced to screen readers.
  const say = (text, visible = false) => {
    if (!statusEl) return;
    statusEl.textContent = text;
    statusEl.classList.toggle("is-visible", visible);
  };

  // --- the map ----------------------------------------------------------------------------
  fitToScreen(rootEl, container);
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

  // --- what is drawn: the territories' layers (map-layers.js), datasets and proportional
  // symbols over them, the names ----------------------------------------------------------
  const overlays = createOverlays(map, { rootEl, form, config, messages, format });
  const labels = createLabels(map, labelsEl);

  // code -> what the tooltip needs beyond the feature's own properties, and the fill of the view.
  function paint() {
    const style = styleOf(data);
    byCode = style.byCode;
    applyStyle(map, rootEl, style);
  }

  // Ranks and parents for the tooltips, once the map is drawn (map-tooltip.js).
  const loadDetails = createDetails(rootEl, (fresh) => { byCode = fresh; });

  function drawScatter() {
    const el = document.getElementById("scatter");
    scatter = null;
    if (!el || !data?.crossing) return Promise.resolve();
    return renderScatter(el, { ...data.crossing, results: rows(data.crossing) }, { messages, lang, onSelect: (code) => select(code, { fly: true }) })
      .then((chart) => { scatter = chart; if (selected) chart?.highlight(selected); });
  }

  // --- tooltip and selection ----------------------------------------------------------------
  // The tooltip of a territory, from the view and the details known when it is shown.
  const tooltip = (code, properties) => describe(code, properties, { data, byCode, messages, format });

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
    popup.setLngLat(event.lngLat).setHTML(tooltip(code, feature.properties)).addTo(map);
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
      popup.setLngLat(event.lngLat).setHTML(tooltip(code, properties)).addTo(map);
    }
  });

  // Datasets and symbols lie over the territories: their tooltip wins.
  let overOverlay = false;
  map.on("mousemove", (event) => {
    const ids = overlays.activeDatasetIds();
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
    const html = feature.layer.id === "symbols" ? overlays.describeSymbol(feature, data) : overlays.describeFeature(feature);
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
    if (tableSort !== "name") params.set("sort", tableSort);
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
        addLayers(map, config, { level, vintage, indicator, selected });
      }
      paint();
      overlays.sync(data);
      select(data?.state?.selected ?? selected);
      zoomToWithin();
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

  // "Limiter à" chosen or cleared: the map shows that territory (or the whole level) whole.
  function zoomToWithin() {
    if (!data?.state) return;
    const now = JSON.stringify(data.state.filters || {});
    if (now === within) return;
    within = now;
    if (data.bounds) map.fitBounds(data.bounds, { padding: 24, duration: 500 });
  }

  function afterDraw() {
    map.once("idle", () => {
      // The choropleth is drawn: the map is ready; the names follow (placing them reads
      // every rendered feature, seconds with tens of thousands of IRIS).
      rootEl.dataset.ready = "1";
      if (pngButton) pngButton.hidden = !(data?.choropleth || data?.crossing);
      performance.mark("observatory:drawn");
      loadDetails(data);
      setTimeout(labels.place, 0);
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
    addLayers(map, config, { level, vintage, indicator, selected });
    paint();
    overlays.sync(data);
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
  map.on("move", labels.move);
  map.on("moveend", () => { recordView(); labels.place(); });

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
    // Choosing manual breaks starts from the classes on the map: the same map, to edit.
    const startBreaks = () => {
      const field = form.elements.breaks;
      const bounds = data?.choropleth?.breaks;
      if (form.elements.method.value !== "manual" || !field || field.value.trim() || !bounds || bounds.length < 3) return;
      field.value = bounds.slice(1, -1).map((b) => format(b).replace(/\s/g, "")).join(";");
    };
    form.addEventListener("change", (event) => {
      tablePage = 1;
      if (event.target.name === "method") { startBreaks(); showBreaks(); }
      if (event.target.name === "indicator") showCounts();
      if (event.target.name === "points") overlays.syncDatasets();
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
  // The table's order, by its headers' buttons (they submit #table-sort without script); the
  // focus stays on the button pressed, which the new table brings again.
  document.addEventListener("click", (event) => {
    const button = event.target.closest?.("[data-part=table] button[data-column]");
    if (!button || !form) return;
    event.preventDefault();
    tableSort = button.value || "name";
    tablePage = 1;
    syncURL();
    const column = button.dataset.column;
    update().then(() => document.querySelector(`[data-part=table] button[data-column="${CSS.escape(column)}"]`)?.focus());
  });
  // The map as an image: what the canvas shows, with the legend under it (map-export.js,
  // loaded when asked for).
  pngButton?.addEventListener("click", async () => {
    pngButton.disabled = true;
    try {
      const { downloadMapImage } = await import("/static/js/map-export.js");
      await downloadMapImage(map, { data, labelsEl });
    } catch (error) {
      console.error(error);
      say(messages.failed || "", true);
    } finally {
      pngButton.disabled = false;
    }
  });
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
