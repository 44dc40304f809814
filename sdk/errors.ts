/** The SDK's one error type; `code` is stable (the hub's error codes, plus `offline`, `closed`). */
export class SyncHubError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status?: number,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = "SyncHubError";
  }
}
