/**
 * One error type with stable string codes. The code decides the HTTP status and the WebSocket
 * error code, here and nowhere else; internal details are logged, never sent to clients.
 */

export const ERROR_CODES = {
  bad_request: { status: 400, ws: "bad_request", text: "The request is malformed." },
  invalid_json: { status: 400, ws: "bad_request", text: "The body is not valid JSON." },
  validation_failed: {
    status: 400,
    ws: "bad_request",
    text: "A value does not fit the table's columns.",
  },
  unauthorized: { status: 401, ws: "unauthorized", text: "A valid token is required." },
  forbidden: { status: 403, ws: "forbidden", text: "The token does not grant this bucket." },
  not_found: { status: 404, ws: "not_found", text: "No such table, row or route." },
  conflict: { status: 409, ws: "bad_request", text: "The row changed since you read it." },
  payload_too_large: { status: 413, ws: "bad_request", text: "The body or frame is too large." },
  cursor_expired: {
    status: 410,
    ws: "cursor_expired",
    text: "The cursor is older than the retained history.",
  },
  rate_limited: { status: 429, ws: "rate_limited", text: "Too many requests; slow down." },
  method_not_allowed: {
    status: 405,
    ws: "bad_request",
    text: "This path does not take this method; see the Allow header.",
  },
  unavailable: { status: 503, ws: "internal", text: "A dependency is unreachable; retry later." },
  overloaded: {
    status: 503,
    ws: "rate_limited",
    text: "The server is busy; retry after the Retry-After delay.",
  },
  internal: { status: 500, ws: "internal", text: "Something went wrong on our side." },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;
export type WsErrorCode = (typeof ERROR_CODES)[ErrorCode]["ws"];

export class SyncError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string = ERROR_CODES[code].text,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = "SyncError";
  }

  get status(): number {
    return ERROR_CODES[this.code].status;
  }

  get wsCode(): WsErrorCode {
    return ERROR_CODES[this.code].ws;
  }

  /** The JSON body of SPEC §5: `{"error":{"code","message","details"}}`. */
  toBody(): { error: { code: ErrorCode; message: string; details?: unknown } } {
    const error: { code: ErrorCode; message: string; details?: unknown } = {
      code: this.code,
      message: this.message,
    };
    if (this.details !== undefined) error.details = this.details;
    return { error };
  }
}

/** Any thrown value as a SyncError; unknown failures become `internal` with a generic message. */
export function asSyncError(err: unknown): SyncError {
  return err instanceof SyncError ? err : new SyncError("internal");
}
