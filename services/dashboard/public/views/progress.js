// Live progress: one bar per table of the current (or last) run.
import { count, h } from "../dom.js";

/** @param {HTMLElement} list @param {HTMLElement} label @param {any} run */
export function renderRun(list, label, run) {
  label.textContent = run ? `run ${run.id.slice(-12)} · ${run.status}` : "";
  list.replaceChildren();
  if (!run) {
    list.append(h("p", { class: "muted" }, "No run yet."));
    return;
  }
  list.dataset.run = run.id;
  for (const t of run.tables) list.append(row(t));
}

/** A `progress` event: moves that table's bar (adding it if the run is new to the page). */
export function applyProgress(list, p) {
  if (list.dataset.run !== p.run_id) {
    list.replaceChildren();
    list.dataset.run = p.run_id;
  }
  const entry = {
    name: p.table,
    rows_done: p.rows_done,
    rows_total: p.rows_total,
    percent: p.percent,
  };
  const existing = [...list.querySelectorAll(".progress-row")].find((r) =>
    r.dataset.table === p.table
  );
  if (existing) existing.replaceWith(row(entry));
  else list.append(row(entry));
}

function row(t) {
  const fill = h("div");
  fill.style.width = `${t.percent}%`;
  return h(
    "div",
    { class: `progress-row${t.percent >= 100 ? " done" : ""}`, "data-table": t.name },
    h("span", { class: "name", title: t.name }, t.name),
    h("div", {
      class: "bar",
      role: "progressbar",
      "aria-label": `${t.name} progress`,
      "aria-valuemin": "0",
      "aria-valuemax": "100",
      "aria-valuenow": String(t.percent),
    }, fill),
    h(
      "span",
      { class: "text" },
      `${count(t.rows_done)} / ${count(t.rows_total)} rows · `,
      h("b", { class: "percent" }, `${t.percent} %`),
    ),
  );
}
