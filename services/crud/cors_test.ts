import assert from "node:assert/strict";
import { DEV_ORIGINS, originMatcher } from "./cors.ts";

Deno.test("origins: exact, any, and any port of a host", () => {
  const exact = originMatcher(["https://app.example"]);
  assert.ok(exact("https://app.example"));
  assert.ok(!exact("https://app.example:8443"));
  assert.ok(!exact("http://app.example"));
  assert.ok(originMatcher(["*"])("https://anything.example"));
  const dev = originMatcher(DEV_ORIGINS);
  for (const ok of ["http://localhost:28500", "http://127.0.0.1:3000", "http://localhost"]) {
    assert.ok(dev(ok), ok);
  }
  for (
    const no of ["http://localhost.evil.example", "http://localhost:80x", "https://localhost:3000"]
  ) {
    assert.ok(!dev(no), no);
  }
  assert.ok(!originMatcher([])("http://localhost:3000"));
});
