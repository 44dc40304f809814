// The demo to-do app: plain DOM on the SyncHub SDK. Signs in (or takes the dev token), keeps the
// to-dos in IndexedDB, works offline, and says when a write was rolled back.
// Loaded by URL at run time: the SDK bundle the hub serves (and the service worker caches).
const { authSession, indexedDbStorage, signIn, SyncHub } = await import(
  new URL("/sdk/synchub.js", location.href).href
);

const $ = (id) => document.getElementById(id);
const AUTH_KEY = "synchub-demo-auth";
const params = new URLSearchParams(location.search);
// The gateway: ?ws=… (kept for offline reloads), else port 8080 of this host.
const wsUrl = params.get("ws") ?? localStorage.getItem("synchub-demo-ws") ??
  `${location.protocol === "https:" ? "wss" : "ws"}://${location.hostname}:8080/v1/ws`;
localStorage.setItem("synchub-demo-ws", wsUrl);

// One store per tab, kept across reloads: two tabs never share a queue.
let tab = sessionStorage.getItem("synchub-demo-tab");
if (!tab) {
  sessionStorage.setItem(
    "synchub-demo-tab",
    tab = crypto.getRandomValues(new Uint32Array(1))[0].toString(36),
  );
}

if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/demo/sw.js", { scope: "/demo/" }).catch((err) =>
    notice(`offline mode unavailable: ${err.message}`)
  );
}

const saved = () => JSON.parse(localStorage.getItem(AUTH_KEY) ?? "null");
const save = (value) =>
  value ? localStorage.setItem(AUTH_KEY, JSON.stringify(value)) : localStorage.removeItem(AUTH_KEY);

let hub;

function start() {
  const auth = saved();
  if (!auth) return showSignIn();
  const token = auth.kind === "dev" ? auth.token : authSession({
    url: location.origin,
    load: () => saved()?.tokens ?? null,
    save: (tokens) => save(tokens ? { kind: "session", tokens } : null),
  });
  hub = new SyncHub({
    url: location.origin,
    wsUrl,
    token,
    storage: indexedDbStorage(`demo-${tab}`),
  });
  globalThis.hub = hub; // for the curious, in the console
  $("sign-in").hidden = true;
  $("app").hidden = false;
  $("sign-out").hidden = false;

  const showStatus = (s) => {
    $("status").textContent = s;
    $("status").className = `status ${s}`;
  };
  showStatus(hub.status);
  hub.on("status", showStatus);
  const showPending = (n) => ($("pending").textContent = `${n} pending`);
  showPending(hub.pendingCount());
  hub.on("pending", showPending);
  hub.on(
    "conflict",
    (e) =>
      notice(
        `Your change to “${
          e.server?.title ?? e.local?.title ?? "a to-do"
        }” was rolled back: someone changed it first.`,
      ),
  );
  hub.on("error", (e) => {
    if (e.rolledBack) notice(`A change was rolled back: ${e.message}`);
    else if (e.code === "unauthorized") notice("Please sign in again.");
  });

  const todos = hub.table("public.todos");
  todos.subscribe((rows, info) => {
    render(rows);
    const at = hub.lastSyncedAt();
    $("synced").textContent = info.synced
      ? (at ? `last synced ${at.toLocaleTimeString()}` : "")
      : "loading…";
  });
  $("add-form").onsubmit = async (ev) => {
    ev.preventDefault();
    const title = $("new-title").value.trim();
    if (!title) return;
    $("new-title").value = "";
    await todos.insert({ title, done: false });
  };

  function render(rows) {
    const list = $("list");
    const editing = list.querySelector("input.edit");
    if (editing) return; // do not pull the field from under the user's cursor
    list.replaceChildren(
      ...rows
        .slice()
        .sort((a, b) =>
          String(a.updated_at ?? "\uffff").localeCompare(String(b.updated_at ?? "\uffff")) ||
          String(a.id).localeCompare(String(b.id))
        )
        .map((row) => item(row)),
    );
  }

  function item(row) {
    const li = document.createElement("li");
    li.dataset.id = row.id;
    li.dataset.testid = "item";
    li.className = `${row.done ? "done" : ""} ${row.version === undefined ? "pending" : ""}`;
    const box = Object.assign(document.createElement("input"), {
      type: "checkbox",
      checked: !!row.done,
    });
    box.dataset.testid = "toggle";
    box.onchange = () => todos.update(row.id, { done: box.checked });
    const title = Object.assign(document.createElement("span"), {
      className: "title",
      textContent: row.title,
    });
    title.dataset.testid = "title";
    title.onclick = () => {
      const input = Object.assign(document.createElement("input"), {
        className: "edit",
        value: row.title,
      });
      input.dataset.testid = "edit-input";
      const done = async (keep) => {
        input.onblur = null;
        if (keep && input.value.trim() && input.value !== row.title) {
          input.remove();
          await todos.update(row.id, { title: input.value.trim() });
        } else input.remove();
        render(todos.rows());
      };
      input.onkeydown = (e) => {
        if (e.key === "Enter") done(true);
        if (e.key === "Escape") done(false);
      };
      input.onblur = () => done(true);
      title.replaceWith(input);
      input.focus();
    };
    const del = Object.assign(document.createElement("button"), {
      textContent: "Delete",
      title: "Delete",
    });
    del.dataset.testid = "delete";
    del.onclick = () => todos.delete(row.id);
    li.append(box, title, del);
    return li;
  }
}

function showSignIn() {
  $("sign-in").hidden = false;
  $("app").hidden = true;
  $("sign-out").hidden = true;
  fetch("/demo/dev-token", { method: "HEAD" }).then(
    (r) => ($("dev-token").hidden = !r.ok),
    () => {},
  );
}

async function signInWith(register) {
  const form = new FormData($("sign-in-form"));
  const email = String(form.get("email")), password = String(form.get("password"));
  $("sign-in-error").textContent = "";
  try {
    if (register) {
      const res = await fetch("/v1/auth/register", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email, password }),
      });
      if (!res.ok) throw new Error((await res.json()).error?.message ?? `HTTP ${res.status}`);
    }
    save({ kind: "session", tokens: await signIn(location.origin, email, password) });
    start();
  } catch (err) {
    $("sign-in-error").textContent = err.message;
  }
}

$("sign-in-form").onsubmit = (ev) => {
  ev.preventDefault();
  signInWith(false);
};
$("register").onclick = () => $("sign-in-form").reportValidity() && signInWith(true);
$("dev-token").onclick = async () => {
  const res = await fetch("/demo/dev-token");
  if (!res.ok) {
    return ($("sign-in-error").textContent = "no dev token here (only in deno task dev)");
  }
  save({ kind: "dev", token: (await res.json()).token });
  start();
};
$("sign-out").onclick = async () => {
  const auth = saved();
  if (auth?.kind === "session") {
    fetch("/v1/auth/logout", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ refresh_token: auth.tokens.refresh_token }),
    }).catch(() => {});
  }
  save(null);
  await hub?.close();
  hub = undefined;
  $("list").replaceChildren();
  showSignIn();
};

function notice(text) {
  const p = Object.assign(document.createElement("p"), { className: "notice", textContent: text });
  p.dataset.testid = "notice";
  $("notices").append(p);
  setTimeout(() => p.remove(), 8000);
}

start();
