/**
 * Every error code in src/errors.ts is documented in docs/errors.md, and codes follow one
 * naming scheme. A code that disappears from src/errors.ts must stay documented, marked retired,
 * so nobody reuses it for something else.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { ErrorCode } from "../../src/errors.ts";

const docs = readFileSync(new URL("../../docs/errors.md", import.meta.url), "utf8");
const codes = Object.entries(ErrorCode);

/** Codes with their own heading ("### RMQ_ERR_X") in docs/errors.md, heading text by code. */
function documentedHeadings(): Map<string, string> {
  const headings = new Map<string, string>();
  for (const match of docs.matchAll(/^#{2,4} .*?`?(RMQ_ERR_[A-Z0-9_]+)`?(.*)$/gm)) {
    headings.set(match[1], match[0]);
  }
  return headings;
}

test("there are error codes to check", () => {
  assert.ok(codes.length >= 8, `found ${codes.length}`);
});

test("each code is RMQ_ERR_ + its key, and unique", () => {
  for (const [key, code] of codes) assert.equal(code, `RMQ_ERR_${key}`);
  assert.equal(new Set(codes.map(([, code]) => code)).size, codes.length);
});

test("every code has a heading in docs/errors.md", () => {
  const headings = documentedHeadings();
  const missing = codes.map(([, code]) => code).filter((code) => !headings.has(code));
  assert.deepEqual(missing, [], `document these in docs/errors.md: ${missing.join(", ")}`);
});

test("every code has a row in the summary table of docs/errors.md", () => {
  for (const [, code] of codes) {
    assert.match(docs, new RegExp(`^\\| \`${code}\` \\|`, "m"), `no table row for ${code}`);
  }
});

test("every code's section says what it means and what to do", () => {
  const sections = docs.split(/^(?=#{2,4} )/m);
  for (const [, code] of codes) {
    const section = sections.find((s) => s.split("\n")[0].includes(code));
    assert.ok(section !== undefined, code);
    assert.match(section, /\*\*Meaning:\*\*/, `${code}: meaning`);
    assert.match(section, /\*\*Typical causes?:\*\*/, `${code}: typical cause`);
    assert.match(section, /\*\*What to do:\*\*/, `${code}: what to do`);
    if (code.startsWith("RMQ_ERR_MQTT_")) {
      assert.match(section, /\*\*Reason code sent:\*\* .*0x[0-9A-F]{2}/, `${code}: reason code`);
    }
  }
});

test("documented codes that no longer exist are marked retired", () => {
  const current = new Set<string>(codes.map(([, code]) => code));
  for (const [code, heading] of documentedHeadings()) {
    if (!current.has(code)) assert.match(heading, /retired/i, `${code} is gone from src/errors.ts`);
  }
});
