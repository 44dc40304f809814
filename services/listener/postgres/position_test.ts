import assert from "node:assert/strict";
import { changePosition, formatLsn, parseLsn } from "./position.ts";

Deno.test("LSNs parse and format", () => {
  assert.equal(parseLsn("16/B374D848"), 0x16B374D848n);
  assert.equal(parseLsn("00000000/016B3748"), 0x16B3748n);
  assert.equal(formatLsn(0x16B374D848n), "16/B374D848");
  assert.equal(formatLsn(parseLsn("0/0")), "0/0");
  assert.throws(() => parseLsn("16-B374"));
});

Deno.test("positions sort as strings in commit order, then by index", () => {
  const ordered = [
    changePosition(0x9FFFFFFFn, 2),
    changePosition(0xA0000000n, 1),
    changePosition(0xA0000000n, 2),
    changePosition(0xA0000000n, 10),
    changePosition(0x1_00000000n, 1),
  ];
  assert.deepEqual([...ordered].sort(), ordered);
});
