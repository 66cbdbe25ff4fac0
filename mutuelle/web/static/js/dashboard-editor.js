// The dashboard editor: blocks on a CSS grid are moved and resized with their buttons or the
// keyboard (arrows move the selected block, Shift + arrows resize it, Delete removes it), a
// block overlapping another pushes it down; new blocks are drawn by the server before they
// are added (/dashboards/blocs/apercu); "Enregistrer" sends the whole dashboard to
// /api/dashboards/<id>. No library: the grid is CSS, the state a list of the saved blocks.

import { drawFigures } from "./chart-builder.js";

const MAX_ROWS = 200;
const MAX_HEIGHT = 12;

function format(template, values) {
  return template.replace(/%\((\w+)\)s/g, (_, name) => String(values[name] ?? ""));
}

function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]')?.content || "";
}

function overlaps(a, b) {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

class Editor {
  constructor(root) {
    this.root = root;
    this.columns = Number(root.dataset.columns) || 12;
    this.messages = JSON.parse(root.querySelector("[data-editor-messages]").textContent);
    this.grid = root.querySelector("[data-dashboard-grid]");
    this.status = root.querySelector("[data-editor-status]");
    this.meta = root.querySelector("[data-editor-meta]");
    this.addForm = root.querySelector("[data-add-form]");
    this.addProblem = root.querySelector("[data-add-problem]");
    this.dirty = false;
    for (const el of this.grid.querySelectorAll(".dash-block")) this.adopt(el);
    root.querySelector("[data-editor-save]").addEventListener("click", () => this.save());
    this.meta.addEventListener("input", () => { this.dirty = true; });
    this.meta.addEventListener("submit", (event) => { event.preventDefault(); this.save(); });
    this.addForm.addEventListener("submit", (event) => { event.preventDefault(); this.add(); });
    this.addForm.elements.kind.addEventListener("change", () => this.showKind());
    for (const select of this.addForm.querySelectorAll("[data-columns-of]")) {
      select.addEventListener("change", () => this.loadColumns(select.value));
    }
    this.showKind();
    window.addEventListener("beforeunload", (event) => { if (this.dirty) event.preventDefault(); });
  }

  get blocks() {
    return [...this.grid.querySelectorAll(".dash-block")];
  }

  data(el) {
    el._block ??= JSON.parse(el.dataset.block);
    return el._block;
  }

  title(el) {
    return el.querySelector("h2")?.textContent.trim() || "";
  }

  adopt(el) {
    this.data(el);
    el.querySelector(".dash-tools")?.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-act]");
      if (button) this.act(el, button.dataset.act, button);
    });
    el.addEventListener("keydown", (event) => {
      if (event.target !== el) return;
      const keys = event.shiftKey
        ? { ArrowLeft: "narrower", ArrowRight: "wider", ArrowUp: "shorter", ArrowDown: "taller" }
        : { ArrowLeft: "left", ArrowRight: "right", ArrowUp: "up", ArrowDown: "down", Delete: "remove", Backspace: "remove" };
      const act = keys[event.key];
      if (!act) return;
      event.preventDefault();
      this.act(el, act, el);
    });
  }

  act(el, act, focus) {
    if (act === "remove") return this.remove(el);
    const b = this.data(el);
    const next = { ...b };
    if (act === "left") next.x -= 1;
    if (act === "right") next.x += 1;
    if (act === "up") next.y -= 1;
    if (act === "down") next.y += 1;
    if (act === "narrower") next.w -= 1;
    if (act === "wider") next.w += 1;
    if (act === "shorter") next.h -= 1;
    if (act === "taller") next.h += 1;
    if (next.x < 0 || next.y < 0 || next.w < 1 || next.h < 1 || next.x + next.w > this.columns
        || next.h > MAX_HEIGHT || next.y > MAX_ROWS) {
      this.say(this.messages.edge);
      return;
    }
    Object.assign(b, next);
    this.settle(el);
    this.layout();
    focus.focus();
    this.dirty = true;
    this.say(format(this.messages.placed, { title: this.title(el), x: b.x + 1, y: b.y + 1, w: b.w, h: b.h, columns: this.columns }));
  }

  // Blocks overlapping the one just moved go below it, and so on down the grid.
  settle(moved) {
    const queue = [moved];
    while (queue.length) {
      const a = this.data(queue.shift());
      for (const el of this.blocks) {
        const b = this.data(el);
        if (b !== a && overlaps(a, b)) {
          b.y = a.y + a.h;
          queue.push(el);
        }
      }
    }
  }

  // Place each block where its data say, the DOM in reading order (keyboard and readers).
  layout() {
    const current = this.blocks;
    const ordered = [...current].sort((p, q) => {
      const a = this.data(p); const b = this.data(q);
      return a.y - b.y || a.x - b.x;
    });
    for (const el of ordered) {
      const b = this.data(el);
      el.style.gridColumn = `${b.x + 1} / span ${b.w}`;
      el.style.gridRow = `${b.y + 1} / span ${b.h}`;
    }
    if (ordered.some((el, i) => el !== current[i])) this.grid.append(...ordered);
  }

  remove(el) {
    const title = this.title(el);
    const rest = this.blocks.filter((other) => other !== el);
    const index = this.blocks.indexOf(el);
    el.remove();
    this.dirty = true;
    this.say(format(this.messages.removed, { title, n: rest.length }));
    (rest[Math.min(index, rest.length - 1)] || this.addForm.elements.kind).focus();
  }

  // The first place, row by row, where a block of this size fits.
  freeSpot(w, h) {
    const taken = this.blocks.map((el) => this.data(el));
    for (let y = 0; y <= MAX_ROWS; y += 1) {
      for (let x = 0; x + w <= this.columns; x += 1) {
        const spot = { x, y, w, h };
        if (!taken.some((b) => overlaps(spot, b))) return spot;
      }
    }
    return { x: 0, y: MAX_ROWS, w, h };
  }

  showKind() {
    const kind = this.addForm.elements.kind.value;
    for (const set of this.addForm.querySelectorAll("fieldset[data-kind]")) set.hidden = set.dataset.kind !== kind;
    const source = this.addForm.querySelector(`fieldset[data-kind="${kind}"] [data-columns-of]`);
    if (source) this.loadColumns(source.value);
  }

  async loadColumns(slug) {
    const list = this.root.querySelector("#add-columns");
    if (!slug || !list) return;
    const response = await fetch(`/api/datasets/${encodeURIComponent(slug)}/versions/latest`, { headers: { Accept: "application/json" } });
    if (!response.ok) return;
    const version = await response.json();
    list.replaceChildren(...(version.fields || []).filter((f) => f.type !== "geometry").map((f) => {
      const option = document.createElement("option");
      option.value = f.name;
      option.label = f.label || f.name;
      return option;
    }));
  }

  // The part of the block of the chosen kind, from the fields named "<kind>.<name>".
  part(kind) {
    const set = this.addForm.querySelector(`fieldset[data-kind="${kind}"]`);
    const value = (name) => {
      const el = set.querySelector(`[name="${name}"]`);
      return el ? el.value.trim() : "";
    };
    const optional = (name) => value(name) || null;
    const number = (name) => (value(name) === "" ? null : Number(value(name)));
    if (kind === "kpi") {
      const part = { label: value("kpi.label"), dataset: value("kpi.dataset"), measure: value("kpi.measure"),
        field: optional("kpi.field"), numerator: optional("kpi.numerator"), denominator: optional("kpi.denominator"),
        where: value("kpi.where"), scale: number("kpi.scale") ?? 1, unit: value("kpi.unit"), decimals: number("kpi.decimals") ?? 0,
        format: value("kpi.format"), period_field: optional("kpi.period_field"), period_grain: optional("kpi.period_grain"),
        compare: value("kpi.compare") };
      if (value("kpi.target.value") !== "" || value("kpi.target.date") !== "") {
        part.target = { value: number("kpi.target.value"), date: optional("kpi.target.date"),
          direction: value("kpi.target.direction"), tolerance: number("kpi.target.tolerance") ?? 5 };
      }
      return part;
    }
    if (kind === "chart") return optional("chart");
    if (kind === "scenario") return optional("scenario");
    if (kind === "text") return set.querySelector('[name="text"]').value;
    if (kind === "map") {
      const indicator = optional("map.indicator");
      return indicator ? { indicator, level: optional("map.level") } : { dataset: optional("map.dataset") };
    }
    if (kind === "table") {
      return { dataset: value("table.dataset"), columns: value("table.columns").split(",").map((c) => c.trim()).filter(Boolean),
        where: value("table.where"), order_by: value("table.order_by"), rows: number("table.rows") ?? 10 };
    }
    return { indicator: value("indicator.indicator"), level: optional("indicator.level"), territory: optional("indicator.territory") };
  }

  async add() {
    const f = this.addForm.elements;
    const kind = f.kind.value;
    const w = Math.min(this.columns, Math.max(1, Number(f.w.value) || 4));
    const h = Math.min(MAX_HEIGHT, Math.max(1, Number(f.h.value) || 2));
    const block = { kind, ...this.freeSpot(w, h), [kind]: this.part(kind) };
    if (f.title.value.trim()) block.title = f.title.value.trim();
    this.addProblem.replaceChildren();
    this.say(this.messages.adding);
    const response = await fetch(this.root.dataset.preview, {
      method: "POST", headers: { "Content-Type": "application/json", Accept: "text/html, application/json;q=0.5", "X-CSRF-Token": csrfToken() },
      body: JSON.stringify({ block }) });
    if (!response.ok) {
      let message = `HTTP ${response.status}`;
      try { message = (await response.json()).message || message; } catch { /* a page, not JSON */ }
      const detail = document.createElement("span");
      detail.lang = "en";
      detail.textContent = message;
      this.addProblem.append(`${this.messages.not_added} `, detail);
      this.say(this.messages.not_added);
      return;
    }
    const holder = document.createElement("div");
    holder.innerHTML = await response.text();
    const el = holder.querySelector(".dash-block");
    this.grid.querySelector(".dash-empty")?.remove();
    this.grid.append(el);
    this.adopt(el);
    this.layout();
    drawFigures(el);
    this.dirty = true;
    const b = this.data(el);
    this.say(format(this.messages.added, { title: this.title(el), x: b.x + 1, y: b.y + 1 }));
    el.focus();
  }

  async save() {
    const body = { title: this.meta.elements.title.value, description: this.meta.elements.description.value,
      access: this.meta.elements.access.value, blocks: this.blocks.map((el) => this.data(el)) };
    this.say(this.messages.saving);
    const response = await fetch(this.root.dataset.api, {
      method: "PUT", headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrfToken() },
      body: JSON.stringify(body) });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) {
      const detail = document.createElement("span");
      detail.lang = "en";
      detail.textContent = answer.message || `HTTP ${response.status}`;
      this.status.replaceChildren(`${this.messages.not_saved} `, detail);
      this.status.classList.add("is-error");
      return;
    }
    this.dirty = false;
    this.status.classList.remove("is-error");
    this.say(this.messages.saved);
    this.root.dataset.saved = String(Date.now());
  }

  say(text) {
    this.status.classList.remove("is-error");
    this.status.textContent = text;
  }
}

for (const root of document.querySelectorAll("[data-dashboard-editor]")) new Editor(root);
