// A territory's portrait: one small bar chart per indicator (the territory, its parent and the
// whole territory), drawn from the figures of the table that follows each chart.
import { renderBars } from "/static/js/chart.js";

const messages = JSON.parse(document.getElementById("obs-messages")?.textContent || "{}");
const lang = messages.lang || document.documentElement.lang || "fr";

for (const el of document.querySelectorAll("[data-bars]")) {
  const rows = JSON.parse(el.dataset.bars);
  renderBars(el, rows, { unit: el.dataset.unit, lang, title: el.dataset.title })
    .then(() => { el.dataset.drawn = "1"; })
    .catch((error) => console.error(error));
}
