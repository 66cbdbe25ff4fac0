// What the observatory map's tooltip says of a territory, and the details (ranks, parents) it
// needs beyond the tiles.
import { escapeHTML, fill, rows } from "/static/js/map-util.js";

// The class of a value in a simple choropleth, as map-layers.js colours it: class i holds
// breaks[i] <= value < breaks[i + 1], values beyond the ends go to the first or last class.
export function classOf(v, value) {
  if (value === null || value === undefined || !Number.isFinite(value)) return null;
  let k = 0;
  while (k + 1 < v.breaks.length && value >= v.breaks[k + 1]) k += 1;
  return Math.min(k, v.colors.length - 1);
}

// What the tooltip says of a territory: the tile feature's own name, value and status, with
// the rank and the parent's value the page knows (`byCode`, from the view's data or the
// details fetched once the map is drawn). `data` is the view (#map-data), `messages` the
// page's messages and `format` its number formatter.
export function describe(code, properties = {}, { data, byCode, messages, format }) {
  let item = byCode.get(code);
  const view = data?.choropleth;
  // Limited to some territories (within): the others are "outside", details loaded or not.
  const inside = !view?.within || Boolean(item) || Boolean(view.inside?.includes(code));
  if (!data?.crossing && view && properties.status && inside) {
    const value = properties.status === "ok" && properties.value !== undefined ? Number(properties.value) : null;
    item = { parent: null, rank: null, ...item, code, name: properties.name ?? item?.name ?? code,
      status: properties.status, value, class: classOf(view, value) };
  }
  if (!item) return `<p>${escapeHTML(messages.outside || "")}</p>`;
  // a count (a sum of people or things) reads as a whole number
  const valueText = (value, status, indicator = data?.choropleth?.indicator) => (status === "ok" ? format(value, indicator?.count ? 0 : undefined)
    : status === "secret" ? messages.secret : status === "partial" ? messages.partial
      : status === "excluded" ? messages.excluded : messages.no_data);
  if (item.bivariate) {
    const c = data.crossing;
    return `<p class="popup-name">${escapeHTML(item.name)}</p>
        <p>${escapeHTML(c.x.label)} : <strong>${escapeHTML(valueText(item.x, item.status_x, c.x))}</strong> ${escapeHTML(c.x.unit || "")}</p>
        <p>${escapeHTML(c.y.label)} : <strong>${escapeHTML(valueText(item.y, item.status_y, c.y))}</strong> ${escapeHTML(c.y.unit || "")}</p>`;
  }
  const v = data.choropleth;
  // an IRIS of activity or miscellaneous type, where INSEE's figures are thin, says so
  const kind = (messages.kinds || {})[properties.kind];
  let html = `<p class="popup-name">${escapeHTML(item.name)}</p>${kind ? `<p class="popup-kind">${escapeHTML(kind)}</p>` : ""}
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

// Ranks and parents for the tooltips of a simple choropleth: fetched once the map is drawn,
// so that tens of thousands of IRIS do not delay it (the tiles carry names and values).
// `load(data)` fetches those of a view (#map-data) and hands them to `found` (code -> item)
// unless another view was asked for meanwhile; `rootEl` says when they are there.
export function createDetails(rootEl, found) {
  let details = 0;
  return async function load(data) {
    const mine = ++details;
    rootEl.dataset.details = "";
    if (!data?.choropleth || data.crossing || !data.details_url) return;
    try {
      const response = await fetch(data.details_url, { headers: { Accept: "application/json" } });
      if (!response.ok || mine !== details) return;
      const sent = await response.json();
      if (mine !== details) return;
      const fresh = new Map();
      for (const item of rows(sent)) {
        item.parent = item.parent === null ? null : sent.parents[item.parent];
        fresh.set(item.code, item);
      }
      found(fresh);
      rootEl.dataset.details = "1";
    } catch (error) {
      console.error(error);
    }
  };
}
