import assert from "node:assert/strict";
import { test } from "node:test";
import { parsePlainToken } from "../../../../../src/broker/kafka/sasl/plain.ts";

const token = (text: string) => Buffer.from(text, "utf8");

test("PLAIN: user and password, with or without the same authorization id", () => {
  assert.deepEqual(parsePlainToken(token("\0alice\0s3cret")), {
    ok: true,
    username: "alice",
    password: "s3cret",
  });
  assert.deepEqual(parsePlainToken(token("alice\0alice\0pä ss")), {
    ok: true,
    username: "alice",
    password: "pä ss",
  });
});

test("PLAIN: refusals name what is wrong", () => {
  const cases: Array<[Buffer, RegExp]> = [
    [token("alice\0secret"), /expected 3 tokens/],
    [token("\0alice\0secret\0extra"), /expected 3 tokens/],
    [token(""), /expected 3 tokens/],
    [token("\0\0secret"), /username not specified/],
    [token("\0alice\0"), /password not specified/],
    [token("bob\0alice\0secret"), /authorization id that is different/],
    [Buffer.from([0, 0xff, 0xfe, 0, 0x61]), /not UTF-8/],
    [Buffer.concat([token("\0alice\0"), Buffer.alloc(70_000, 0x61)]), /too long/],
  ];
  for (const [input, reason] of cases) {
    const parsed = parsePlainToken(input);
    assert.equal(parsed.ok, false, JSON.stringify(input.toString("latin1").slice(0, 40)));
    if (!parsed.ok) assert.match(parsed.reason, reason);
  }
});
