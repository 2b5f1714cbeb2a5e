/** `--source-ip`: single addresses, ranges (also across octets), lists, and what is rejected. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { SOURCE_ADDRESSES_MAX } from "../../../src/bench/limits.ts";
import {
  formatIpv4,
  parseIpv4,
  parseSourceAddresses,
  type SourceAddresses,
  sourceAddressAt,
} from "../../../src/bench/source-ip.ts";

function parsed(text: string): SourceAddresses {
  const result = parseSourceAddresses(text);
  assert.ok(result.ok, result.ok ? "" : result.problem);
  return result.value;
}

function problem(text: string): string {
  const result = parseSourceAddresses(text);
  assert.ok(!result.ok, `${text} should be rejected`);
  return result.problem;
}

describe("parsing", () => {
  test("a single address", () => {
    const addresses = parsed("127.0.0.2");
    assert.equal(addresses.count, 1);
    assert.equal(sourceAddressAt(addresses, 0), "127.0.0.2");
    assert.equal(sourceAddressAt(addresses, 5), "127.0.0.2");
  });

  test("a range is inclusive and used round-robin", () => {
    const addresses = parsed("127.0.0.2-127.0.0.50");
    assert.equal(addresses.count, 49);
    assert.equal(sourceAddressAt(addresses, 0), "127.0.0.2");
    assert.equal(sourceAddressAt(addresses, 48), "127.0.0.50");
    assert.equal(sourceAddressAt(addresses, 49), "127.0.0.2");
  });

  test("a range may cross octets: more than 255 hosts", () => {
    const addresses = parsed("127.0.0.250-127.0.2.10");
    assert.equal(addresses.count, 6 + 256 + 11);
    assert.equal(sourceAddressAt(addresses, 5), "127.0.0.255");
    assert.equal(sourceAddressAt(addresses, 6), "127.0.1.0");
    assert.equal(sourceAddressAt(addresses, 272), "127.0.2.10");
  });

  test("a comma-separated list of addresses and ranges, with spaces", () => {
    const addresses = parsed("127.0.0.2, 127.0.1.1-127.0.1.2");
    assert.equal(addresses.count, 3);
    assert.deepEqual(
      [0, 1, 2, 3].map((i) => sourceAddressAt(addresses, i)),
      ["127.0.0.2", "127.0.1.1", "127.0.1.2", "127.0.0.2"],
    );
  });

  test("invalid addresses and ranges are named", () => {
    assert.match(problem("127.0.0"), /"127.0.0" is not an IPv4 address/);
    assert.match(problem("127.0.0.256"), /"127.0.0.256" is not an IPv4 address/);
    assert.match(problem("127.0.0.01"), /not an IPv4 address/);
    assert.match(problem("::1"), /not an IPv4 address/);
    assert.match(problem("localhost"), /not an IPv4 address/);
    assert.match(problem("127.0.0.2-x"), /"x" is not an IPv4 address/);
    assert.match(problem("127.0.0.9-127.0.0.2"), /ends before it starts/);
    assert.match(problem("127.0.0.1,,127.0.0.2"), /empty entry/);
    assert.match(problem(""), /empty entry/);
  });

  test(`at most ${SOURCE_ADDRESSES_MAX} addresses`, () => {
    assert.equal(parsed("127.0.0.0-127.0.255.255").count, SOURCE_ADDRESSES_MAX);
    assert.match(problem("127.0.0.0-127.1.0.0"), /more than 65536 addresses/);
  });
});

test("parseIpv4 and formatIpv4 are inverses", () => {
  fc.assert(
    fc.property(fc.ipV4(), (text) => {
      const value = parseIpv4(text);
      assert.ok(value !== null && value >= 0 && value <= 0xffff_ffff, text);
      assert.equal(formatIpv4(value), text);
    }),
  );
});

test("every client index maps into the listed addresses", () => {
  const addresses = parsed("10.0.0.1-10.0.1.44,192.0.2.7");
  const all = new Set<string>();
  for (let i = 0; i < addresses.count * 2; i++) all.add(sourceAddressAt(addresses, i));
  assert.equal(all.size, addresses.count);
  assert.ok(all.has("192.0.2.7") && all.has("10.0.1.44") && all.has("10.0.0.255"));
});
