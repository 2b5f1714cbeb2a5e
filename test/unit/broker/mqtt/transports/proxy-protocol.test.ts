import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseProxyHeader } from "../../../../../src/broker/mqtt/transports/proxy-protocol.ts";

const V2_SIGNATURE = Buffer.from("0d0a0d0a000d0a515549540a", "hex");

function v2(versionCommand: number, familyTransport: number, body: Buffer): Buffer {
  const length = Buffer.alloc(2);
  length.writeUInt16BE(body.length);
  return Buffer.concat([
    V2_SIGNATURE,
    Buffer.from([versionCommand, familyTransport]),
    length,
    body,
  ]);
}

describe("PROXY v1", () => {
  test("TCP4 and TCP6 give the source address; the header length is exact", () => {
    const text = "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n";
    const result = parseProxyHeader(Buffer.from(`${text}MQTT bytes`));
    assert.deepEqual(result, {
      kind: "ok",
      headerBytes: text.length,
      source: { address: "192.0.2.1", port: 56324 },
    });
    const six = parseProxyHeader(Buffer.from("PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n"));
    assert.equal(six.kind === "ok" && six.source?.address, "2001:db8::1");
  });

  test("UNKNOWN carries no address", () => {
    const result = parseProxyHeader(Buffer.from("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n"));
    assert.deepEqual(result, { kind: "ok", headerBytes: 35, source: null });
  });

  test("every prefix of a header is incomplete", () => {
    const text = Buffer.from("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n");
    for (let n = 1; n < text.length; n++) {
      assert.equal(parseProxyHeader(text.subarray(0, n)).kind, "incomplete", `${n} bytes`);
    }
  });

  for (const bad of [
    "PROXY TCP4 192.0.2.1 198.51.100.2 56324\r\n",
    "PROXY TCP4 2001:db8::1 198.51.100.2 1 2\r\n",
    "PROXY TCP6 192.0.2.1 198.51.100.2 1 2\r\n",
    "PROXY TCP4 192.0.2.1 198.51.100.2 65536 2\r\n",
    "PROXY TCP4 192.0.2.1 198.51.100.2 01 2\r\n",
    "PROXY UDP4 192.0.2.1 198.51.100.2 1 2\r\n",
    "PROXY TCP4 host.example 198.51.100.2 1 2\r\n",
    `PROXY TCP4 ${"9".repeat(110)}`,
    "GET / HTTP/1.1\r\n",
    "\x10\x0c\x00\x04MQTT",
  ]) {
    test(`refuses ${JSON.stringify(bad.slice(0, 48))}`, () => {
      assert.equal(parseProxyHeader(Buffer.from(bad, "latin1")).kind, "invalid");
    });
  }
});

describe("PROXY v2", () => {
  test("PROXY over IPv4 with a TLV after the addresses", () => {
    const body = Buffer.from([
      10, 1, 2, 3, 10, 0, 0, 1, 0xc3, 0x50, 0x07, 0x5b, 0x04, 0x00, 0x01, 0x00,
    ]);
    const header = v2(0x21, 0x11, body);
    const result = parseProxyHeader(Buffer.concat([header, Buffer.from("rest")]));
    assert.deepEqual(result, {
      kind: "ok",
      headerBytes: header.length,
      source: { address: "10.1.2.3", port: 50000 },
    });
  });

  test("PROXY over IPv6, compressed like Node writes addresses", () => {
    const body = Buffer.alloc(36);
    Buffer.from("fe800000000000000000000000000001", "hex").copy(body, 0);
    body.writeUInt16BE(1234, 32);
    const result = parseProxyHeader(v2(0x21, 0x21, body));
    assert.deepEqual(result.kind === "ok" && result.source, { address: "fe80::1", port: 1234 });
  });

  test("LOCAL, UNSPEC and UNIX carry no client address", () => {
    assert.equal(
      (parseProxyHeader(v2(0x20, 0x00, Buffer.alloc(0))) as { source: null }).source,
      null,
    );
    assert.equal(
      (parseProxyHeader(v2(0x21, 0x00, Buffer.alloc(0))) as { source: null }).source,
      null,
    );
    assert.equal(
      (parseProxyHeader(v2(0x21, 0x31, Buffer.alloc(216))) as { source: null }).source,
      null,
    );
  });

  test("incomplete until the announced length has arrived", () => {
    const header = v2(0x21, 0x11, Buffer.alloc(12));
    for (let n = 1; n < header.length; n++) {
      assert.equal(parseProxyHeader(header.subarray(0, n)).kind, "incomplete", `${n} bytes`);
    }
  });

  test("refuses a bad version, a bad command and addresses shorter than their family", () => {
    assert.equal(parseProxyHeader(v2(0x11, 0x11, Buffer.alloc(12))).kind, "invalid");
    assert.equal(parseProxyHeader(v2(0x22, 0x11, Buffer.alloc(12))).kind, "invalid");
    assert.equal(parseProxyHeader(v2(0x21, 0x11, Buffer.alloc(11))).kind, "invalid");
    assert.equal(parseProxyHeader(v2(0x21, 0x21, Buffer.alloc(35))).kind, "invalid");
  });
});
