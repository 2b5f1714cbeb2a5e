import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import type { ProtocolLevel } from "../../../../src/protocol/mqtt/constants.ts";
import {
  encode,
  encodedPropertiesLength,
  encodePublish,
  MqttParser,
  PropertyContext,
} from "../../../../src/protocol/mqtt/index.ts";
import type {
  ConnectPacket,
  Packet,
  Properties,
  PublishPacket,
} from "../../../../src/protocol/mqtt/packets.ts";
import { packetArbitrary } from "./arbitraries.ts";
import { frame, parseChunks, parseOne, str, u16 } from "./helpers.ts";

const VERSIONS: readonly ProtocolLevel[] = [3, 4, 5];
const userProperties: Array<[string, string]> = [
  ["region", "eu"],
  ["region", "us"],
  ["ключ", "значение 🚀"],
];

function connectPacket(version: ProtocolLevel): ConnectPacket {
  return {
    type: "connect",
    protocolName: version === 3 ? "MQIsdp" : "MQTT",
    protocolVersion: version,
    cleanStart: true,
    keepAlive: 30,
    clientId: "client-1",
    will: {
      topic: "will/topic",
      payload: Buffer.from("bye"),
      qos: 2,
      retain: true,
      properties: {
        willDelayInterval: 10,
        payloadFormatIndicator: 1,
        messageExpiryInterval: 3600,
        contentType: "text/plain",
        responseTopic: "reply/to",
        correlationData: Buffer.from([1, 2, 3]),
        userProperties,
      },
    },
    username: "user",
    password: Buffer.from("secret"),
    properties: {
      sessionExpiryInterval: 0xffff_ffff,
      receiveMaximum: 100,
      maximumPacketSize: 1 << 20,
      topicAliasMaximum: 10,
      requestResponseInformation: 1,
      requestProblemInformation: 0,
      userProperties,
      authenticationMethod: "SCRAM-SHA-256",
      authenticationData: Buffer.from([9, 9]),
    },
  };
}

const connackProperties: Properties = {
  sessionExpiryInterval: 120,
  receiveMaximum: 20,
  maximumQoS: 1,
  retainAvailable: 0,
  maximumPacketSize: 65_536,
  assignedClientIdentifier: "auto-7f3a",
  topicAliasMaximum: 5,
  reasonString: "welcome",
  userProperties,
  wildcardSubscriptionAvailable: 1,
  subscriptionIdentifierAvailable: 0,
  sharedSubscriptionAvailable: 1,
  serverKeepAlive: 45,
  responseInformation: "resp/",
  serverReference: "other:1883",
  authenticationMethod: "SCRAM-SHA-256",
  authenticationData: Buffer.from([7]),
};

const publishProperties: Properties = {
  payloadFormatIndicator: 1,
  messageExpiryInterval: 60,
  topicAlias: 3,
  responseTopic: "reply/x",
  correlationData: Buffer.from("corr"),
  userProperties,
  subscriptionIdentifiers: [1, 268_435_455, 300],
  contentType: "application/json",
};

const reasonProperties: Properties = { reasonString: "why not", userProperties };

