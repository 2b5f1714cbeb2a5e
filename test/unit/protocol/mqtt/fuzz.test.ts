/**
 * Random bytes and mutated valid packets: push() never throws, reports only the codec's
 * reason codes, gives the same result however the bytes are split, and everything it
 * accepts the encoder accepts too (re-encoding and re-parsing gives the same packet).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { MqttProtocolError } from "../../../../src/errors.ts";
import type { ProtocolLevel } from "../../../../src/protocol/mqtt/constants.ts";
import { encode, MqttParser } from "../../../../src/protocol/mqtt/index.ts";
import type { Packet } from "../../../../src/protocol/mqtt/packets.ts";
import { packetArbitrary } from "./arbitraries.ts";
import { parseOne } from "./helpers.ts";

const NUM_RUNS = Number(process.env.FC_NUM_RUNS ?? 1000);
const CODEC_REASON_CODES = new Set([0x81, 0x82, 0x84, 0x95]);
const MAX_PACKET_SIZE_BYTES = 4096;

interface Outcome {
  packets: Array<{ packet: Packet; version: ProtocolLevel }>;
  error: string | null;
}

/** Feeds the chunks; asserts push() never throws and any error is a codec error. */
function run(chunks: readonly Uint8Array[], version: ProtocolLevel): Outcome {
  const packets: Outcome["packets"] = [];
  const parser: MqttParser = new MqttParser(
    (packet) => packets.push({ packet, version: parser.protocolVersion }),
    MAX_PACKET_SIZE_BYTES,
  );
  parser.protocolVersion = version;
  for (const chunk of chunks) {
    let error: MqttProtocolError | null = null;
    try {
      error = parser.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    } catch (thrown) {
      assert.fail(`push() threw: ${thrown instanceof Error ? thrown.stack : String(thrown)}`);
    }
    if (error !== null) {
      assert.ok(error instanceof MqttProtocolError);
      assert.ok(
        CODEC_REASON_CODES.has(error.reasonCode),
        `reason code 0x${error.reasonCode.toString(16)}`,
      );
      return { packets, error: `0x${error.reasonCode.toString(16)} ${error.message}` };
    }
  }
  return { packets, error: null };
}

function split(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const sorted = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const cut of [...sorted, bytes.length]) {
    chunks.push(bytes.subarray(start, cut));
    start = cut;
  }
  return chunks;
}

/**
 * The whole-chunk result must not depend on chunking, and each accepted packet must be one
 * the encoder accepts and that parses back to itself.
 */
function checkInvariants(bytes: Uint8Array, cuts: readonly number[], version: ProtocolLevel): void {
  const whole = run([bytes], version);
  const pieces = run(split(bytes, cuts), version);
  assert.deepEqual(pieces, whole);
  for (const { packet, version: packetVersion } of whole.packets) {
    assert.deepEqual(parseOne(encode(packet, packetVersion), packetVersion), packet);
  }
}

const version = fc.constantFrom<ProtocolLevel>(3, 4, 5);
const cuts = fc.array(fc.nat(), { maxLength: 8 });

/** Bytes that look like MQTT: a real type/flags byte and a small remaining length. */
const plausiblePacket = fc
  .tuple(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 40 }))
  .map(([first, body]) => Uint8Array.from([first, body.length, ...body]));

type Mutation =
  | { kind: "flip"; position: number; bit: number }
  | { kind: "truncate"; length: number }
  | { kind: "set"; position: number; value: number }
  | { kind: "insert"; position: number; value: number }
  | { kind: "delete"; position: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constant("flip" as const),
    position: fc.nat(),
    bit: fc.integer({ min: 0, max: 7 }),
  }),
  fc.record({ kind: fc.constant("truncate" as const), length: fc.nat() }),
  fc.record({
    kind: fc.constant("set" as const),
    position: fc.nat(),
    value: fc.integer({ min: 0, max: 255 }),
  }),
  fc.record({
    kind: fc.constant("insert" as const),
    position: fc.nat(),
    value: fc.integer({ min: 0, max: 255 }),
  }),
  fc.record({ kind: fc.constant("delete" as const), position: fc.nat() }),
);

function mutate(bytes: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  const out = [...bytes];
  for (const change of mutations) {
    if (out.length === 0) break;
    switch (change.kind) {
      case "flip":
        out[change.position % out.length] ^= 1 << change.bit;
        break;
      case "truncate":
        out.length = change.length % out.length;
        break;
      case "set":
        out[change.position % out.length] = change.value;
        break;
      case "insert":
        out.splice(change.position % (out.length + 1), 0, change.value);
        break;
      case "delete":
        out.splice(change.position % out.length, 1);
        break;
    }
  }
  return Uint8Array.from(out);
}

describe("fuzz: push() never throws", () => {
  test("random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), cuts, version, (bytes, cutPoints, level) => {
        checkInvariants(bytes, cutPoints, level);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  test("random bodies behind every first byte", () => {
    fc.assert(
      fc.property(
        fc.array(plausiblePacket, { minLength: 1, maxLength: 4 }),
        cuts,
        version,
        (packets, cutPoints, level) => {
          checkInvariants(Buffer.concat(packets), cutPoints, level);
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });

  test("mutated valid packets (bit flips, truncation, length and byte changes)", () => {
    const streams = version.chain((level) =>
      fc.tuple(
        fc.constant(level),
        fc.array(packetArbitrary(level), { minLength: 1, maxLength: 3 }),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
      ),
    );
    fc.assert(
      fc.property(streams, cuts, ([level, packets, mutations], cutPoints) => {
        const bytes = Buffer.concat(packets.map((packet) => encode(packet, level)));
        checkInvariants(mutate(bytes, mutations), cutPoints, level);
      }),
      { numRuns: NUM_RUNS },
    );
  });
});

describe("fuzz: bounded memory", () => {
  test("a declared 200 MB packet fails at its fixed header, before any body is buffered", () => {
    const remainingLength = 200 * 1024 * 1024;
    const header = Buffer.from([0x30, ...encodeVarint(remainingLength)]);
    const before = process.memoryUsage().arrayBuffers;
    const parser = new MqttParser(() => assert.fail("no packet expected"), 1024 * 1024);
    let error: MqttProtocolError | null = null;
    for (const byte of header) {
      assert.equal(error, null, "the error comes only once the length is known");
      error = parser.push(Buffer.from([byte]));
    }
    assert.equal(error?.reasonCode, 0x95);
    assert.match(error?.message ?? "", /exceeds the maximum packet size/);
    assert.ok(process.memoryUsage().arrayBuffers - before < 1024 * 1024, "nothing was buffered");
    assert.equal(parser.push(Buffer.alloc(64 * 1024)), error);
  });

  test("the largest remaining length (268,435,455) is rejected the same way", () => {
    const { error } = run([Uint8Array.from([0x30, 0xff, 0xff, 0xff, 0x7f])], 4);
    assert.match(error ?? "", /^0x95/);
  });
});

function encodeVarint(value: number): number[] {
  const out: number[] = [];
  do {
    let byte = value % 128;
    value = Math.floor(value / 128);
    if (value > 0) byte |= 0x80;
    out.push(byte);
  } while (value > 0);
  return out;
}
