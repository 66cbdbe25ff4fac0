// Names on the observatory map without glyphs (no glyph server is needed offline): HTML
// labels over the map, placed where the territory is big enough.
import { rings } from "/static/js/map-util.js";

const LABELS_MAX = 160;

// The labels of `map`'s territories in `labelsEl`: `place` chooses them from the rendered
// features (after a move), `move` keeps them on their territories while the map moves.
export function createLabels(map, labelsEl) {
  let labels = [];

  function place() {
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
    move();
  }

  function move() {
    for (const l of labels) {
      const p = map.project(l.lngLat);
      l.el.style.transform = `translate(${Math.round(p.x)}px, ${Math.round(p.y)}px) translate(-50%, -50%)`;
    }
  }

  return { place, move };
}
