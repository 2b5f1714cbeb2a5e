/**
 * The schema-driven codec: round trips of every request and response at every version the
 * schemas define (which includes every version the broker advertises), byte-exact vectors
 * written by hand from the protocol guide, and malformed input that must end in a
 * KafkaCodecError and nothing else.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import fc from "fast-check";
import { ApiKey, type ApiKeyValue } from "../../../../src/protocol/kafka/api-keys.ts";
import { ByteReader } from "../../../../src/protocol/kafka/byte-reader.ts";
import { ByteWriter } from "../../../../src/protocol/kafka/byte-writer.ts";
import { KafkaCodecError } from "../../../../src/protocol/kafka/codec-error.ts";
import { GENERATED_FILE, generateTypes } from "../../../../src/protocol/kafka/generate-types.ts";
import {
  decodeRequestBody,
  decodeRequestHeader,
  decodeResponseFrame,
  encodeRequestFrame,
  encodeResponseFrame,
  isKnownApiKey,
  responseHeaderVersion,
} from "../../../../src/protocol/kafka/kafka-codec.ts";
import {
  compileMessage,
  type KafkaStruct,
  type KafkaValue,
} from "../../../../src/protocol/kafka/message-codec.ts";
import {
  loadMessageSpecs,
  type MessageSpec,
  parseVersions,
} from "../../../../src/protocol/kafka/schema-spec.ts";
import { sampleStruct } from "./samples.ts";

const specs = [...loadMessageSpecs().values()];

function versionsOf(spec: MessageSpec): number[] {
  const range = parseVersions(spec.validVersions);
  return Array.from({ length: range.highest - range.lowest + 1 }, (_, i) => range.lowest + i);
}

function encode(spec: MessageSpec, version: number, value: KafkaStruct): Buffer {
  const writer = new ByteWriter();
  compileMessage(spec, version).write(writer, value);
  return writer.toBuffer();
}

function decode(spec: MessageSpec, version: number, bytes: Buffer): KafkaStruct {
  const reader = new ByteReader(bytes);
  const value = compileMessage(spec, version).read(reader);
  assert.equal(reader.remaining, 0, "the whole encoding is consumed");
  return value;
}

/** Every key of `expected` (recursively) is in `actual` with the same value. */
function assertContains(actual: KafkaValue, expected: KafkaValue, path: string): void {
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), path);
    assert.equal(actual.length, expected.length, path);
    for (const [i, item] of expected.entries()) assertContains(actual[i], item, `${path}[${i}]`);
  } else if (expected !== null && typeof expected === "object" && !Buffer.isBuffer(expected)) {
    assert.ok(actual !== null && typeof actual === "object" && !Array.isArray(actual), path);
    const struct = actual as KafkaStruct;
    for (const [key, value] of Object.entries(expected)) {
      assertContains(struct[key], value, `${path}.${key}`);
    }
  } else {
    assert.deepEqual(actual, expected, path);
  }
}

describe("round trips of every message at every version", () => {
  for (const spec of specs) {
    test(`${spec.name} ${spec.validVersions}`, () => {
      for (const version of versionsOf(spec)) {
        for (const useNull of [false, true]) {
          const value = sampleStruct(spec.fields, version, 1, useNull);
          const bytes = encode(spec, version, value);
          const decoded = decode(spec, version, bytes);
          assertContains(decoded, value, `${spec.name} v${version}`);
          assert.deepEqual(encode(spec, version, decoded), bytes, "re-encoding is identical");
        }
      }
    });
  }
});

describe("whole frames through the typed API", () => {
  const apis = Object.values(ApiKey);
  for (const apiKey of apis) {
    test(`${apiKey}: request header and body, response header and body`, () => {
      const request = specs.find((s) => s.apiKey === apiKey && s.type === "request");
      const response = specs.find((s) => s.apiKey === apiKey && s.type === "response");
      assert.ok(request !== undefined && response !== undefined);
      for (const version of versionsOf(request)) {
        const body = sampleStruct(request.fields, version, 2, false);
        const frame = Buffer.concat(encodeRequestFrame(apiKey, version, 77, "client-é", body));
        assert.equal(frame.readInt32BE(0), frame.length - 4, "size prefix");
        const reader = new ByteReader(frame, 4);
        assert.deepEqual(decodeRequestHeader(reader), {
          requestApiKey: apiKey,
          requestApiVersion: version,
          correlationId: 77,
          clientId: "client-é",
        });
        const decoded = decodeRequestBody(apiKey as ApiKeyValue, version, reader);
        assertContains(decoded as unknown as KafkaValue, body, "body");
        assert.equal(reader.remaining, 0);
      }
      for (const version of versionsOf(response)) {
        const body = sampleStruct(response.fields, version, 3, false);
        const frame = Buffer.concat(encodeResponseFrame(apiKey, version, 99, body));
        const decoded = decodeResponseFrame(apiKey, version, frame.subarray(4));
        assert.equal(decoded.correlationId, 99);
        assertContains(decoded.body as unknown as KafkaValue, body, "response");
      }
    });
  }
});

