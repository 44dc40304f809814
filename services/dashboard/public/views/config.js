// The configuration viewer and editor: JSON in a textarea, saved with PUT; every problem the
// service names is listed under it.
import { h } from "../dom.js";

/**
 * @param {{text: HTMLTextAreaElement, save: HTMLButtonElement, reload: HTMLButtonElement,
 *   message: HTMLElement, errors: HTMLUListElement}} els
 * @param {import("../api.js").Api} api
 */
export function configEditor(els, api) {
  const showErrors = (problems) => {
    els.errors.replaceChildren(...problems.map((p) => h("li", {}, p)));
    els.errors.hidden = problems.length === 0;
  };
  const load = async () => {
    const config = await api.get("/api/v1/config");
    els.text.value = JSON.stringify(config, null, 2);
    showErrors([]);
    els.message.textContent = "";
  };
  els.reload.addEventListener("click", () => load().catch((err) => showErrors([err.message])));
  els.save.addEventListener("click", async () => {
    let body;
    try {
      body = JSON.parse(els.text.value);
    } catch (err) {
      showErrors([`Not valid JSON: ${err.message}`]);
      return;
    }
    els.save.disabled = true;
    els.message.textContent = "Saving…";
    try {
      const saved = await api.put("/api/v1/config", body);
      els.text.value = JSON.stringify(saved, null, 2);
      showErrors([]);
      els.message.textContent = "Saved and applied.";
    } catch (err) {
      els.message.textContent = "Not saved.";
      showErrors(err.problems?.length ? err.problems : [err.message]);
    } finally {
      els.save.disabled = false;
    }
  });
  return { load };
}
