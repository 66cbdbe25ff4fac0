// The observatory map as a PNG image: the canvas MapLibre drew, the territories' names drawn
// as HTML over it, and under it the legend (the indicator, each class's colour and bounds) and
// the source, as the page shows them. The WebGL canvas keeps no copy of its pixels
// (preserveDrawingBuffer is off: it would slow every frame), so they are copied in the very
// frame MapLibre renders.

const FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif";
const INK = "#1d2433";
const MUTED = "#4f5a6b";

// The map's pixels, copied onto a 2D canvas while the frame is drawn.
function grab(map) {
  return new Promise((resolve) => {
    map.once("render", () => {
      const source = map.getCanvas();
      const copy = document.createElement("canvas");
      copy.width = source.width;
      copy.height = source.height;
      copy.getContext("2d").drawImage(source, 0, 0);
      resolve(copy);
    });
    map.triggerRepaint();
  });
}

// What the legend shows, read from the page: its title, its items (colour and text) and the
// source line.
function legendOf() {
  const legend = document.querySelector("[data-part=legend]");
  if (!legend) return { title: "", items: [], source: "" };
  const title = legend.querySelector(".legend-indicator")?.textContent.replace(/\s+/g, " ").trim() || "";
  const items = [];
  for (const li of legend.querySelectorAll(".legend-list li")) {
    const swatch = li.querySelector(".swatch");
    const kind = swatch?.classList.contains("swatch-secret") ? "secret"
      : swatch?.classList.contains("swatch-no-data") ? "none" : "colour";
    const colour = swatch ? getComputedStyle(swatch).backgroundColor : "#ffffff";
    const label = (li.querySelector(".legend-label")?.textContent || li.textContent).replace(/\s+/g, " ").trim();
    const count = li.querySelector(".count")?.textContent.replace(/\s+/g, " ").trim() || "";
    items.push({ kind, colour, text: count ? `${label} (${count})` : label });
  }
  for (const cell of legend.querySelectorAll(".bivariate-cell")) {
    const swatch = cell.querySelector(".swatch");
    const colour = swatch ? getComputedStyle(swatch).backgroundColor : "#ffffff";
    items.push({ kind: "colour", colour, text: cell.textContent.replace(/\s+/g, " ").trim() });
  }
  const source = legend.querySelector(".legend-source")?.textContent.replace(/\s+/g, " ").trim() || "";
  return { title, items, source };
}

// The names over the map (HTML labels), where the page shows them.
function drawLabels(ctx, labelsEl, frame, ratio) {
  if (!labelsEl) return;
  ctx.save();
  ctx.font = `600 ${12 * ratio}px ${FONT}`;
  ctx.textBaseline = "top";
  ctx.lineJoin = "round";
  ctx.lineWidth = 3 * ratio;
  ctx.strokeStyle = "#ffffff";
  ctx.fillStyle = INK;
  for (const label of labelsEl.querySelectorAll(".obs-label")) {
    const box = label.getBoundingClientRect();
    if (!box.width || box.right < frame.left || box.left > frame.right || box.bottom < frame.top || box.top > frame.bottom) continue;
    const x = (box.left - frame.left) * ratio;
    const y = (box.top - frame.top) * ratio;
    ctx.strokeText(label.textContent, x, y);
    ctx.fillText(label.textContent, x, y);
  }
  ctx.restore();
}

// The legend under the map: items flow in rows as wide as the image.
function layoutLegend(ctx, legend, width, ratio) {
  const pad = 12 * ratio;
  const line = 20 * ratio;
  ctx.font = `${13 * ratio}px ${FONT}`;
  const rows = [];
  let row = [];
  let x = pad;
  for (const item of legend.items) {
    const w = 22 * ratio + ctx.measureText(item.text).width + 18 * ratio;
    if (row.length && x + w > width - pad) {
      rows.push(row);
      row = [];
      x = pad;
    }
    row.push({ ...item, x });
    x += w;
  }
  if (row.length) rows.push(row);
  const height = pad + (legend.title ? line * 1.3 : 0) + rows.length * line + (legend.source ? line : 0) + pad;
  return { rows, height, pad, line };
}

function drawLegend(ctx, legend, layout, top, width, ratio) {
  const { rows, pad, line } = layout;
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, top, width, layout.height);
  let y = top + pad;
  ctx.textBaseline = "top";
  if (legend.title) {
    ctx.font = `700 ${15 * ratio}px ${FONT}`;
    ctx.fillStyle = INK;
    ctx.fillText(legend.title, pad, y);
    y += line * 1.3;
  }
  ctx.font = `${13 * ratio}px ${FONT}`;
  for (const row of rows) {
    for (const item of row) {
      const sw = { x: item.x, y: y + 2 * ratio, w: 16 * ratio, h: 12 * ratio };
      if (item.kind === "secret") {
        ctx.fillStyle = "#8c8c8c";
        ctx.fillRect(sw.x, sw.y, sw.w, sw.h);
      } else if (item.kind === "colour") {
        ctx.fillStyle = item.colour;
        ctx.fillRect(sw.x, sw.y, sw.w, sw.h);
      }
      ctx.strokeStyle = MUTED;
      ctx.lineWidth = ratio;
      if (item.kind === "none") ctx.setLineDash([3 * ratio, 2 * ratio]);
      ctx.strokeRect(sw.x, sw.y, sw.w, sw.h);
      ctx.setLineDash([]);
      ctx.fillStyle = INK;
      ctx.fillText(item.text, item.x + 22 * ratio, y);
    }
    y += line;
  }
  if (legend.source) {
    ctx.fillStyle = MUTED;
    ctx.font = `${12 * ratio}px ${FONT}`;
    ctx.fillText(legend.source, pad, y);
  }
}

// The image of the map and its legend, as a PNG Blob.
export async function mapImage(map, { labelsEl }) {
  const shot = await grab(map);
  const ratio = shot.width / map.getCanvas().clientWidth || 1;
  const legend = legendOf();
  const out = document.createElement("canvas");
  const measure = out.getContext("2d");
  const layout = layoutLegend(measure, legend, shot.width, ratio);
  out.width = shot.width;
  out.height = shot.height + Math.ceil(layout.height);
  const ctx = out.getContext("2d");
  ctx.drawImage(shot, 0, 0);
  drawLabels(ctx, labelsEl, map.getCanvas().getBoundingClientRect(), ratio);
  drawLegend(ctx, legend, layout, shot.height, out.width, ratio);
  return new Promise((resolve, reject) => {
    out.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("the map could not be made a PNG"))), "image/png");
  });
}

// Download the image (carte-<indicator>-<level>.png).
export async function downloadMapImage(map, { data, labelsEl }) {
  const blob = await mapImage(map, { labelsEl });
  const view = data?.crossing || data?.choropleth;
  const indicator = data?.crossing ? `${data.crossing.x.id}-${data.crossing.y.id}` : view?.indicator?.id;
  const name = ["carte", indicator, view?.level].filter(Boolean).join("-").replace(/[^\w.-]+/g, "-");
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = `${name}.png`;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}