type WriterOp =
  | {
      kind: "int8" | "int16" | "uint16" | "int32" | "uint32" | "uvarint" | "float64";
      value: number;
    }
  | { kind: "int64"; value: bigint }
  | { kind: "utf8"; value: string }
  | { kind: "bytes"; value: Buffer };

/** What `op` must add, written by Node's own Buffer methods into a buffer of its own. */
function expectedBytes(op: WriterOp): Buffer {
  const out = Buffer.alloc(8);
  switch (op.kind) {
    case "int8":
      out.writeInt8(op.value);
      return out.subarray(0, 1);
    case "int16":
      out.writeInt16BE(op.value);
      return out.subarray(0, 2);
    case "uint16":
      out.writeUInt16BE(op.value);
      return out.subarray(0, 2);
    case "int32":
      out.writeInt32BE(op.value);
      return out.subarray(0, 4);
    case "uint32":
      out.writeUInt32BE(op.value);
      return out.subarray(0, 4);
    case "float64":
      out.writeDoubleBE(op.value);
      return out;
    case "int64":
      out.writeBigInt64BE(op.value);
      return out;
    case "uvarint": {
      const bytes: number[] = [];
      let value = op.value;
      while (value >= 0x80) {
        bytes.push((value % 0x80) | 0x80);
        value = Math.floor(value / 0x80);
      }
      bytes.push(value);
      return Buffer.from(bytes);
    }
    case "utf8":
      return Buffer.from(op.value, "utf8");
    case "bytes":
      return op.value;
  }
}

function applyOp(writer: ByteWriter, op: WriterOp): void {
  if (op.kind === "int64") writer.int64(op.value);
  else if (op.kind === "utf8") writer.utf8(op.value, Buffer.byteLength(op.value));
  else if (op.kind === "bytes") writer.bytes(op.value);
  else writer[op.kind](op.value);
}

const writerOp: fc.Arbitrary<WriterOp> = fc.oneof(
  fc.integer({ min: -128, max: 127 }).map((value) => ({ kind: "int8" as const, value })),
  fc.integer({ min: -32768, max: 32767 }).map((value) => ({ kind: "int16" as const, value })),
  fc.integer({ min: 0, max: 0xffff }).map((value) => ({ kind: "uint16" as const, value })),
  fc.integer().map((value) => ({ kind: "int32" as const, value })),
  fc.integer({ min: 0, max: 0xffffffff }).map((value) => ({ kind: "uint32" as const, value })),
  fc.integer({ min: 0, max: 0xffffffff }).map((value) => ({ kind: "uvarint" as const, value })),
  fc.double({ noNaN: true }).map((value) => ({ kind: "float64" as const, value })),
  fc
    .oneof(
      fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
      fc.bigInt({ min: -(2n ** 53n), max: 2n ** 53n }),
      fc.constantFrom(-1n, 0n, 2n ** 32n - 1n, 2n ** 32n, -(2n ** 32n), -(2n ** 32n) - 1n),
    )
    .map((value) => ({ kind: "int64" as const, value })),
  fc.string({ unit: "binary", maxLength: 300 }).map((value) => ({ kind: "utf8" as const, value })),
  fc
    .uint8Array({ maxLength: 3000 })
    .map((value) => ({ kind: "bytes" as const, value: Buffer.from(value) })),
);

