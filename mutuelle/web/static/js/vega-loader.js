// Vega, Vega-Lite and vega-embed (800 kB of scripts), loaded once, in order, the first time a
// chart is drawn, so that no page waits for them before it shows: for the observatory's charts
// (chart.js) and the chart builder, saved charts and dashboards (chart-builder.js).

const VEGA_SCRIPTS = ["/static/vendor/vega/vega.min.js", "/static/vendor/vega/vega-lite.min.js",
  "/static/vendor/vega/vega-embed.min.js"];
let vegaLoading = null;

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = src;
    script.async = false;
    script.onload = resolve;
    script.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.append(script);
  });
}

// vega-embed, once loaded; null when it cannot be (the page keeps its tables).
export async function vegaEmbed() {
  if (window.vegaEmbed) return window.vegaEmbed;
  vegaLoading ??= (async () => {
    for (const src of VEGA_SCRIPTS) await loadScript(src);
    return window.vegaEmbed;
  })().catch((error) => { console.error(error); vegaLoading = null; return null; });
  return vegaLoading;
}
