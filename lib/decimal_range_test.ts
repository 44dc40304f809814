import assert from "node:assert/strict";
import { integerPattern } from "./decimal_range.ts";

function check(min: bigint, max: bigint, samples: string[]) {
  const re = new RegExp(`^(?:${integerPattern(min, max)})$`);
  for (const s of samples) {
    const canonical = /^(0|-?[1-9]\d*)$/.test(s);
    const inside = canonical && BigInt(s) >= min && BigInt(s) <= max;
    assert.equal(re.test(s), inside, `${s} in [${min}, ${max}]`);
  }
}

Deno.test("integer patterns match exactly the canonical integers within bounds", () => {
  const int8 = [-(2n ** 63n), 2n ** 63n - 1n] as const;
  const edges = [
    "0",
    "-0",
    "00",
    "+1",
    "1",
    "-1",
    "9",
    "10",
    "01",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "9999999999999999999",
    "10000000000000000000",
    "1e3",
    "",
    "-",
    "922337203685477580",
    "9223372036854775799",
  ];
  check(int8[0], int8[1], edges);
  check(-32768n, 32767n, [...edges, "32767", "32768", "-32768", "-32769", "32700", "4000"]);
  check(1n, 100n, ["0", "1", "100", "101", "99", "10"]);
  let seed = 3;
  const rnd = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
  const random = Array.from({ length: 3000 }, () => {
    const digits = 1 + Math.floor(rnd() * 20);
    const s = Array.from({ length: digits }, () => Math.floor(rnd() * 10)).join("");
    return (rnd() < 0.3 ? "-" : "") + s.replace(/^0+(?=\d)/, "");
  });
  check(int8[0], int8[1], random);
  check(-2147483648n, 2147483647n, random);
});
