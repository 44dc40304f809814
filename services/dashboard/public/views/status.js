// The status indicator: Idle, Syncing or Error at a glance, with one line saying why.
import { ago } from "../dom.js";

/**
 * @param {{pill: HTMLElement, detail: HTMLElement, start: HTMLButtonElement, stop: HTMLButtonElement}} els
 * @param {any} status  GET /api/v1/sync/status (or a `status` event: {state, run})
 * @param {string | null} problem  what keeps the page from the API, if anything
 */
export function renderState(els, status, problem) {
  const { pill, detail, start, stop } = els;
  let label = "Idle";
  let kind = "idle";
  let line = "";
  const run = status?.run;
  const failedTables = (status?.tables ?? []).filter((t) => t.status === "error");
  if (problem) {
    [label, kind, line] = ["Error", "error", problem];
  } else if (!status) {
    [label, kind, line] = ["Connecting…", "unknown", ""];
  } else if (status.state === "running") {
    [label, kind] = ["Syncing", "syncing"];
    line = `Run started ${ago(run?.started_at)} · ${run?.direction ?? ""}`;
  } else if (status.state === "failed") {
    [label, kind] = ["Error", "error"];
    line = `Last run failed ${ago(run?.completed_at)}: ${run?.error ?? "see history"}`;
  } else if (status.realtime?.failed) {
    [label, kind] = ["Error", "error"];
    line = `Realtime streaming failed: ${status.realtime.failed}`;
  } else if (failedTables.length > 0) {
    [label, kind] = ["Error", "error"];
    line = `${failedTables.map((t) => t.name).join(", ")}: ${failedTables[0].error ?? "error"}`;
  } else if (status.state === "idle") {
    line = "No run yet.";
  } else {
    line = `Last run ${status.state} ${ago(run?.completed_at)}`;
    if (status.state === "completed") kind = "ok";
  }
  if (status && status.connected === false && !problem) {
    line = "Waiting for the databases (see /ready on the sync service).";
  }
  pill.textContent = label;
  pill.className = `pill pill-${kind}`;
  pill.dataset.state = problem ? "error" : status?.state ?? "unknown";
  detail.textContent = line;
  const running = status?.state === "running";
  start.disabled = Boolean(problem) || !status || running;
  stop.disabled = Boolean(problem) || !running;
}