/** One of every packet type, with every property its type allows, as a v5 peer sends it. */
function fullPackets(version: ProtocolLevel): Packet[] {
  const packets: Packet[] = [
    connectPacket(version),
    { type: "connack", sessionPresent: true, reasonCode: 0, properties: connackProperties },
    {
      type: "publish",
      topic: "a/b/ü",
      payload: Buffer.from("hello"),
      qos: 1,
      retain: true,
      dup: true,
      packetId: 7,
      properties: publishProperties,
    },
    { type: "publish", topic: "q0", payload: Buffer.alloc(0), qos: 0, retain: false, dup: false },
    { type: "puback", packetId: 1, reasonCode: 0x10, properties: reasonProperties },
    { type: "pubrec", packetId: 2, reasonCode: 0x80 },
    { type: "pubrel", packetId: 3, reasonCode: 0x92, properties: reasonProperties },
    { type: "pubcomp", packetId: 4, reasonCode: 0 },
    {
      type: "subscribe",
      packetId: 5,
      subscriptions: [
        { topicFilter: "a/+", qos: 0, noLocal: false, retainAsPublished: false, retainHandling: 0 },
        { topicFilter: "b/#", qos: 1, noLocal: true, retainAsPublished: true, retainHandling: 1 },
        {
          topicFilter: "$share/g/c",
          qos: 2,
          noLocal: false,
          retainAsPublished: true,
          retainHandling: 2,
        },
      ],
      properties: { subscriptionIdentifiers: [42], userProperties },
    },
    {
      type: "suback",
      packetId: 5,
      reasonCodes: [0, 1, 2, 0x80, 0x8f, 0xa2],
      properties: reasonProperties,
    },
    {
      type: "unsubscribe",
      packetId: 6,
      topicFilters: ["a/+", "b/#"],
      properties: { userProperties },
    },
    { type: "unsuback", packetId: 6, reasonCodes: [0, 0x11, 0x87], properties: reasonProperties },
    { type: "pingreq" },
    { type: "pingresp" },
    {
      type: "disconnect",
      reasonCode: 0x04,
      properties: {
        sessionExpiryInterval: 0,
        reasonString: "bye",
        userProperties,
        serverReference: "s2",
      },
    },
  ];
  if (version === 5) {
    packets.push({
      type: "auth",
      reasonCode: 0x18,
      properties: {
        authenticationMethod: "SCRAM-SHA-256",
        authenticationData: Buffer.from([1, 2]),
        reasonString: "continue",
        userProperties,
      },
    });
  }
  return packets;
}

/** What a v3.1/v3.1.1 peer receives: the v5-only fields are gone. */
function downgrade(packet: Packet, version: ProtocolLevel): Packet {
  if (version === 5) return packet;
  const copy = { ...packet };
  if ("properties" in copy) delete copy.properties;
  switch (copy.type) {
    case "connect":
      if (copy.will !== undefined) {
        copy.will = { ...copy.will };
        delete copy.will.properties;
      }
      return copy;
    case "connack":
      return { ...copy, sessionPresent: copy.sessionPresent && version > 3 };
    case "puback":
    case "pubrec":
    case "pubrel":
    case "pubcomp":
    case "disconnect":
      return { ...copy, reasonCode: 0 };
    case "subscribe":
      return {
        ...copy,
        subscriptions: copy.subscriptions.map((subscription) => ({
          ...subscription,
          noLocal: false,
          retainAsPublished: false,
          retainHandling: 0,
        })),
      };
    case "suback":
      return { ...copy, reasonCodes: copy.reasonCodes.map((code) => Math.min(code, 0x80)) };
    case "unsuback":
      return { ...copy, reasonCodes: [] };
    default:
      return copy;
  }
}

function encodeAll(packets: readonly Packet[], version: ProtocolLevel): Buffer {
  return Buffer.concat(packets.map((packet) => encode(packet, version)));
}

describe("round trip of every packet type with every property", () => {
  for (const version of VERSIONS) {
    for (const packet of fullPackets(version)) {
      test(`v${version} ${packet.type}${"reasonCode" in packet ? ` 0x${packet.reasonCode.toString(16)}` : ""}`, () => {
        const parsed = parseOne(encode(packet, version), version);
        assert.deepEqual(parsed, downgrade(packet, version));
      });
    }
  }

  test("random valid packets survive encode then parse (v3, v4, v5)", () => {
    for (const version of VERSIONS) {
      fc.assert(
        fc.property(packetArbitrary(version), (packet) => {
          assert.deepEqual(parseOne(encode(packet, version), version), packet);
        }),
        { numRuns: 400 },
      );
    }
  });
});

