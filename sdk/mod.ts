/**
 * SyncHub's client SDK, for browsers and Deno: local tables kept in sync with the hub, writable
 * offline. See sdk/README.md.
 */
export { SyncHub, Table } from "./sync_hub.ts";
export type { SyncHubOptions } from "./sync_hub.ts";
export { indexedDbStorage } from "./storage/indexeddb.ts";
export { fileStorage } from "./storage/file.ts";
export { memoryStorage } from "./storage/memory.ts";
export type { StorageWrite, StoreName, SyncStorage } from "./storage/storage.ts";
export { authSession, signIn } from "./auth.ts";
export type { AuthSessionOptions, AuthTokens, TokenProvider, TokenSource } from "./auth.ts";
export { SyncHubError } from "./errors.ts";
export type * from "./types.ts";
