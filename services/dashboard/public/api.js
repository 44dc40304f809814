// The sync control API (SPEC §8.3) from the page: fetch with the bearer token, errors sorted
// into what the operator must do about them, and the event stream.

export class ApiError extends Error {
  /**
   * @param {"down" | "unauthorized" | "forbidden" | "http"} kind
   * @param {string} message
   * @param {number} status
   * @param {string[]} problems
   */
  constructor(kind, message, status = 0, problems = []) {
    super(message);
    this.kind = kind;
    this.status = status;
    this.problems = problems;
  }
}

export class Api {
  /** @param {string} baseUrl @param {string} token */
  constructor(baseUrl, token) {
    this.baseUrl = baseUrl;
    this.token = token;
  }

  /**
   * @param {string} method
   * @param {string} path
   * @param {unknown} [body]
   * @returns {Promise<any>}
   */
  async request(method, path, body) {
    let res;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new ApiError("down", `The sync service at ${this.baseUrl} cannot be reached.`);
    }
    const data = await res.json().catch(() => null);
    if (res.ok) return data;
    const error = data?.error ?? {};
    const message = error.message ?? `HTTP ${res.status}`;
    if (res.status === 401) throw new ApiError("unauthorized", message, 401);
    if (res.status === 403) throw new ApiError("forbidden", message, 403);
    throw new ApiError("http", message, res.status, error.details?.problems ?? []);
  }

  get(path) {
    return this.request("GET", path);
  }
  post(path, body) {
    return this.request("POST", path, body);
  }
  put(path, body) {
    return this.request("PUT", path, body);
  }

  /**
   * The SSE stream; the browser reconnects by itself, sending Last-Event-ID.
   * @param {Record<string, (data: any) => void>} handlers
   * @param {() => void} onError
   * @param {() => void} onOpen
   */
  stream(handlers, onError, onOpen) {
    const url = `${this.baseUrl}/api/v1/sync/stream?token=${encodeURIComponent(this.token)}`;
    const source = new EventSource(url);
    for (const [type, fn] of Object.entries(handlers)) {
      source.addEventListener(type, (e) => fn(JSON.parse(/** @type {MessageEvent} */ (e).data)));
    }
    source.addEventListener("error", onError);
    source.addEventListener("open", onOpen);
    return source;
  }
}