describe("split delivery", () => {
  for (const version of VERSIONS) {
    const packets = fullPackets(version).map((packet) => downgrade(packet, version));
    const stream = encodeAll(fullPackets(version), version);

    test(`v${version}: one byte at a time gives the same packets`, () => {
      const chunks = [...stream].map((byte) => Buffer.from([byte]));
      const { packets: parsed, error } = parseChunks(chunks, version);
      assert.equal(error, null);
      assert.deepEqual(parsed, packets);
    });

    test(`v${version}: random splits give the same packets`, () => {
      fc.assert(
        fc.property(
          fc.uniqueArray(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 40 }),
          (cuts) => {
            cuts.sort((a, b) => a - b);
            const chunks: Buffer[] = [];
            let start = 0;
            for (const cut of [...cuts, stream.length]) {
              chunks.push(stream.subarray(start, cut));
              start = cut;
            }
            const { packets: parsed, error } = parseChunks(chunks, version);
            assert.equal(error, null);
            assert.deepEqual(parsed, packets);
          },
        ),
        { numRuns: 300 },
      );
    });
  }

  test("a fixed header cut inside a 3-byte remaining length", () => {
    const publish: PublishPacket = {
      type: "publish",
      topic: "big",
      payload: Buffer.alloc(20_000, 1),
      qos: 0,
      retain: false,
      dup: false,
    };
    const bytes = encodePublish(publish, 4);
    assert.equal(bytes[3] & 0x80, 0, "remaining length takes 3 bytes");
    for (const cut of [1, 2, 3, 4]) {
      const { packets, error } = parseChunks([bytes.subarray(0, cut), bytes.subarray(cut)]);
      assert.equal(error, null);
      assert.deepEqual(packets, [publish]);
    }
  });

  test("an empty chunk changes nothing", () => {
    const bytes = encode({ type: "pingreq" }, 4);
    const { packets } = parseChunks([
      Buffer.alloc(0),
      bytes.subarray(0, 1),
      Buffer.alloc(0),
      bytes.subarray(1),
    ]);
    assert.deepEqual(packets, [{ type: "pingreq" }]);
  });
});

describe("binary fields are slices of the chunk, not copies", () => {
  test("PUBLISH payload and correlation data", () => {
    const chunk = Buffer.concat([encode({ type: "pingreq" }, 5), encode(fullPackets(5)[2], 5)]);
    const { packets } = parseChunks([chunk], 5);
    const publish = packets[1];
    assert.equal(publish.type, "publish");
    assert.equal(publish.payload.buffer, chunk.buffer);
    assert.equal(publish.payload.byteOffset, chunk.byteOffset + chunk.length - 5);
    assert.equal(publish.properties?.correlationData?.buffer, chunk.buffer);
  });

  test("CONNECT password, will payload, authentication data", () => {
    const chunk = encode(connectPacket(5), 5);
    const connect = parseOne(chunk, 5);
    assert.equal(connect.type, "connect");
    assert.equal(connect.password?.buffer, chunk.buffer);
    assert.equal(connect.will?.payload.buffer, chunk.buffer);
    assert.equal(connect.properties?.authenticationData?.buffer, chunk.buffer);
  });
});

describe("parser life cycle", () => {
  test("CONNECT sets the protocol version used for what follows", () => {
    const stream = Buffer.concat([
      encode(connectPacket(5), 5),
      encode({ type: "puback", packetId: 9, reasonCode: 0x10 }, 5),
    ]);
    const { packets, parser } = parseChunks([stream], 4);
    assert.equal(parser.protocolVersion, 5);
    assert.deepEqual(packets[1], { type: "puback", packetId: 9, reasonCode: 0x10 });
  });

  test("packets before an error are delivered; after it nothing is", () => {
    const good = encode({ type: "pingreq" }, 4);
    const bad = Buffer.from([0x00, 0x00]);
    const { packets, error, parser } = parseChunks([Buffer.concat([good, bad, good])]);
    assert.ok(error !== null);
    assert.deepEqual(packets, [{ type: "pingreq" }]);
    assert.equal(parser.push(good), error);
    assert.equal(packets.length, 1);
  });

  test("stop() inside onPacket ends the loop; later pushes do nothing", () => {
    const packets: Packet[] = [];
    const parser = new MqttParser((packet) => {
      packets.push(packet);
      parser.stop();
    }, 1024);
    const ping = encode({ type: "pingreq" }, 4);
    assert.equal(parser.push(Buffer.concat([ping, ping, ping.subarray(0, 1)])), null);
    assert.equal(parser.push(Buffer.concat([ping.subarray(1), ping])), null);
    assert.equal(parser.push(Buffer.from([0, 0])), null, "stopped parsers ignore garbage too");
    assert.deepEqual(packets, [{ type: "pingreq" }]);
  });

  test("a packet of exactly maxPacketSizeBytes is accepted", () => {
    const bytes = encode({ type: "unsubscribe", packetId: 1, topicFilters: ["x".repeat(100)] }, 4);
    assert.equal(parseChunks([bytes], 4, bytes.length).error, null);
    assert.equal(parseChunks([bytes], 4, bytes.length - 1).error?.reasonCode, 0x95);
  });
});