describe("ByteWriter", () => {
  test("every write lands in order, whatever chunk boundary it meets", () => {
    fc.assert(
      fc.property(
        fc.array(writerOp, { maxLength: 400, size: "max" }),
        fc.boolean(),
        (ops, sizePrefixed) => {
          const writer = new ByteWriter(sizePrefixed);
          for (const op of ops) applyOp(writer, op);
          const body = Buffer.concat(ops.map(expectedBytes));
          const written = Buffer.concat(writer.finish());
          if (sizePrefixed) assert.equal(written.readInt32BE(0), body.length, "size prefix");
          assert.deepEqual(written.subarray(sizePrefixed ? 4 : 0), body);
        },
      ),
      { numRuns: 300 },
    );
  });

  test("each fixed-size field meets a chunk boundary at every alignment", () => {
    const samples: WriterOp[] = [
      { kind: "int8", value: -5 },
      { kind: "int16", value: -300 },
      { kind: "uint16", value: 65000 },
      { kind: "int32", value: -70000 },
      { kind: "uint32", value: 0xfffffff0 },
      { kind: "float64", value: 1.5 },
      { kind: "int64", value: -(2n ** 40n) - 3n },
      { kind: "uvarint", value: 300 },
      { kind: "utf8", value: "é€" },
    ];
    for (const sample of samples) {
      for (let lead = 0; lead < 8; lead++) {
        // `lead` bytes first, then enough of the field to fill three chunks.
        const ops: WriterOp[] = [{ kind: "bytes", value: Buffer.alloc(lead, 0xaa) }];
        for (let i = 0; i < 3000; i++) ops.push(sample);
        const writer = new ByteWriter();
        for (const op of ops) applyOp(writer, op);
        const written = Buffer.concat(writer.finish());
        assert.deepEqual(written, Buffer.concat(ops.map(expectedBytes)), `${sample.kind}, ${lead}`);
      }
    }
  });

  test("a response much larger than a chunk decodes back whole (Metadata of 400 topics)", () => {
    const topics = Array.from({ length: 400 }, (_, i) => ({
      errorCode: 0,
      name: `topic-${i}`,
      isInternal: false,
      partitions: [
        {
          errorCode: 0,
          partitionIndex: i % 7,
          leaderId: 1,
          leaderEpoch: i,
          replicaNodes: [1, 2, 3],
          isrNodes: [1, 2],
          offlineReplicas: [],
        },
      ],
      topicAuthorizedOperations: -2147483648,
    }));
    const body = {
      throttleTimeMs: 0,
      brokers: [{ nodeId: 1, host: "127.0.0.1", port: 9092, rack: null }],
      clusterId: "cluster",
      controllerId: 1,
      topics,
      clusterAuthorizedOperations: -2147483648,
    };
    for (const version of [8, 12]) {
      const frame = Buffer.concat(encodeResponseFrame(ApiKey.Metadata, version, 5, body));
      assert.ok(frame.length > 16384, `${frame.length} bytes`);
      assert.equal(frame.readInt32BE(0), frame.length - 4, "size prefix");
      const decoded = decodeResponseFrame(ApiKey.Metadata, version, frame.subarray(4));
      assertContains(decoded.body.topics as unknown as KafkaValue, topics, `v${version} topics`);
    }
  });
});

describe("byte-exact encodings", () => {
  test("ApiVersions response v3: compact array, tagged fields, and header v0 always", () => {
    const frame = Buffer.concat(
      encodeResponseFrame(ApiKey.ApiVersions, 3, 5, {
        errorCode: 0,
        apiKeys: [{ apiKey: 0, minVersion: 3, maxVersion: 8 }],
        throttleTimeMs: 0,
      }),
    );
    // size | correlation id (header v0: no tag section) | error | compact array of 1 (0x02)
    // | key, min, max, empty tags | throttle | empty tags
    assert.equal(
      frame.toString("hex"),
      "00000013" + "00000005" + "0000" + "02" + "0000" + "0003" + "0008" + "00" + "00000000" + "00",
    );
    assert.equal(responseHeaderVersion(ApiKey.ApiVersions, 3), 0);
    assert.equal(responseHeaderVersion(ApiKey.Metadata, 9), 1);
  });

  test("request header v2 keeps the classic int16 client id, then a tag section", () => {
    const frame = Buffer.concat(
      encodeRequestFrame(ApiKey.ApiVersions, 3, 1, "ab", {
        clientSoftwareName: "n",
        clientSoftwareVersion: "1",
      }),
    );
    assert.equal(
      frame.subarray(4).toString("hex"),
      "0012" + "0003" + "00000001" + "0002" + "6162" + "00" + "026e" + "0231" + "00",
    );
  });

  test("Metadata v1 request with all topics is a null array (-1)", () => {
    const frame = Buffer.concat(encodeRequestFrame(ApiKey.Metadata, 1, 1, null, { topics: null }));
    assert.equal(
      frame.subarray(4).toString("hex"),
      "0003" + "0001" + "00000001" + "ffff" + "ffffffff",
    );
  });

  test("a tagged field with a non-default value is written and read back", () => {
    const spec = specs.find((s) => s.name === "ApiVersionsResponse");
    assert.ok(spec !== undefined);
    const bytes = encode(spec, 3, { errorCode: 0, apiKeys: [], finalizedFeaturesEpoch: 7n });
    // ... empty tags after throttle? no: one tag (1), 8 bytes, value 7
    assert.ok(bytes.toString("hex").endsWith("01" + "01" + "08" + "0000000000000007"));
    assert.equal(decode(spec, 3, bytes).finalizedFeaturesEpoch, 7n);
  });

  test("a field absent at a version holds its default: a nullable one's null stays null", () => {
    const spec = specs.find((s) => s.name === "JoinGroupRequest");
    assert.ok(spec !== undefined);
    const join = {
      groupId: "g",
      sessionTimeoutMs: 10_000,
      rebalanceTimeoutMs: 10_000,
      memberId: "",
      protocolType: "consumer",
      protocols: [],
    };
    // JoinGroup has a group instance id from v5 on: before, no client is a static member.
    for (const version of [0, 1, 2, 3, 4]) {
      const decoded = decode(spec, version, encode(spec, version, join));
      assert.equal(decoded.groupInstanceId, null, `v${version}`);
    }
    const v5 = encode(spec, 5, { ...join, groupInstanceId: "i-1" });
    assert.equal(decode(spec, 5, v5).groupInstanceId, "i-1");
  });
});

