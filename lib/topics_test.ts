import assert from "node:assert/strict";
import { tableInfo } from "../tests/support/tables.ts";
import {
  catalogTableTopic,
  catalogTopic,
  envelopeTopic,
  eventTopic,
  isTableTopic,
} from "./topics.ts";

Deno.test("topics follow SPEC §3 and replace characters Kafka refuses", () => {
  assert.equal(
    envelopeTopic("synchub", { name: "pg", schema: "public", db: "app", table: "todos" }),
    "synchub.pg.public.todos",
  );
  assert.equal(
    envelopeTopic("synchub", { name: "my", schema: null, db: "shop", table: "order lines" }),
    "synchub.my.shop.order_lines",
  );
});

Deno.test("a table has the same topic named by the catalog or by its envelopes", () => {
  const pg = tableInfo("public.todos", { id: "uuid" });
  assert.equal(
    catalogTableTopic("p", pg),
    envelopeTopic("p", { name: "pg", schema: "public", db: "x", table: "todos" }),
  );
  const my = { ...tableInfo("shop.orders", { id: "integer" }), source: "my" };
  assert.equal(
    catalogTableTopic("p", my),
    envelopeTopic("p", { name: "my", schema: null, db: "shop", table: "orders" }),
  );
});

Deno.test("the hub's own topics are never table topics", () => {
  assert.equal(isTableTopic("synchub", "synchub.pg.public.todos"), true);
  assert.equal(isTableTopic("synchub", catalogTopic("synchub")), false);
  assert.equal(isTableTopic("synchub", eventTopic("synchub", "user.created")), false);
  assert.equal(isTableTopic("synchub", "other.pg.public.todos"), false);
});
