/**
 * Secrets in the configuration the control API shows and takes (SPEC §8.3): database and state
 * store URLs' passwords and `server.auth_token` go out as `"***"`; a `"***"` that comes back keeps
 * the stored secret. Pure functions over plain JSON.
 */
import type { SyncConfig } from "../config.ts";

export const REDACTED = "***";
type Json = Record<string, unknown>;

/**
 * scheme://user:password@host… — the password is what goes: up to the last `@`, so one written
 * with an unencoded `@` is hidden whole (a path with an `@` hides more than needed, never less).
 */
const WITH_PASSWORD = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/[^:/@?#]*:)(.*)(@[^@]*)$/;

const URL_PATHS = [["databases", "local", "url"], ["databases", "cloud", "url"], [
  "state_storage",
  "url",
]] as const;
const TOKEN_PATH = ["server", "auth_token"] as const;

export function redactUrl(url: string): string {
  const m = WITH_PASSWORD.exec(url);
  return m && m[2] !== "" ? `${m[1]}${REDACTED}${m[3]}` : url;
}

/** The configuration as the API shows it. */
export function redactConfig(config: SyncConfig): Json {
  const out = structuredClone(config) as unknown as Json;
  for (const path of URL_PATHS) {
    const v = get(out, path);
    if (typeof v === "string") set(out, path, redactUrl(v));
  }
  if (typeof get(out, TOKEN_PATH) === "string") set(out, TOKEN_PATH, REDACTED);
  return out;
}

/**
 * `input` with every `"***"` replaced by the stored secret; a `"***"` with nothing stored to keep
 * is a problem (named by its path).
 */
export function restoreSecrets(input: unknown, current: SyncConfig, problems: string[]): unknown {
  if (!isObject(input)) return input;
  const out = structuredClone(input);
  const stored = current as unknown as Json;
  for (const path of URL_PATHS) {
    const v = get(out, path);
    if (typeof v !== "string" || !v.includes(REDACTED)) continue;
    const old = get(stored, path);
    if (v === REDACTED) {
      if (typeof old === "string") set(out, path, old);
      else problems.push(`${path.join(".")}: "***" keeps a stored value, and none is stored`);
      continue;
    }
    const m = WITH_PASSWORD.exec(v);
    if (!m || m[2] !== REDACTED) continue;
    const oldPassword = typeof old === "string" ? WITH_PASSWORD.exec(old)?.[2] : undefined;
    if (oldPassword === undefined) {
      problems.push(`${path.join(".")}: "***" keeps the stored password, and none is stored`);
    } else {
      set(out, path, `${m[1]}${oldPassword}${m[3]}`);
    }
  }
  if (get(out, TOKEN_PATH) === REDACTED) {
    const old = get(stored, TOKEN_PATH);
    if (typeof old === "string") set(out, TOKEN_PATH, old);
    else problems.push(`${TOKEN_PATH.join(".")}: "***" keeps the stored token, and none is stored`);
  }
  return out;
}

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function get(root: unknown, path: readonly string[]): unknown {
  let at: unknown = root;
  for (const k of path) at = isObject(at) ? at[k] : undefined;
  return at;
}

function set(root: Json, path: readonly string[], value: unknown): void {
  let at: unknown = root;
  for (const k of path.slice(0, -1)) at = isObject(at) ? at[k] : undefined;
  if (isObject(at)) at[path.at(-1)!] = value;
}