describe("malformed input throws KafkaCodecError, never anything else", () => {
  const produce = specs.find((s) => s.name === "ProduceRequest");
  const metadata = specs.find((s) => s.name === "MetadataRequest");
  assert.ok(produce !== undefined && metadata !== undefined);

  function problemOf(run: () => unknown): string {
    try {
      run();
    } catch (err) {
      assert.ok(err instanceof KafkaCodecError, `expected KafkaCodecError, got ${String(err)}`);
      assert.equal(err.code, "RMQ_ERR_KAFKA_MALFORMED_REQUEST");
      return err.problem;
    }
    assert.fail("expected a KafkaCodecError");
  }

  test("every truncation of valid encodings, flexible and not", () => {
    for (const [spec, version] of [
      [produce, 8],
      [produce, 9],
      [metadata, 8],
      [metadata, 12],
    ] as const) {
      const bytes = encode(spec, version, sampleStruct(spec.fields, version, 4, false));
      for (let length = 0; length < bytes.length; length++) {
        const cut = bytes.subarray(0, length);
        problemOf(() => decode(spec, version, cut));
      }
    }
  });

  test("negative lengths, null where not allowed, and oversized counts", () => {
    // Produce v8: transactional id (nullable int16 string), acks, timeout, topic array.
    const head = Buffer.from("ffff" + "0001" + "00000064", "hex");
    const withTopics = (tail: string) => Buffer.concat([head, Buffer.from(tail, "hex")]);
    assert.equal(
      problemOf(() => decode(produce, 8, withTopics("fffffffe"))),
      "negative_length",
    );
    assert.equal(
      problemOf(() => decode(produce, 8, withTopics("ffffffff"))),
      "negative_length",
    );
    assert.equal(
      problemOf(() => decode(produce, 8, withTopics("7fffffff"))),
      "oversize",
    );
    // One topic whose name length is -2, then one whose name claims more bytes than there are.
    assert.equal(
      problemOf(() => decode(produce, 8, withTopics("00000001fffe00000000"))),
      "negative_length",
    );
    assert.equal(
      problemOf(() => decode(produce, 8, withTopics("000000017000616263000000"))),
      "oversize",
    );
    // Records length far past the frame.
    const records = withTopics("00000001" + "0001" + "74" + "00000001" + "00000000" + "7ffffff0");
    assert.equal(
      problemOf(() => decode(produce, 8, records)),
      "oversize",
    );
    // A varint longer than 32 bits in a flexible version.
    assert.equal(
      problemOf(() => decode(metadata, 12, Buffer.from("ffffffffff7f", "hex"))),
      "invalid",
    );
  });

  test("random bytes never throw anything but KafkaCodecError", () => {
    const targets = specs.flatMap((spec) => versionsOf(spec).map((v) => [spec, v] as const));
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: targets.length - 1 }),
        fc.uint8Array({ maxLength: 200 }),
        (index, bytes) => {
          const [spec, version] = targets[index];
          try {
            compileMessage(spec, version).read(new ByteReader(Buffer.from(bytes)));
          } catch (err) {
            assert.ok(err instanceof KafkaCodecError, String(err));
          }
        },
      ),
      { numRuns: 3000 },
    );
  });

  test("an unknown API key is reported, not crashed on", () => {
    assert.equal(isKnownApiKey(999), false);
    problemOf(() => decodeRequestBody(999 as ApiKeyValue, 0, new ByteReader(Buffer.alloc(0))));
    problemOf(() => decodeRequestHeader(new ByteReader(Buffer.from("0003", "hex"))));
  });
});

test("generated/messages.ts matches the schemas", () => {
  const committed = readFileSync(GENERATED_FILE, "utf8");
  assert.equal(committed, generateTypes(loadMessageSpecs()), "run generate-types.ts");
});
