// The indicator form's live preview: as the fields change, the preview (values, static map,
// codes that matched no territory) is asked for again (/observatoire/indicateurs/apercu) and
// swapped in, without saving anything. Without JavaScript the form's "Prévisualiser" button
// does the same by posting the form; choosing a dataset submits its own GET form.
const PREVIEW_URL = "/observatoire/indicateurs/apercu";
const DELAY_MS = 400;

const datasetForm = document.getElementById("dataset-form");
const datasetSelect = datasetForm?.querySelector("select[name=dataset]");
datasetSelect?.addEventListener("change", () => datasetForm.requestSubmit());

const form = document.getElementById("indicator-form");
if (form) start(form);

function start(formEl) {
  let timer = null;
  let asked = 0;

  function query() {
    const params = new URLSearchParams();
    for (const [key, value] of new FormData(formEl)) {
      if (key === "csrf_token" || key === "action") continue;
      if (String(value).trim()) params.set(key, value);
    }
    return params;
  }

  async function refresh() {
    const mine = ++asked;
    const slot = document.getElementById("indicator-preview");
    if (!slot) return;
    slot.setAttribute("aria-busy", "true");
    slot.dataset.ready = "";
    try {
      const response = await fetch(`${PREVIEW_URL}?${query()}`, { headers: { Accept: "text/html" } });
      const html = await response.text();
      if (mine !== asked) return;
      const doc = new DOMParser().parseFromString(html, "text/html");
      const fresh = doc.getElementById("indicator-preview");
      const current = document.getElementById("indicator-preview");
      if (fresh && current) {
        current.replaceWith(document.importNode(fresh, true));
        markFields(fresh.querySelector("[data-error-field]")?.dataset.errorField || "");
      }
    } catch (error) {
      console.error(error);
    } finally {
      const now = document.getElementById("indicator-preview");
      if (mine === asked && now) {
        now.removeAttribute("aria-busy");
        now.dataset.ready = "1";
      }
    }
  }

  // The field at fault is marked invalid; the others no longer are.
  function markFields(field) {
    for (const el of formEl.querySelectorAll("[aria-invalid=true]")) el.removeAttribute("aria-invalid");
    for (const el of formEl.querySelectorAll(".field-error")) el.hidden = true;
    if (field && formEl.elements[field]?.setAttribute) formEl.elements[field].setAttribute("aria-invalid", "true");
  }

  const later = () => {
    clearTimeout(timer);
    timer = setTimeout(refresh, DELAY_MS);
  };
  formEl.addEventListener("input", (event) => {
    if (event.target.matches("input[type=text], textarea")) later();
  });
  formEl.addEventListener("change", (event) => {
    if (!event.target.matches("input[type=text], textarea")) refresh();
  });
}
