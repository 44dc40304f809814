// The sync dashboard (SPEC §8.4): one page over the sync control API and its event stream.
// The status comes from the stream; tables, history and conflicts are reloaded when an event
// says they changed. Whatever keeps the page from the API (down, a refused token) is shown.
import { Api, ApiError } from "./api.js";
import { configEditor } from "./views/config.js";
import { renderConflicts } from "./views/conflicts.js";
import { applyProgress, renderRun } from "./views/progress.js";
import { renderState } from "./views/status.js";
import { renderHistory, renderTables } from "./views/tables.js";

const $ = (id) => /** @type {any} */ (document.getElementById(id));
const TOKEN_KEY = "synchub.sync.token";
const els = {
  pill: $("state"),
  detail: $("state-detail"),
  start: $("start"),
  stop: $("stop"),
};

/** @type {Api} */
let api;
/** @type {EventSource | undefined} */
let source;
let status = null;
/** What keeps the page from the API, shown in the banner; null when all is well. */
let problem = null;

function setProblem(text) {
  problem = text;
  const banner = $("banner");
  banner.textContent = text ?? "";
  banner.hidden = !text;
  renderState(els, status, problem);
}

/** Sorts a failure: a refused token asks for another; the rest is shown in the banner. */
function failed(err) {
  if (err instanceof ApiError && (err.kind === "unauthorized" || err.kind === "forbidden")) {
    source?.close();
    source = undefined;
    sessionStorage.removeItem(TOKEN_KEY);
    setProblem(
      err.kind === "unauthorized"
        ? `The token was refused (401): ${err.message}. Enter a valid token.`
        : `This token may not use the sync control API (403): ${err.message}.`,
    );
    $("token-form").hidden = false;
    return;
  }
  if (err instanceof ApiError && err.kind === "down") {
    setProblem(`${err.message} Retrying…`);
    return;
  }
  setProblem(err instanceof Error ? err.message : String(err));
}

async function refreshStatus() {
  status = await api.get("/api/v1/sync/status");
  renderState(els, status, problem);
  renderTables($("tables").tBodies[0], status.tables);
  if (!$("progress").querySelector(".progress-row") || status.state !== "running") {
    renderRun($("progress"), $("run-id"), status.run);
  }
}

async function refreshHistory() {
  const { runs } = await api.get("/api/v1/sync/history?limit=20");
  renderHistory($("history").tBodies[0], runs);
}

async function refreshConflicts() {
  const { conflicts, next } = await api.get("/api/v1/conflicts?status=unresolved&limit=50");
  renderConflicts(
    $("conflicts"),
    $("conflict-count"),
    conflicts,
    next !== null,
    async (id, resolution, data) => {
      await api.post(`/api/v1/conflicts/${encodeURIComponent(id)}/resolve`, { resolution, data });
      await refreshConflicts();
    },
  );
}

async function refreshAll() {
  await Promise.all([refreshStatus(), refreshHistory(), refreshConflicts()]);
}

/** Reloads what an event changed; a failure is shown, not thrown. */
const reload = (...parts) => Promise.all(parts.map((p) => p())).catch(failed);

function connectStream() {
  source?.close();
  source = api.stream(
    {
      status: (s) => {
        status = { ...(status ?? {}), ...s };
        renderState(els, status, problem);
        reload(refreshStatus, refreshHistory);
      },
      progress: (p) => applyProgress($("progress"), p),
      conflict: () => reload(refreshConflicts),
      completed: () => reload(refreshStatus, refreshHistory, refreshConflicts),
      failed: () => reload(refreshStatus, refreshHistory),
    },
    // EventSource retries by itself; ask the API why it broke (down, or the token refused).
    () => api.get("/api/v1/sync/status").then(() => {}, failed),
    () => {
      if (problem) {
        setProblem(null);
        reload(refreshAll);
      }
    },
  );
}

async function connect(baseUrl, token) {
  api = new Api(baseUrl, token);
  try {
    await refreshAll();
  } catch (err) {
    failed(err);
    if (err instanceof ApiError && err.kind === "down") {
      setTimeout(() => connect(baseUrl, token), 3000);
    }
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  $("token-form").hidden = true;
  $("main").hidden = false;
  setProblem(null);
  connectStream();
  editor.load().catch(failed);
}

// Built once; it always talks through the current connection.
const editor = configEditor({
  text: $("config-text"),
  save: $("config-save"),
  reload: $("config-reload"),
  message: $("config-message"),
  errors: $("config-errors"),
}, { get: (p) => api.get(p), put: (p, b) => api.put(p, b) });

els.start.addEventListener("click", async () => {
  els.start.disabled = true;
  try {
    await api.post("/api/v1/sync/trigger", {});
  } catch (err) {
    failed(err);
  }
  await reload(refreshStatus);
});

els.stop.addEventListener("click", async () => {
  els.stop.disabled = true;
  $("state-detail").textContent = "Stopping after the current batch…";
  try {
    await api.post("/api/v1/sync/stop");
  } catch (err) {
    failed(err);
  }
  await reload(refreshStatus, refreshHistory);
});

async function main() {
  let settings;
  try {
    settings = await (await fetch("/config.json")).json();
  } catch {
    setProblem("The dashboard server cannot be reached.");
    return;
  }
  $("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const token = $("token-input").value.trim();
    if (token) connect(settings.apiUrl, token);
  });
  const token = settings.token ?? sessionStorage.getItem(TOKEN_KEY);
  if (!token) {
    renderState(els, null, null);
    els.pill.textContent = "Token needed";
    $("token-form").hidden = false;
    return;
  }
  await connect(settings.apiUrl, token);
}

main();
