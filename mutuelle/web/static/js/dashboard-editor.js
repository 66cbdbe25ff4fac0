// The dashboard editor: blocks on a CSS grid are moved and resized with the mouse or a finger
// (a block's title bar drags it, its bottom-right corner resizes it, both snapped to the
// grid's cells, the spot outlined while the pointer moves), with their buttons, or with the
// keyboard (arrows move the selected block, Shift + arrows resize it, Delete removes it); a
// block overlapping another pushes it down. New blocks, and blocks changed in place
// ("Modifier" fills the form with a block, "Mettre à jour" redraws it where it is), are drawn
// by the server (/dashboards/blocs/apercu); "Enregistrer" sends the whole dashboard to
// /api/dashboards/<id>. No library: the grid is CSS, the state a list of the saved blocks.

import { drawFigures } from "./chart-builder.js";

const MAX_ROWS = 200;
const MAX_HEIGHT = 12;
// Pixels a pointer moves before a press on a title bar or a corner becomes a drag.
const DRAG_THRESHOLD = 4;

function format(template, values) {
  return template.replace(/%\((\w+)\)s/g, (_, name) => String(values[name] ?? ""));
}

function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]')?.content || "";
}

function overlaps(a, b) {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

function clamp(value, low, high) {
  return Math.min(high, Math.max(low, value));
}

// The grid's geometry in viewport pixels: equal columns, and its rows as laid out now (each
// at least the height of grid-auto-rows, taller when a block's content needs it), followed
// by rows of that least height below the last block.
function gridMetrics(grid, columns) {
  const style = getComputedStyle(grid);
  const box = grid.getBoundingClientRect();
  const colGap = parseFloat(style.columnGap) || 0;
  const rowGap = parseFloat(style.rowGap) || 0;
  const tracks = style.gridTemplateRows === "none" ? [] : style.gridTemplateRows.split(/\s+/).map(parseFloat);
  const least = parseFloat((style.gridAutoRows.match(/[\d.]+px/) || [""])[0]);
  return {
    left: box.left, top: box.top, colGap, rowGap, tracks,
    auto: least || tracks[0] || 100,
    cell: (box.width - colGap * (columns - 1)) / columns,
    // a narrow screen shows the blocks one under the other: nothing to drag to
    stacked: style.gridTemplateColumns.split(/\s+/).length < columns,
  };
}

// The column under a pointer (its edge is the middle of the gap between two columns).
function columnAt(m, clientX) {
  return Math.floor((clientX - m.left + m.colGap / 2) / (m.cell + m.colGap));
}

// The row under a pointer.
function rowAt(m, clientY) {
  let offset = clientY - m.top;
  for (let row = 0; row < MAX_ROWS + MAX_HEIGHT; row += 1) {
    const track = m.tracks[row] ?? m.auto;
    if (offset < track + m.rowGap / 2) return row;
    offset -= track + m.rowGap;
  }
  return MAX_ROWS + MAX_HEIGHT;
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
    this.addHeading = root.querySelector("#add-title");
    this.addSubmit = this.addForm.querySelector("[data-add-submit]");
    this.addCancel = this.addForm.querySelector("[data-add-cancel]");
    this.labels = { heading: this.addHeading.textContent, submit: this.addSubmit.textContent };
    this.editing = null;   // the block whose values the form shows, if any
    this.dirty = false;
    for (const el of this.grid.querySelectorAll(".dash-block")) this.adopt(el);
    root.querySelector("[data-editor-save]").addEventListener("click", () => this.save());
    this.meta.addEventListener("input", () => { this.dirty = true; });
    this.meta.addEventListener("submit", (event) => { event.preventDefault(); this.save(); });
    this.addForm.addEventListener("submit", (event) => {
      event.preventDefault();
      if (this.editing) this.update(); else this.add();
    });
    this.addCancel.addEventListener("click", () => this.stopEditing(true));
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

  placed(el, b = this.data(el)) {
    return format(this.messages.placed, { title: this.title(el), x: b.x + 1, y: b.y + 1, w: b.w, h: b.h, columns: this.columns });
  }

  adopt(el) {
    this.data(el);
    el.querySelector(".dash-tools")?.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-act]");
      if (button) this.act(el, button.dataset.act, button);
    });
    el.querySelector(".dash-block-head")?.addEventListener("pointerdown", (event) => this.press(event, el, "move"));
    el.querySelector("[data-resize]")?.addEventListener("pointerdown", (event) => this.press(event, el, "resize"));
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
    if (act === "edit") return this.edit(el);
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
    this.say(this.placed(el));
  }

  // A press on a block's title bar (mode "move") or on its corner ("resize"): once the pointer
  // has moved a little, the spot it points at, snapped to the grid's cells, is outlined and
  // told; on release the block takes it and pushes down the blocks it overlaps. Escape, or a
  // cancelled pointer, leaves the block where it was.
  press(event, el, mode) {
    if (event.button !== 0 || event.target.closest("button, a, input, select, textarea, summary")) return;
    const metrics = gridMetrics(this.grid, this.columns);
    if (metrics.stacked) return;
    event.preventDefault();   // no text selection, no scrolling under a finger
    const handle = event.currentTarget;
    handle.setPointerCapture(event.pointerId);
    const b = this.data(el);
    const start = { x: event.clientX, y: event.clientY };
    const grab = { x: columnAt(metrics, start.x) - b.x, y: rowAt(metrics, start.y) - b.y };
    let target = null;
    let outline = null;
    const spot = (e) => {
      const m = gridMetrics(this.grid, this.columns);
      const column = columnAt(m, e.clientX);
      const row = rowAt(m, e.clientY);
      if (mode === "move") {
        return { x: clamp(column - grab.x, 0, this.columns - b.w), y: clamp(row - grab.y, 0, MAX_ROWS), w: b.w, h: b.h };
      }
      return { x: b.x, y: b.y, w: clamp(column - b.x + 1, 1, this.columns - b.x), h: clamp(row - b.y + 1, 1, MAX_HEIGHT) };
    };
    const move = (e) => {
      if (!outline) {
        if (Math.hypot(e.clientX - start.x, e.clientY - start.y) < DRAG_THRESHOLD) return;
        outline = document.createElement("div");
        outline.className = "dash-placeholder";
        outline.setAttribute("aria-hidden", "true");
        this.grid.append(outline);
        el.classList.add(mode === "move" ? "is-dragging" : "is-resizing");
      }
      if (mode === "move") el.style.transform = `translate(${e.clientX - start.x}px, ${e.clientY - start.y}px)`;
      const next = spot(e);
      if (target && ["x", "y", "w", "h"].every((k) => next[k] === target[k])) return;
      target = next;
      outline.style.gridColumn = `${target.x + 1} / span ${target.w}`;
      outline.style.gridRow = `${target.y + 1} / span ${target.h}`;
      this.say(this.placed(el, target));
    };
    const finish = (e) => {
      handle.removeEventListener("pointermove", move);
      handle.removeEventListener("pointerup", finish);
      handle.removeEventListener("pointercancel", finish);
      document.removeEventListener("keydown", escape, true);
      if (handle.hasPointerCapture(event.pointerId)) handle.releasePointerCapture(event.pointerId);
      if (!outline) {   // a click, not a drag: the block is selected, as a click on it does
        if (e.type === "pointerup") el.focus({ preventScroll: true });
        return;
      }
      outline.remove();
      el.classList.remove("is-dragging", "is-resizing");
      el.style.transform = "";
      if (e.type === "pointerup") {
        Object.assign(b, target);
        this.settle(el);
        this.layout();
        this.dirty = true;
      }
      el.focus({ preventScroll: true });
      this.say(this.placed(el));
    };
    const escape = (e) => {
      if (e.key !== "Escape") return;
      e.preventDefault();
      e.stopPropagation();
      finish(e);
    };
    handle.addEventListener("pointermove", move);
    handle.addEventListener("pointerup", finish);
    handle.addEventListener("pointercancel", finish);
    document.addEventListener("keydown", escape, true);
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
    if (this.editing === el) this.stopEditing(false);
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
      const shown = this.editing && this.data(this.editing).kpi?.period;
      if (shown) part.period = shown;   // set through the API; the form has no field for it
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

  // The block drawn by the server, checked as saving would check it; null, with the
  // server's reason under the form, when it is refused.
  async draw(block, refused) {
    this.addProblem.replaceChildren();
    this.say(this.messages.adding);
    const response = await fetch(this.root.dataset.preview, {
      method: "POST", headers: { "Content-Type": "application/json", Accept: "text/html, application/json;q=0.5", "X-CSRF-Token": csrfToken() },
      body: JSON.stringify({ block, dashboard: this.root.dataset.dashboard }) });
    if (!response.ok) {
      let message = `HTTP ${response.status}`;
      try { message = (await response.json()).message || message; } catch { /* a page, not JSON */ }
      const detail = document.createElement("span");
      detail.lang = "en";
      detail.textContent = message;
      this.addProblem.append(`${refused} `, detail);
      this.say(refused);
      return null;
    }
    const holder = document.createElement("div");
    holder.innerHTML = await response.text();
    return holder.querySelector(".dash-block");
  }

  // The block of the form's kind, title and size (w columns at most, h rows), where given.
  formBlock(place) {
    const f = this.addForm.elements;
    const kind = f.kind.value;
    const w = Math.min(this.columns, Math.max(1, Number(f.w.value) || 4));
    const h = Math.min(MAX_HEIGHT, Math.max(1, Number(f.h.value) || 2));
    const block = { kind, ...place(w, h), [kind]: this.part(kind) };
    if (f.title.value.trim()) block.title = f.title.value.trim();
    return block;
  }

  async add() {
    const el = await this.draw(this.formBlock((w, h) => this.freeSpot(w, h)), this.messages.not_added);
    if (!el) return;
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

  // "Modifier": the form shows the block's kind, title, size and values; "Mettre à jour le
  // bloc" (update) redraws it in its place.
  edit(el) {
    if (this.editing) this.stopEditing(false);
    const b = this.data(el);
    const form = this.addForm;
    form.reset();
    form.elements.kind.value = b.kind;
    form.elements.title.value = b.title || "";
    this.choose(form.elements.w, b.w, format(this.messages.width, { w: b.w }));
    form.elements.h.value = String(b.h);
    const set = form.querySelector(`fieldset[data-kind="${b.kind}"]`);
    // the fields are named after the block's JSON: "kpi.target.date", "table.columns", "text"
    const fill = (name, value) => {
      if (value !== null && typeof value === "object" && !Array.isArray(value)) {
        for (const [key, inner] of Object.entries(value)) fill(`${name}.${key}`, inner);
        return;
      }
      const field = set?.querySelector(`[name="${name}"]`);
      if (!field) return;
      const text = value == null ? "" : Array.isArray(value) ? value.join(", ") : String(value);
      if (field.tagName === "SELECT") this.choose(field, text, text);
      else field.value = text;
    };
    fill(b.kind, b[b.kind]);
    this.showKind();
    this.editing = el;
    el.classList.add("is-edited");
    const title = this.title(el);
    this.addHeading.textContent = format(this.messages.edit_heading, { title });
    this.addSubmit.textContent = this.messages.update;
    this.addCancel.hidden = false;
    this.addProblem.replaceChildren();
    this.addHeading.scrollIntoView({ block: "start" });
    form.elements.kind.focus({ preventScroll: true });
    this.say(format(this.messages.editing, { title }));
  }

  // Select ``value`` in a list, adding it (as ``label``) when the list does not offer it: a
  // width of 5 columns, a dataset no longer in the first choices.
  choose(select, value, label) {
    const wanted = String(value);
    if (wanted === "" && ![...select.options].some((o) => o.value === "")) return;
    if (![...select.options].some((o) => o.value === wanted)) select.add(new Option(label, wanted));
    select.value = wanted;
  }

  // Back to adding blocks; ``told``: say that the change was given up, and go back to the block.
  stopEditing(told) {
    const el = this.editing;
    this.editing = null;
    el?.classList.remove("is-edited");
    this.addForm.reset();
    this.showKind();
    this.addHeading.textContent = this.labels.heading;
    this.addSubmit.textContent = this.labels.submit;
    this.addCancel.hidden = true;
    this.addProblem.replaceChildren();
    if (told && el) {
      this.say(format(this.messages.edit_cancelled, { title: this.title(el) }));
      el.focus();
    }
  }

  async update() {
    const old = this.editing;
    const b = this.data(old);
    const block = this.formBlock((w, h) => ({ x: Math.min(b.x, this.columns - w), y: b.y, w, h }));
    block.id = b.id;
    const el = await this.draw(block, this.messages.not_updated);
    if (!el || this.editing !== old) return;   // refused, or given up while it was drawn
    this.stopEditing(false);
    const now = this.data(old);   // where it is now, had it been dragged meanwhile
    const drawn = this.data(el);
    Object.assign(drawn, { x: Math.min(now.x, this.columns - drawn.w), y: now.y });
    old.replaceWith(el);
    this.adopt(el);
    this.settle(el);
    this.layout();
    drawFigures(el);
    this.dirty = true;
    const saved = this.data(el);
    this.say(format(this.messages.updated, { title: this.title(el), x: saved.x + 1, y: saved.y + 1 }));
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
