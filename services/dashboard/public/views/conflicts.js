// Parked conflicts: both versions side by side, differing columns marked, and the three ways
// to resolve one (keep local, keep cloud, or a row written by hand).
import { h, show, time } from "../dom.js";

/**
 * @param {HTMLElement} box
 * @param {HTMLElement} badge
 * @param {any[]} conflicts
 * @param {boolean} more  there are more than shown
 * @param {(id: string, resolution: string, data?: object) => Promise<void>} resolve
 */
export function renderConflicts(box, badge, conflicts, more, resolve) {
  badge.textContent = `${conflicts.length}${more ? "+" : ""}`;
  badge.classList.toggle("has", conflicts.length > 0);
  box.replaceChildren();
  if (conflicts.length === 0) {
    box.append(h("p", { class: "muted" }, "No unresolved conflicts."));
    return;
  }
  for (const c of conflicts) box.append(card(c, resolve));
}

function card(c, resolve) {
  const columns = [
    ...new Set([...Object.keys(c.local_data ?? {}), ...Object.keys(c.cloud_data ?? {})]),
  ];
  const body = h("tbody");
  for (const col of columns) {
    const l = show(c.local_data?.[col]);
    const r = show(c.cloud_data?.[col]);
    const diff = l !== r;
    body.append(h(
      "tr",
      {},
      h("th", {}, col),
      h("td", { class: diff ? "diff local" : "local" }, c.local_data ? l : ""),
      h("td", { class: diff ? "diff cloud" : "cloud" }, c.cloud_data ? r : ""),
    ));
  }
  if (!c.local_data || !c.cloud_data) {
    body.append(
      h(
        "tr",
        {},
        h("th", {}, ""),
        h("td", {}, c.local_data ? "" : "(no row)"),
        h("td", {}, c.cloud_data ? "" : "(no row)"),
      ),
    );
  }
  const message = h("span", { class: "error-text", role: "status" });
  const editor = h("textarea", { rows: "5", hidden: true, "aria-label": "custom row JSON" });
  editor.value = JSON.stringify(c.local_data ?? c.cloud_data ?? c.primary_key, null, 2);
  const act = async (resolution, data) => {
    message.textContent = "";
    for (const b of buttons.querySelectorAll("button")) b.disabled = true;
    try {
      await resolve(c.id, resolution, data);
    } catch (err) {
      message.textContent = err.message;
      for (const b of buttons.querySelectorAll("button")) b.disabled = false;
    }
  };
  const save = h("button", {
    type: "button",
    class: "small",
    hidden: true,
    "data-resolve": "custom-save",
    onclick: () => {
      let data;
      try {
        data = JSON.parse(editor.value);
      } catch {
        message.textContent = "The custom row is not valid JSON.";
        return;
      }
      act("custom", data);
    },
  }, "Save custom row");
  const buttons = h(
    "div",
    { class: "buttons" },
    h("button", {
      type: "button",
      class: "small",
      "data-resolve": "local",
      onclick: () => act("local"),
    }, "Keep local"),
    h("button", {
      type: "button",
      class: "small",
      "data-resolve": "cloud",
      onclick: () => act("cloud"),
    }, "Keep cloud"),
    h("button", {
      type: "button",
      class: "small secondary",
      "data-resolve": "custom",
      onclick: () => {
        editor.hidden = !editor.hidden;
        save.hidden = editor.hidden;
      },
    }, "Custom…"),
    save,
    message,
  );
  return h(
    "div",
    { class: "conflict", "data-id": c.id, "data-table": c.table },
    h(
      "div",
      { class: "meta" },
      h("b", {}, c.table),
      h("span", {}, `key ${JSON.stringify(c.primary_key)}`),
      h("span", { class: "muted" }, `${c.conflict_type} · ${time(c.detected_at)}`),
    ),
    c.error ? h("p", { class: "error-text" }, c.error) : null,
    h(
      "table",
      { class: "grid versions" },
      h(
        "thead",
        {},
        h("tr", {}, h("th", {}, "column"), h("th", {}, "local"), h("th", {}, "cloud")),
      ),
      body,
    ),
    editor,
    buttons,
  );
}
