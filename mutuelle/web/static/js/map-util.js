// Small helpers the observatory map's modules share: the page's JSON, message templates,
// numbers in the page's language, HTML escaping, the rows of a view and the rings of a
// polygon, and the hatching of secret values.

export function readJSON(id, scope = document) {
  const el = scope.querySelector(`#${id}`);
  if (!el || !el.textContent.trim()) return null;
  return JSON.parse(el.textContent);
}

export function fill(template, values) {
  return template.replace(/%\((\w+)\)s/g, (_, key) => (key in values ? values[key] : ""));
}

export function formatter(lang) {
  const cache = {};
  return (value, digits) => {
    if (value === null || value === undefined || !Number.isFinite(value)) return "—";
    const d = digits ?? (Math.abs(value) >= 1000 || Number.isInteger(value) ? 0 : Math.abs(value) >= 10 ? 1 : 2);
    cache[d] ??= new Intl.NumberFormat(lang, { maximumFractionDigits: d, minimumFractionDigits: 0 });
    return cache[d].format(value);
  };
}

export function escapeHTML(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

export function hatchImage() {
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
export function rows(view, extra = {}) {
  const columns = view.columns;
  const names = Object.keys(columns);
  return columns.code.map((_, i) => {
    const row = { ...extra };
    for (const name of names) row[name] = columns[name][i];
    return row;
  });
}

// Every ring of a (multi)polygon, for the label boxes.
export function* rings(geometry) {
  if (geometry.type === "Polygon") yield* geometry.coordinates;
  else if (geometry.type === "MultiPolygon") for (const poly of geometry.coordinates) yield* poly;
}
