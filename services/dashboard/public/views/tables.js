// History of runs and the per-table state, as two plain tables.
import { ago, count, duration, h, time } from "../dom.js";

/** @param {HTMLTableSectionElement} tbody @param {any[]} runs */
export function renderHistory(tbody, runs) {
  tbody.replaceChildren();
  if (runs.length === 0) {
    tbody.append(h("tr", {}, h("td", { colspan: "7", class: "muted" }, "No runs yet.")));
    return;
  }
  for (const r of runs) {
    const ms = r.completed_at ? Date.parse(r.completed_at) - Date.parse(r.started_at) : NaN;
    tbody.append(h(
      "tr",
      { "data-run": r.id },
      h("td", {}, time(r.started_at)),
      h("td", { class: `status status-${r.status}` }, r.status),
      h("td", {}, r.direction),
      h("td", { class: "num" }, count(r.total_rows)),
      h("td", { class: "num" }, count(r.conflicts_detected)),
      h("td", { class: "num" }, r.completed_at ? duration(ms) : "running"),
      h("td", { class: "error-text" }, r.error ?? ""),
    ));
  }
}

/** @param {HTMLTableSectionElement} tbody @param {any[]} tables */
export function renderTables(tbody, tables) {
  tbody.replaceChildren();
  for (const t of tables) {
    tbody.append(h(
      "tr",
      { "data-table": t.name },
      h("td", {}, t.name),
      h("td", {}, t.direction.replaceAll("_", " ")),
      h("td", { class: `status status-${t.status}` }, t.status),
      h("td", { class: "num" }, count(t.rows_synced)),
      h(
        "td",
        { title: t.last_sync_time ?? "" },
        t.last_sync_time ? ago(t.last_sync_time) : "never",
      ),
      h("td", { class: "num" }, t.lag_ms === null ? "—" : duration(t.lag_ms)),
      h("td", { class: "error-text" }, t.error ?? ""),
    ));
  }
}