describe("encoder wire forms", () => {
  test("known bytes: PINGREQ, PINGRESP, v3.1.1 DISCONNECT, QoS 1 PUBLISH", () => {
    assert.deepEqual([...encode({ type: "pingreq" }, 4)], [0xc0, 0]);
    assert.deepEqual([...encode({ type: "pingresp" }, 5)], [0xd0, 0]);
    assert.deepEqual([...encode({ type: "disconnect", reasonCode: 0 }, 4)], [0xe0, 0]);
    const publish: PublishPacket = {
      type: "publish",
      topic: "a/b",
      payload: Buffer.from("hi"),
      qos: 1,
      retain: true,
      dup: true,
      packetId: 10,
    };
    assert.deepEqual([...encode(publish, 4)], [0x3b, 9, ...str("a/b"), ...u16(10), 0x68, 0x69]);
    assert.deepEqual([...encode(publish, 5)], [0x3b, 10, ...str("a/b"), ...u16(10), 0, 0x68, 0x69]);
  });

  test("v3.1.1 CONNECT matches the spec's example layout", () => {
    const bytes = encode(
      {
        type: "connect",
        protocolName: "MQTT",
        protocolVersion: 4,
        cleanStart: true,
        keepAlive: 10,
        clientId: "c",
        username: "u",
        password: Buffer.from("p"),
      },
      4,
    );
    assert.deepEqual(
      bytes,
      frame(0x10, str("MQTT"), 4, 0xc2, u16(10), str("c"), str("u"), str("p")),
    );
  });

  test("v5 acks: short forms when the reason code or properties are not needed", () => {
    assert.deepEqual(
      [...encode({ type: "puback", packetId: 1, reasonCode: 0 }, 5)],
      [0x40, 2, 0, 1],
    );
    assert.deepEqual(
      [...encode({ type: "pubrel", packetId: 1, reasonCode: 0 }, 5)],
      [0x62, 2, 0, 1],
    );
    assert.deepEqual(
      [...encode({ type: "pubrec", packetId: 1, reasonCode: 0x10 }, 5)],
      [0x50, 3, 0, 1, 0x10],
    );
    const withProperties = encode(
      { type: "pubcomp", packetId: 1, reasonCode: 0, properties: { reasonString: "r" } },
      5,
    );
    assert.deepEqual([...withProperties], [0x70, 8, 0, 1, 0, 4, 0x1f, ...str("r")]);
    assert.deepEqual(
      [...encode({ type: "puback", packetId: 1, reasonCode: 0x80 }, 4)],
      [0x40, 2, 0, 1],
    );
  });

  test("v5 DISCONNECT and AUTH: bare when reason 0 and no properties", () => {
    assert.deepEqual([...encode({ type: "disconnect", reasonCode: 0 }, 5)], [0xe0, 0]);
    assert.deepEqual([...encode({ type: "disconnect", reasonCode: 0x8e }, 5)], [0xe0, 1, 0x8e]);
    assert.deepEqual([...encode({ type: "auth", reasonCode: 0 }, 5)], [0xf0, 0]);
    assert.deepEqual([...encode({ type: "auth", reasonCode: 0x19 }, 5)], [0xf0, 2, 0x19, 0]);
  });

  test("v3.1.1 SUBACK turns v5 failures into 0x80; UNSUBACK has no payload", () => {
    const suback = encode({ type: "suback", packetId: 2, reasonCodes: [1, 0x87, 0x97] }, 4);
    assert.deepEqual([...suback], [0x90, 5, 0, 2, 1, 0x80, 0x80]);
    const unsuback = encode({ type: "unsuback", packetId: 2, reasonCodes: [0x11] }, 4);
    assert.deepEqual([...unsuback], [0xb0, 2, 0, 2]);
  });

  test("MQTT 3.1 CONNACK has no session present flag", () => {
    assert.deepEqual(
      [...encode({ type: "connack", sessionPresent: true, reasonCode: 0 }, 3)],
      [0x20, 2, 0, 0],
    );
    assert.deepEqual(
      [...encode({ type: "connack", sessionPresent: true, reasonCode: 0 }, 4)],
      [0x20, 2, 1, 0],
    );
    // ...so a 3.1 parser ignores that byte, as the 3.1 encoder writes it as 0.
    assert.deepEqual(parseOne(frame(0x20, 0x01, 0x00), 3), {
      type: "connack",
      sessionPresent: false,
      reasonCode: 0,
    });
  });

  test("encodedPropertiesLength counts every property byte", () => {
    assert.equal(encodedPropertiesLength(undefined, PropertyContext.PUBLISH), 0);
    assert.equal(encodedPropertiesLength({ topicAlias: 1 }, PropertyContext.PUBLISH), 3);
    assert.equal(
      encodedPropertiesLength({ subscriptionIdentifiers: [1, 128] }, PropertyContext.PUBLISH),
      5,
    );
    assert.equal(
      encodedPropertiesLength({ userProperties: [["a", "bc"]] }, PropertyContext.ACK),
      8,
    );
  });

  test("encoding an invalid packet is a programmer error (assert)", () => {
    const publish: PublishPacket = {
      type: "publish",
      topic: "t",
      payload: Buffer.alloc(0),
      qos: 1,
      retain: false,
      dup: false,
    };
    const invalid: Array<[Packet, ProtocolLevel]> = [
      [publish, 4],
      [{ ...publish, packetId: 0 }, 4],
      [{ ...publish, qos: 0, dup: true }, 4],
      [{ ...publish, qos: 0, packetId: 1 }, 4],
      [{ ...publish, packetId: 1, topic: "" }, 4],
      [{ ...publish, packetId: 1, topic: "" }, 5],
      [{ ...publish, packetId: 1, topic: "a\0b" }, 4],
      [{ ...publish, packetId: 1, topic: "a\ud800b" }, 4],
      [{ ...connectPacket(4), keepAlive: 1.5 }, 4],
      [{ ...publish, packetId: 1, properties: { sessionExpiryInterval: 1 } }, 5],
      [{ ...publish, packetId: 1, properties: { topicAlias: 0 } }, 5],
      [{ ...publish, packetId: 1, properties: { payloadFormatIndicator: 2 } }, 5],
      [{ ...publish, packetId: 1, properties: { authenticationData: Buffer.alloc(1) } }, 5],
      [{ type: "puback", packetId: 1, reasonCode: 0x92 }, 5],
      [{ type: "connack", sessionPresent: true, reasonCode: 0x80 }, 5],
      [{ type: "connack", sessionPresent: false, reasonCode: 6 }, 4],
      [{ type: "subscribe", packetId: 1, subscriptions: [] }, 4],
      [
        {
          type: "subscribe",
          packetId: 1,
          subscriptions: [
            {
              topicFilter: "a",
              qos: 0,
              noLocal: false,
              retainAsPublished: false,
              retainHandling: 0,
            },
          ],
          properties: { subscriptionIdentifiers: [1, 2] },
        },
        5,
      ],
      [{ type: "unsubscribe", packetId: 1, topicFilters: [] }, 4],
      [{ type: "auth", reasonCode: 0 }, 4],
      [{ ...connectPacket(5), protocolVersion: 4 }, 5],
      [{ ...connectPacket(4), username: undefined }, 4],
    ];
    for (const [packet, version] of invalid) {
      assert.throws(() => encode(packet, version), /assertion failed/, JSON.stringify(packet));
    }
  });
});
