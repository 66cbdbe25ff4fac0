// The tabs of a dataset page. Without JavaScript each tab is a link (?tab=...) to the page
// with that panel shown; here the links become ARIA tabs that switch panels in place and keep
// the address. The map module (and with it the map library) is imported the first time the
// Map tab is shown, never before. Copy buttons (data-copy) copy their block's text.
const root = document.querySelector("[data-dataset-tabs]");
if (root) start(root);
document.addEventListener("click", copyOnClick);

function start(rootEl) {
  const list = rootEl.querySelector(".tab-list ul");
  const tabs = [...rootEl.querySelectorAll(".tab-list a[data-tab]")];
  const panels = new Map([...rootEl.querySelectorAll("[data-panel]")].map((p) => [p.dataset.panel, p]));
  let mapLoaded = false;

  list.setAttribute("role", "tablist");
  for (const tab of tabs) {
    const panel = panels.get(tab.dataset.tab);
    tab.parentElement.setAttribute("role", "presentation");
    tab.setAttribute("role", "tab");
    if (panel) {
      tab.setAttribute("aria-controls", panel.id);
      panel.setAttribute("role", "tabpanel");
      panel.setAttribute("tabindex", "-1");
    }
  }

  function show(name, { focus = false, remember = true } = {}) {
    if (!panels.has(name)) return;
    for (const tab of tabs) {
      const selected = tab.dataset.tab === name;
      tab.setAttribute("aria-selected", selected ? "true" : "false");
      tab.setAttribute("tabindex", selected ? "0" : "-1");
      tab.removeAttribute("aria-current");
      if (selected && focus) tab.focus();
    }
    for (const [key, panel] of panels) panel.hidden = key !== name;
    rootEl.dataset.tab = name;
    if (remember) {
      const url = new URL(window.location.href);
      url.searchParams.set("tab", name);
      url.hash = "";
      window.history.replaceState(window.history.state, "", url);
    }
    if (name === "map" && !mapLoaded) {
      mapLoaded = true;
      import("/static/js/dataset-map.js").catch((error) => console.error(error));
    }
  }

  rootEl.addEventListener("click", (event) => {
    const tab = event.target.closest(".tab-list a[data-tab]");
    if (!tab || event.ctrlKey || event.metaKey || event.shiftKey) return;
    event.preventDefault();
    show(tab.dataset.tab);
  });
  // Links elsewhere on the page to another tab (?tab=export...) switch it in place too.
  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[href^='?tab=']");
    if (!link || link.closest(".tab-list") || event.ctrlKey || event.metaKey) return;
    const name = new URLSearchParams(link.getAttribute("href").slice(1)).get("tab");
    if (!panels.has(name)) return;
    event.preventDefault();
    show(name, { focus: true });
  });
  // Arrow keys move between tabs (the WAI-ARIA tabs pattern, activated on focus).
  list.addEventListener("keydown", (event) => {
    const index = tabs.indexOf(document.activeElement);
    if (index < 0) return;
    const moves = { ArrowRight: 1, ArrowLeft: -1, Home: -index, End: tabs.length - 1 - index };
    if (!(event.key in moves)) return;
    event.preventDefault();
    const next = tabs[(index + moves[event.key] + tabs.length) % tabs.length];
    show(next.dataset.tab, { focus: true });
  });

  const current = tabs.find((t) => t.getAttribute("aria-current") === "page") || tabs[0];
  show(current.dataset.tab, { remember: false });
  rootEl.dataset.ready = "1";
}

async function copyOnClick(event) {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  if (!source) return;
  const text = "value" in source && source.tagName !== "PRE" ? source.value : source.textContent;
  const label = button.dataset.label || button.textContent;
  button.dataset.label = label;
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = button.dataset.copied || "✓";
  } catch {
    if (source.select) source.select();
  }
  setTimeout(() => { button.textContent = label; }, 2000);
}
