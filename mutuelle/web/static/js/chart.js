// Charts as Vega-Lite specs rendered by vega-embed: the scatter plot of two crossed
// indicators, linked to the map, and the small bar charts of a territory's portrait. Each
// chart has a table beside it in the page. Vega (800 kB of scripts) is loaded the first time
// a chart is drawn, so that the map page does not wait for it before drawing the map.

import { vegaEmbed as embed } from "./vega-loader.js";

const SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json";
const INK = "#1d2433";
const SVG_POINTS_MAX = 3000;

function axisTitle(indicator) {
  return indicator.unit ? `${indicator.label} (${indicator.unit})` : indicator.label;
}

function numberFormat(values) {
  const biggest = Math.max(...values.map((v) => Math.abs(v)), 0);
  return biggest >= 10 ? ",.0f" : biggest >= 1 ? ",.1f" : ",.2f";
}

// A French or English locale for d3-format, so that 12,5 is not written 12.5 in French.
function formatLocale(lang) {
  return lang === "fr"
    ? { decimal: ",", thousands: "\u202f", grouping: [3], currency: ["", "\u00a0€"] }
    : { decimal: ".", thousands: ",", grouping: [3], currency: ["$", ""] };
}

/** The scatter plot of a crossing; returns {view, highlight(code)} or null without vega. */
export async function renderScatter(el, crossing, { messages = {}, lang = "fr", onSelect } = {}) {
  const vegaEmbed = await embed();
  if (!vegaEmbed) return null;
  const values = crossing.results
    .filter((d) => d.x !== null && d.y !== null)
    .map((d) => ({ code: d.code, name: d.name, x: d.x, y: d.y, cell: d.cell }));
  const xFormat = numberFormat(values.map((d) => d.x));
  const yFormat = numberFormat(values.map((d) => d.y));
  const point = {
    mark: { type: "point", filled: true, cursor: "pointer", opacity: 0.9 },
    encoding: {
      x: { field: "x", type: "quantitative", title: axisTitle(crossing.x), scale: { zero: false, nice: true }, axis: { format: xFormat, tickCount: 8, labelOverlap: true } },
      y: { field: "y", type: "quantitative", title: axisTitle(crossing.y), scale: { zero: false, nice: true }, axis: { format: yFormat, tickCount: 6, titleLimit: 300 } },
      color: { field: "cell", type: "ordinal", scale: { domain: [0, 1, 2, 3, 4, 5, 6, 7, 8], range: crossing.colors }, legend: null },
      size: { condition: { test: "datum.code === hl", value: 260 }, value: 55 },
      stroke: { condition: { test: "datum.code === hl", value: INK }, value: "#ffffff" },
      strokeWidth: { condition: { test: "datum.code === hl", value: 3 }, value: 0.6 },
      tooltip: [
        { field: "name", type: "nominal", title: messages.territory || "Territoire" },
        { field: "x", type: "quantitative", title: crossing.x.label, format: ",.1f" },
        { field: "y", type: "quantitative", title: crossing.y.label, format: ",.1f" },
      ],
    },
  };
  const trend = {
    transform: [{ regression: "y", on: "x" }],
    mark: { type: "line", color: INK, strokeDash: [5, 4], strokeWidth: 1.2 },
    encoding: { x: { field: "x", type: "quantitative" }, y: { field: "y", type: "quantitative" } },
  };
  const spec = {
    $schema: SCHEMA,
    description: `${messages.scatter_title || ""} : ${crossing.x.label} × ${crossing.y.label}`,
    width: "container",
    height: 320,
    autosize: { type: "fit", contains: "padding" },
    params: [{ name: "hl", value: "" }],
    data: { values },
    layer: [point, trend],
    config: { font: "system-ui, sans-serif", axis: { labelFontSize: 12, titleFontSize: 12 }, view: { stroke: null } },
  };
  // SVG keeps each point in the accessibility tree; beyond a few thousand, canvas stays fluid.
  const renderer = values.length <= SVG_POINTS_MAX ? "svg" : "canvas";
  const result = await vegaEmbed(el, spec, { actions: false, renderer, formatLocale: formatLocale(lang) });
  el.dataset.points = String(values.length);
  result.view.addEventListener("click", (_event, item) => {
    const code = item?.datum?.code;
    if (code && onSelect) onSelect(code);
  });
  return {
    view: result.view,
    highlight(code) {
      result.view.signal("hl", code || "").runAsync();
      el.dataset.highlighted = code || "";
    },
  };
}

/** A small horizontal bar chart: a territory, its parent and the whole territory. */
export async function renderBars(el, rows, { unit = "", lang = "fr", title = "" } = {}) {
  const vegaEmbed = await embed();
  if (!vegaEmbed) return null;
  const values = rows.filter((r) => r.value !== null);
  const spec = {
    $schema: SCHEMA,
    description: title,
    // A fixed width: "container" would ask for "fit" sizing, which a banded height refuses.
    width: Math.max(120, el.clientWidth - 160),
    height: { step: 26 },
    data: { values },
    mark: { type: "bar", cornerRadiusEnd: 2 },
    encoding: {
      y: { field: "name", type: "nominal", sort: null, title: null, axis: { labelLimit: 180 } },
      x: { field: "value", type: "quantitative", title: unit || null, axis: { format: numberFormat(values.map((r) => r.value)) } },
      color: { field: "role", type: "nominal", legend: null,
        scale: { domain: ["self", "parent", "whole"], range: ["#1f5f8b", "#7d9bb3", "#b8c4cf"] } },
      tooltip: [{ field: "name", type: "nominal" }, { field: "value", type: "quantitative", format: numberFormat(values.map((r) => r.value)) }],
    },
    config: { font: "system-ui, sans-serif", view: { stroke: null } },
  };
  return vegaEmbed(el, spec, { actions: false, renderer: "svg", formatLocale: formatLocale(lang) });
}
