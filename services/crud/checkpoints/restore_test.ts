import assert from "node:assert/strict";
import { tableInfo } from "../../../tests/support/tables.ts";
import { differs, writable } from "./restore.ts";
import { acceptsGzip } from "./routes.ts";

const todos = tableInfo("public.todos", {
  id: "uuid",
  bucket: "string",
  title: "string",
  tags: "json",
  version: "integer",
  updated_at: "timestamp",
});

Deno.test("a restore compares data, not the columns the row store manages", () => {
  const image = { id: "1", bucket: "a", title: "t", tags: { x: [1] }, version: 3, updated_at: "x" };
  assert.equal(differs(todos, { ...image, version: 9, updated_at: "y" }, image), false);
  assert.equal(differs(todos, { ...image, title: "u" }, image), true);
  assert.equal(differs(todos, { ...image, tags: { x: [2] } }, image), true);
  // A column the checkpoint did not have (added since) is not a difference.
  const { tags: _, ...older } = image;
  assert.equal(differs(todos, image, older), false);
});

Deno.test("a restore writes today's columns, the key only when inserting", () => {
  const image = { id: "1", bucket: "a", title: "t", version: 3, updated_at: "x", dropped: 1 };
  assert.deepEqual(writable(todos, image, true), { id: "1", bucket: "a", title: "t" });
  assert.deepEqual(writable(todos, image, false), { bucket: "a", title: "t" });
});

Deno.test("gzip is sent only to clients that accept it", () => {
  assert.equal(acceptsGzip("gzip, deflate, br"), true);
  assert.equal(acceptsGzip("br;q=1.0, gzip;q=0.5"), true);
  assert.equal(acceptsGzip("gzip;q=0"), false);
  assert.equal(acceptsGzip("identity"), false);
  assert.equal(acceptsGzip(undefined), false);
  assert.equal(acceptsGzip("*"), true);
});
