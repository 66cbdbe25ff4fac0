// Charts of a dataset: the builder (type, x, y, aggregation, series, filters), whose form
// becomes an Explore API query (select, group_by, where, order_by, limit) drawn by Vega-Lite
// with a table beside it, saved through /api/charts; and the figures of saved charts, whose
// rows the page carries (the server ran the same query). Vega is loaded on the first chart.

import { vegaEmbed } from "./vega-loader.js";

const SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json";
const NUMERIC = ["integer", "decimal"];
const TEMPORAL = ["date", "datetime"];
const AGGREGATED = ["bar", "line", "area", "pie", "donut"];
const HISTOGRAM_CLASSES = 20;
const MAX_SCATTER_POINTS = 5000;
const PALETTE = ["#1f5f8b", "#c0392b", "#2e7d32", "#8e44ad", "#b35c00", "#00796b", "#5d4037", "#455a64"];

function formatLocale(lang) {
  return lang === "fr"
    ? { decimal: ",", thousands: "\u202f", grouping: [3], currency: ["", "\u00a0€"] }
    : { decimal: ".", thousands: ",", grouping: [3], currency: ["$", ""] };
}

// --- the query: the same rules as mutuelle/dashboards/charts.py ---------------------------

const quoteName = (name) => "`" + name.replace(/\\/g, "\\\\").replace(/`/g, "\\`") + "`";
const quoteText = (value) => '"' + String(value).replace(/\\/g, "\\\\").replace(/"/g, '\\"') + '"';

/** A filter value as an ODSQL literal of its column's type; throws on a value of another type. */
export function literal(kind, value) {
  const text = String(value).trim();
  if (kind === "integer") {
    if (!/^-?\d{1,18}$/.test(text)) throw new Error("integer");
    return String(parseInt(text, 10));
  }
  if (kind === "decimal") {
    if (!/^-?\d+(?:[.,]\d+)?(?:[eE][-+]?\d+)?$/.test(text)) throw new Error("decimal");
    return String(parseFloat(text.replace(",", ".")));
  }
  if (kind === "boolean") {
    if (!["true", "false"].includes(text.toLowerCase())) throw new Error("boolean");
    return text.toLowerCase();
  }
  if (kind === "date") {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) throw new Error("date");
    return `date'${text}'`;
  }
  if (kind === "datetime") {
    if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2})?)?$/.test(text)) throw new Error("datetime");
    return `date'${text}'`;
  }
  return quoteText(value);
}

function grained(name, kind, grain) {
  if (!TEMPORAL.includes(kind) || !grain) return quoteName(name);
  if (grain === "year") return `year(${quoteName(name)})`;
  return `date_format(${quoteName(name)}, ${quoteText(grain === "month" ? "yyyy-MM" : "yyyy-MM-dd")})`;
}

export function niceStep(low, high, classes = HISTOGRAM_CLASSES) {
  const span = high - low;
  if (!Number.isFinite(span) || span <= 0) return 1;
  const raw = span / classes;
  const power = 10 ** Math.floor(Math.log10(raw));
  for (const factor of [1, 2, 5, 10]) if (raw <= factor * power) return factor * power;
  return 10 * power;
}

/** The Explore query drawing ``params`` ({type, x, y, aggregation, series, grain, filters,
 * sort, limit, step}) on columns of types ``kinds`` ({name: type}). */
export function chartQuery(params, kinds, step = null) {
  const where = params.filters.map((f) => {
    if (f.value === null) return `${quoteName(f.field)} is ${f.op === "!=" ? "not " : ""}null`;
    return `${quoteName(f.field)} ${f.op} ${literal(kinds[f.field], f.value)}`;
  });
  const x = grained(params.x, kinds[params.x], params.grain);
  const series = params.series ? `, ${quoteName(params.series)} as series` : "";
  if (params.type === "histogram") {
    const width = params.step || step;
    return { select: "count(*) as y", group_by: `range(${quoteName(params.x)}, ${width}) as x`, where, order_by: "x", limit: params.limit };
  }
  if (params.type === "scatter") {
    return { select: "count(*) as n", group_by: `${x} as x, ${quoteName(params.y)} as y${series}`, where, order_by: "",
      limit: Math.min(MAX_SCATTER_POINTS, Math.max(params.limit, 1000)) };
  }
  const measure = params.aggregation === "count" || !params.y ? "count(*)" : `${params.aggregation}(${quoteName(params.y)})`;
  let order = { x: "x", y: "y", "-y": "y desc" }[params.sort];
  if (params.series && params.sort !== "x") order += ", x";
  return { select: `${measure} as y`, group_by: `${x} as x${series}`, where, order_by: order, limit: params.limit };
}

function queryString(query) {
  const items = new URLSearchParams();
  if (query.select) items.append("select", query.select);
  if (query.group_by) items.append("group_by", query.group_by);
  for (const clause of query.where || []) items.append("where", clause);
  if (query.order_by) items.append("order_by", query.order_by);
  items.append("limit", String(query.limit));
  return items.toString();
}

async function fetchRows(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.message || `HTTP ${response.status}`);
  return body.results || [];
}

// --- the Vega-Lite spec ---------------------------------------------------------------------

function xEncoding(meta, params) {
  const kind = meta.xType;
  if (params.type === "histogram") {
    return { field: "x", type: "quantitative", bin: { binned: true, step: meta.step || 1 }, title: meta.x };
  }
  if (params.type === "scatter") {
    return { field: "x", type: NUMERIC.includes(kind) ? "quantitative" : "ordinal", title: meta.x, scale: { zero: false } };
  }
  if (TEMPORAL.includes(kind) && (!params.grain || params.grain === "day") && ["line", "area"].includes(params.type)) {
    return { field: "x", type: "temporal", title: meta.x };
  }
  if (NUMERIC.includes(kind) && ["line", "area"].includes(params.type) && kind !== "integer") {
    return { field: "x", type: "quantitative", title: meta.x };
  }
  return { field: "x", type: "ordinal", sort: null, title: meta.x, axis: { labelAngle: -35, labelLimit: 160 } };
}

/** The Vega-Lite spec of a chart's rows; ``meta`` gives the axes' titles and the x type. */
export function chartSpec(params, rows, meta, { height = 300 } = {}) {
  const color = params.series ? { field: "series", type: "nominal", title: meta.series, scale: { range: PALETTE } } : undefined;
  const tooltip = [{ field: "x", title: meta.x }, ...(params.series ? [{ field: "series", title: meta.series }] : []),
    { field: "y", title: meta.y, type: "quantitative", format: ",.4~f" }];
  const base = { $schema: SCHEMA, data: { values: rows }, width: "container", height,
    autosize: { type: "fit", contains: "padding" },
    config: { font: "system-ui, sans-serif", axis: { labelFontSize: 12, titleFontSize: 12 }, view: { stroke: null } } };
  if (params.type === "pie" || params.type === "donut") {
    return { ...base, mark: { type: "arc", innerRadius: params.type === "donut" ? Math.round(height / 5) : 0, tooltip: true },
      encoding: { theta: { field: "y", type: "quantitative", title: meta.y }, color: { field: "x", type: "nominal", title: meta.x, sort: null, scale: { range: PALETTE } },
        tooltip: [{ field: "x", title: meta.x }, { field: "y", title: meta.y, type: "quantitative", format: ",.4~f" }] } };
  }
  if (params.type === "histogram") {
    return { ...base, transform: [{ calculate: `datum.x + ${meta.step || 1}`, as: "x_end" }], mark: { type: "bar", color: PALETTE[0] },
      encoding: { x: xEncoding(meta, params), x2: { field: "x_end" }, y: { field: "y", type: "quantitative", title: meta.y }, tooltip } };
  }
  if (params.type === "scatter") {
    return { ...base, mark: { type: "point", filled: true, opacity: 0.7 },
      encoding: { x: xEncoding(meta, params), y: { field: "y", type: "quantitative", title: meta.y, scale: { zero: false } },
        size: { field: "n", type: "quantitative", title: meta.count || "n", legend: null }, ...(color ? { color } : { color: { value: PALETTE[0] } }),
        tooltip: [...tooltip, { field: "n", title: meta.count || "n" }] } };
  }
  const mark = params.type === "bar" ? { type: "bar" } : params.type === "line" ? { type: "line", point: true } : { type: "area", opacity: 0.8, line: true };
  const encoding = { x: xEncoding(meta, params), y: { field: "y", type: "quantitative", title: meta.y, stack: params.type === "area" && params.series ? true : null },
    tooltip, ...(color ? { color } : { color: { value: PALETTE[0] } }) };
  if (params.type === "bar" && params.series) encoding.xOffset = { field: "series" };
  return { ...base, mark, encoding };
}

/** Draw ``spec`` in ``el``; false when Vega cannot be loaded (the table stays). */
export async function draw(el, spec, lang) {
  const embed = await vegaEmbed();
  if (!embed) return false;
  await embed(el, spec, { actions: false, renderer: "svg", formatLocale: formatLocale(lang) });
  return true;
}

// --- saved charts ---------------------------------------------------------------------------

async function drawFigure(figure) {
  const data = JSON.parse(figure.querySelector("[data-chart-data]").textContent);
  const view = figure.querySelector("[data-chart-view]");
  const height = Number(figure.dataset.height) || 300;
  const params = { filters: [], ...data.params };
  const drawn = await draw(view, chartSpec(params, data.rows, data.meta, { height }), figure.dataset.lang || document.documentElement.lang);
  figure.dataset.drawn = drawn ? "1" : "0";
}

/** Draw every saved chart's figure inside ``root`` (the editor calls it for a new block). */
export function drawFigures(root = document) {
  for (const figure of root.querySelectorAll("[data-chart-figure]:not([data-drawn])")) {
    figure.dataset.drawn = "pending";
    drawFigure(figure).catch((error) => { console.error(error); figure.dataset.drawn = "0"; });
  }
}

// --- the builder ----------------------------------------------------------------------------

function format(template, values) {
  return template.replace(/%\((\w+)\)s/g, (_, name) => String(values[name] ?? ""));
}

class Builder {
  constructor(root) {
    this.root = root;
    this.form = root.querySelector("[data-builder-form]");
    this.fields = JSON.parse(root.querySelector("[data-builder-fields]").textContent);
    this.kinds = Object.fromEntries(this.fields.map((f) => [f.name, f.type]));
    this.labels = Object.fromEntries(this.fields.map((f) => [f.name, f.label]));
    this.units = Object.fromEntries(this.fields.map((f) => [f.name, f.unit]));
    this.messages = JSON.parse(root.querySelector("[data-builder-messages]").textContent);
    this.status = root.querySelector("[data-builder-status]");
    this.view = root.querySelector("[data-chart-view]");
    this.table = root.querySelector("[data-builder-table]");
    this.queryLink = root.querySelector("[data-builder-query]");
    this.filterList = root.querySelector("[data-filter-list]");
    this.template = root.querySelector("[data-filter-template]");
    this.lang = root.dataset.lang || "fr";
    this.run = 0;
    this.timer = null;
    const saved = JSON.parse(root.querySelector("[data-builder-params]").textContent);
    this.restore(saved || this.defaults());
    this.form.addEventListener("input", () => this.schedule());
    this.form.addEventListener("change", () => this.schedule());
    this.form.addEventListener("submit", (event) => { event.preventDefault(); this.refresh(); });
    root.querySelector("[data-add-filter]").addEventListener("click", () => { this.addFilter(); this.schedule(); });
    const save = root.querySelector("[data-builder-save]");
    if (save) save.addEventListener("submit", (event) => { event.preventDefault(); this.save(save); });
    this.refresh();
  }

  // Bars of the first text column that is neither a code nor a name (few distinct values).
  defaults() {
    const identifying = /^(code|id|nom|name|libelle|uai|siren|siret|numero)/i;
    const text = this.fields.find((f) => f.type === "text" && !identifying.test(f.name))
      || this.fields.find((f) => f.type === "text") || this.fields[0];
    return { type: "bar", x: text ? text.name : "", aggregation: "count", filters: [], sort: "x", limit: 50 };
  }

  restore(p) {
    const set = (name, value) => { const el = this.form.elements[name]; if (el && value !== undefined && value !== null) el.value = String(value); };
    const radio = this.form.querySelector(`input[name="type"][value="${p.type}"]`);
    if (radio) radio.checked = true;
    for (const name of ["x", "y", "aggregation", "series", "grain", "sort", "limit", "step"]) set(name, p[name]);
    for (const f of p.filters || []) this.addFilter(f);
  }

  addFilter(filter = null) {
    const row = this.template.content.firstElementChild.cloneNode(true);
    if (filter) {
      row.querySelector('[name="filter-field"]').value = filter.field;
      row.querySelector('[name="filter-op"]').value = filter.op || "=";
      row.querySelector('[name="filter-value"]').value = filter.value === null ? "" : String(filter.value);
    }
    row.querySelector("[data-remove-filter]").addEventListener("click", () => {
      row.remove();
      this.schedule();
      this.root.querySelector("[data-add-filter]").focus();
    });
    this.filterList.append(row);
    if (!filter) row.querySelector("select").focus();
  }

  params() {
    const f = this.form.elements;
    const type = this.form.querySelector('input[name="type"]:checked').value;
    const value = (name) => (f[name].value || "").trim() || null;
    const filters = [...this.filterList.querySelectorAll(".filter-row")].map((row) => {
      const raw = row.querySelector('[name="filter-value"]').value;
      return { field: row.querySelector('[name="filter-field"]').value, op: row.querySelector('[name="filter-op"]').value,
        value: raw.trim() === "" ? null : raw.trim() };
    });
    const measured = type === "scatter" || (AGGREGATED.includes(type) && f.aggregation.value !== "count");
    const params = { type, x: f.x.value, y: measured ? value("y") : null, aggregation: AGGREGATED.includes(type) ? f.aggregation.value : "count",
      series: ["pie", "donut", "histogram"].includes(type) ? null : value("series"),
      grain: TEMPORAL.includes(this.kinds[f.x.value]) ? value("grain") : null, filters,
      sort: AGGREGATED.includes(type) ? f.sort.value : "x", limit: Math.min(1000, Math.max(1, parseInt(f.limit.value, 10) || 50)),
      step: type === "histogram" && value("step") ? Number(value("step")) : null };
    return params;
  }

  // Show the fields that mean something for the type and the x chosen.
  toggle(params) {
    const shown = { temporal: TEMPORAL.includes(this.kinds[params.x]) && params.type !== "histogram",
      aggregated: AGGREGATED.includes(params.type), measured: params.type === "scatter" || (AGGREGATED.includes(params.type) && params.aggregation !== "count"),
      series: !["pie", "donut", "histogram"].includes(params.type), histogram: params.type === "histogram" };
    for (const el of this.form.querySelectorAll("[data-show-when]")) el.hidden = !shown[el.dataset.showWhen];
  }

  problem(params) {
    if ((params.type === "scatter" || (AGGREGATED.includes(params.type) && params.aggregation !== "count")) && !params.y) return this.messages.need_y;
    if (params.type === "histogram" && !NUMERIC.includes(this.kinds[params.x])) return this.messages.need_number;
    for (const [i, f] of params.filters.entries()) {
      if (f.value === null) continue;
      try { literal(this.kinds[f.field], f.value); } catch {
        return format(this.messages.bad_value, { n: i + 1 });
      }
    }
    return "";
  }

  schedule() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.refresh(), 250);
  }

  meta(params, step) {
    const aggregation = this.messages.aggregations[params.aggregation] || params.aggregation;
    const y = params.type === "histogram" || !params.y || params.aggregation === "count" ? this.messages.count
      : params.type === "scatter" ? this.labels[params.y] : `${this.labels[params.y]} (${aggregation.toLowerCase()})`;
    return { type: params.type, x: this.labels[params.x], y, series: params.series ? this.labels[params.series] : null,
      xType: this.kinds[params.x], grain: params.grain, step, count: this.messages.count, unit: this.units[params.y] || "" };
  }

  async refresh() {
    const params = this.params();
    this.toggle(params);
    const problem = this.problem(params);
    for (const row of this.filterList.querySelectorAll('[name="filter-value"]')) row.removeAttribute("aria-invalid");
    if (problem) {
      this.status.textContent = problem;
      this.status.classList.add("is-error");
      return;
    }
    const run = ++this.run;
    this.status.classList.remove("is-error");
    this.status.textContent = this.messages.loading;
    try {
      let step = null;
      if (params.type === "histogram" && !params.step) {
        const bounds = { select: `min(${quoteName(params.x)}) as low, max(${quoteName(params.x)}) as high`, where: chartQuery({ ...params, type: "bar" }, this.kinds).where, limit: 1 };
        const [row] = await fetchRows(`${this.root.dataset.records}?${queryString(bounds)}`);
        step = row && Number.isFinite(row.low) && Number.isFinite(row.high) ? niceStep(row.low, row.high) : 1;
      }
      const query = chartQuery(params, this.kinds, step);
      const url = `${this.root.dataset.records}?${queryString(query)}`;
      const rows = await fetchRows(url);
      if (run !== this.run) return;
      this.queryLink.href = url;
      this.rows = rows;
      const meta = this.meta(params, params.step || step);
      this.renderTable(params, rows, meta);
      this.status.textContent = rows.length === 1 ? this.messages.one_row
        : rows.length ? format(this.messages.rows, { n: rows.length }) : this.messages.empty;
      this.root.dataset.rows = String(rows.length);
      const drawn = await draw(this.view, chartSpec(params, rows, meta), this.lang);
      if (!drawn) this.status.textContent += " " + this.messages.no_vega;
      this.root.dataset.ready = "1";
    } catch (error) {
      if (run !== this.run) return;
      this.status.classList.add("is-error");
      this.status.textContent = `${this.messages.failed} ${error.message}`;
    }
  }

  renderTable(params, rows, meta) {
    const numberFormat = new Intl.NumberFormat(this.lang === "fr" ? "fr-FR" : "en-GB", { maximumFractionDigits: 4 });
    const show = (v, numeric = true) => v === null || v === undefined ? "—" : typeof v === "number" && numeric ? numberFormat.format(v) : String(v);
    const heads = [meta.x, ...(params.series ? [meta.series] : []), meta.y, ...(params.type === "scatter" ? [meta.count] : [])];
    const keys = ["x", ...(params.series ? ["series"] : []), "y", ...(params.type === "scatter" ? ["n"] : [])];
    const table = document.createElement("table");
    const head = table.createTHead().insertRow();
    for (const title of heads) { const th = document.createElement("th"); th.scope = "col"; th.textContent = title; head.append(th); }
    const body = table.createTBody();
    for (const row of rows) {
      const tr = body.insertRow();
      keys.forEach((key) => { tr.insertCell().textContent = show(row[key], key !== "x" || ["histogram", "scatter"].includes(params.type)); });
    }
    this.table.replaceChildren(table);
  }

  async save(form) {
    const status = form.querySelector("[data-save-status]");
    const params = this.params();
    const problem = this.problem(params);
    if (problem) { status.textContent = problem; return; }
    const id = this.root.dataset.chartId;
    const body = { title: form.elements.title.value, description: form.elements.description.value,
      access: form.elements.access.value, params };
    if (!id) body.dataset = this.root.dataset.dataset;
    const token = document.querySelector('meta[name="csrf-token"]')?.content || "";
    const response = await fetch(id ? `/api/charts/${id}` : "/api/charts", {
      method: id ? "PUT" : "POST", headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": token },
      body: JSON.stringify(body) });
    const answer = await response.json().catch(() => ({}));
    status.replaceChildren();
    if (!response.ok) {
      const detail = document.createElement("span");
      detail.lang = "en";
      detail.textContent = answer.message || `HTTP ${response.status}`;
      status.append(`${this.messages.not_saved} `, detail);
      status.classList.add("is-error");
      return;
    }
    status.classList.remove("is-error");
    const link = document.createElement("a");
    link.href = `/charts/${answer.id}`;
    link.textContent = this.messages.see;
    status.append(`${this.messages.saved} `, link);
    this.root.dataset.savedChart = answer.id;
  }
}

for (const root of document.querySelectorAll("[data-chart-builder]")) {
  if (root.querySelector("[data-builder-form]")) new Builder(root);
}
drawFigures();
