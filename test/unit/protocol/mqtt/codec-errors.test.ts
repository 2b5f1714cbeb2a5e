/**
 * Every rule the codec enforces, one test each: push() must return (never throw) an
 * MqttProtocolError with the reason code the spec names, and the parser must stay dead.
 * 0x81 Malformed Packet, 0x82 Protocol Error, 0x84 Unsupported Protocol Version,
 * 0x95 Packet Too Large.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ErrorCode } from "../../../../src/errors.ts";
import type { ProtocolLevel } from "../../../../src/protocol/mqtt/constants.ts";
import {
  type Bytes,
  expectError,
  frame,
  parseChunks,
  parseOne,
  props,
  str,
  u16,
  u32,
} from "./helpers.ts";

const MALFORMED = 0x81;
const PROTOCOL_ERROR = 0x82;
const UNSUPPORTED = 0x84;

/** A CONNECT body: name, level, flags, keep alive, [v5 properties], then the payload parts. */
function connect(name: string, level: number, flags: number, ...rest: Bytes[]): Buffer {
  const properties = level === 5 ? [props()] : [];
  return frame(0x10, str(name), level, flags, u16(60), ...properties, ...rest);
}

function connectV5(properties: number[], ...rest: Bytes[]): Buffer {
  return frame(0x10, str("MQTT"), 5, 0x02, u16(60), properties, ...rest);
}

/** A v5 QoS 0 PUBLISH on topic "t" with the given property list and payload "x". */
function publishV5(properties: number[]): Buffer {
  return frame(0x30, str("t"), properties, 0x78);
}

describe("fixed header", () => {
  test("packet type 0 is reserved", () => {
    expectError(Buffer.from([0x00, 0x00]), 4, MALFORMED, /type 0/);
  });

  test("AUTH (type 15) does not exist before v5", () => {
    expectError(Buffer.from([0xf0, 0x00]), 4, MALFORMED, /AUTH/);
    expectError(Buffer.from([0xf0, 0x00]), 3, MALFORMED, /AUTH/);
  });

  test("[MQTT-2.1.3-1] reserved flags must have their listed value", () => {
    for (let type = 1; type <= 15; type++) {
      if (type === 3) continue;
      const required = type === 6 || type === 8 || type === 10 ? 0b0010 : 0;
      for (let flags = 0; flags < 16; flags++) {
        if (flags === required) continue;
        expectError(Buffer.from([(type << 4) | flags, 0]), 5, MALFORMED, /MQTT-2\.1\.3-1/);
      }
    }
  });

  test("[MQTT-3.3.1-4] PUBLISH with QoS 3", () => {
    expectError(frame(0x36, str("t"), u16(1)), 4, MALFORMED, /MQTT-3\.3\.1-4/);
  });

  test("[MQTT-3.3.1-2] PUBLISH with DUP and QoS 0", () => {
    expectError(frame(0x38, str("t")), 4, MALFORMED, /MQTT-3\.3\.1-2/);
  });

  test("remaining length longer than 4 bytes", () => {
    expectError(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]), 4, MALFORMED, /4 bytes/);
  });

  test("[MQTT-1.5.5-1] remaining length not minimally encoded", () => {
    expectError(Buffer.from([0xc0, 0x80, 0x00]), 4, MALFORMED, /MQTT-1\.5\.5-1/);
  });

  test("remaining length errors are found when the fixed header arrives a byte at a time", () => {
    const cases: Array<[number[], RegExp]> = [
      [[0x30, 0xff, 0xff, 0xff, 0xff, 0x01], /4 bytes/],
      [[0xc0, 0x80, 0x00], /MQTT-1\.5\.5-1/],
      [[0x30, 0x80, 0x80, 0x80, 0x00], /MQTT-1\.5\.5-1/],
    ];
    for (const [bytes, message] of cases) {
      const chunks = bytes.map((byte) => Buffer.from([byte]));
      const { error, packets } = parseChunks(chunks, 4);
      assert.equal(error?.reasonCode, MALFORMED, String(bytes));
      assert.match(error?.message ?? "", message);
      assert.deepEqual(packets, []);
    }
    const tooLarge = [0x30, 0x80, 0x80, 0x80, 0x01].map((byte) => Buffer.from([byte]));
    assert.equal(parseChunks(tooLarge, 4, 1 << 20).error?.reasonCode, 0x95);
  });

  test("packet larger than maxPacketSizeBytes: 0x95, before the body arrives", () => {
    // Only the fixed header of a 2 MB PUBLISH: the error must not wait for the body.
    const header = Buffer.from([0x30, 0x80, 0x80, 0x80, 0x01]);
    const { error, packets } = parseChunks([header], 4, 1 << 20);
    assert.equal(error?.reasonCode, 0x95);
    assert.equal(error?.code, ErrorCode.MQTT_PACKET_TOO_LARGE);
    assert.deepEqual(packets, []);
  });

  test("packet body shorter than its fields", () => {
    expectError(frame(0x40, 0x00), 4, MALFORMED, /packet identifier/);
    expectError(frame(0x30, u16(5), 0x61), 4, MALFORMED, /topic name/);
    expectError(frame(0x10, str("MQTT"), 4, 0x02), 4, MALFORMED, /keep alive/);
  });
});

describe("UTF-8 strings [MQTT-1.5.4-1] [MQTT-1.5.4-2]", () => {
  const invalid: Array<[string, number[]]> = [
    ["a lone continuation byte", [0x61, 0x80]],
    ["an overlong encoding", [0xc0, 0xaf]],
    ["a surrogate code point (U+D800)", [0xed, 0xa0, 0x80]],
    ["a truncated sequence", [0xe2, 0x82]],
    ["a code point above U+10FFFF", [0xf4, 0x90, 0x80, 0x80]],
  ];
  for (const [name, bytes] of invalid) {
    test(`topic name with ${name}`, () => {
      expectError(frame(0x30, str(bytes)), 4, MALFORMED, /MQTT-1\.5\.4-1/);
    });
  }

  test("U+0000 in a topic name, a client id, a user property", () => {
    expectError(frame(0x30, str([0x61, 0x00])), 4, MALFORMED, /MQTT-1\.5\.4-2/);
    expectError(frame(0x30, str([0xc3, 0xa9, 0x00])), 4, MALFORMED, /MQTT-1\.5\.4-2/);
    expectError(connect("MQTT", 4, 0x02, str([0x00])), 4, MALFORMED, /MQTT-1\.5\.4-2/);
    expectError(publishV5(props(0x26, str("a"), str([0x62, 0x00]))), 5, MALFORMED);
  });

  test("[MQTT-1.5.4-3] a leading BOM (U+FEFF) is kept, not stripped", () => {
    const packet = parseOne(frame(0x30, str([0xef, 0xbb, 0xbf, 0x61])), 4);
    assert.equal(packet.type === "publish" && packet.topic, "\ufeffa");
  });

  test("valid multi-byte UTF-8 is accepted; wildcards in a topic name are the broker's job", () => {
    const packet = parseOne(frame(0x30, str("a/+/é/🚀")), 4);
    assert.equal(packet.type === "publish" && packet.topic, "a/+/é/🚀");
  });
});

describe("CONNECT", () => {
  test("[MQTT-3.1.2-1] unknown protocol name is malformed", () => {
    expectError(connect("MQTX", 4, 0x02, str("c")), 4, MALFORMED, /MQTT-3\.1\.2-1/);
  });

  test("[MQTT-3.1.2-2] known name, unsupported level: 0x84", () => {
    expectError(connect("MQTT", 3, 0x02, str("c")), 4, UNSUPPORTED);
    expectError(connect("MQTT", 6, 0x02, str("c")), 4, UNSUPPORTED);
    expectError(connect("MQTT", 0x84, 0x02, str("c")), 4, UNSUPPORTED);
    expectError(connect("MQIsdp", 4, 0x02, str("c")), 4, UNSUPPORTED);
  });

  test("[MQTT-3.1.2-3] reserved flag", () => {
    expectError(connect("MQTT", 4, 0x03, str("c")), 4, MALFORMED, /MQTT-3\.1\.2-3/);
  });

  test("[MQTT-3.1.2-11] will QoS without the will flag", () => {
    expectError(connect("MQTT", 4, 0x0a, str("c")), 4, MALFORMED, /MQTT-3\.1\.2-11/);
  });

  test("[MQTT-3.1.2-12] will QoS 3", () => {
    expectError(
      connect("MQTT", 4, 0x1e, str("c"), str("w"), str("p")),
      4,
      MALFORMED,
      /MQTT-3\.1\.2-12/,
    );
  });

  test("[MQTT-3.1.2-13] will retain without the will flag", () => {
    expectError(connect("MQTT", 4, 0x22, str("c")), 4, MALFORMED, /MQTT-3\.1\.2-13/);
  });

  test("[MQTT-3.1.2-22] password without user name: malformed in 3.1/3.1.1, allowed in 5", () => {
    expectError(connect("MQTT", 4, 0x42, str("c"), str("p")), 4, MALFORMED, /MQTT-3\.1\.2-22/);
    expectError(connect("MQIsdp", 3, 0x42, str("c"), str("p")), 3, MALFORMED, /MQTT-3\.1\.2-22/);
    const packet = parseOne(connect("MQTT", 5, 0x42, str("c"), str("p")), 5);
    assert.equal(packet.type === "connect" && packet.password?.toString(), "p");
  });

  test("trailing bytes after the last field", () => {
    expectError(connect("MQTT", 4, 0x02, str("c"), 0x00), 4, MALFORMED, /after its last field/);
  });

  test("user name flag without the user name", () => {
    expectError(connect("MQTT", 4, 0x82, str("c")), 4, MALFORMED, /user name/);
  });

  test("v5 property not allowed in CONNECT (topic alias) is malformed", () => {
    expectError(connectV5(props(0x23, u16(1)), str("c")), 4, MALFORMED, /not allowed in CONNECT/);
  });

  test("v5 will property not allowed in a will (session expiry)", () => {
    const will = [props(0x11, u32(1)), str("w"), str("p")];
    expectError(
      frame(0x10, str("MQTT"), 5, 0x06, u16(0), props(), str("c"), ...will),
      4,
      MALFORMED,
      /will/,
    );
  });

  test("v5 duplicate property is a protocol error", () => {
    const twice = props(0x21, u16(5), 0x21, u16(6));
    expectError(connectV5(twice, str("c")), 4, PROTOCOL_ERROR, /more than once/);
  });

  test("v5 out-of-range values are protocol errors", () => {
    const cases: number[][] = [
      props(0x21, u16(0)), // Receive Maximum 0
      props(0x27, u32(0)), // Maximum Packet Size 0
      props(0x17, 2), // Request Problem Information 2
      props(0x19, 2), // Request Response Information 2
      props(0x16, str("data")), // Authentication Data without Authentication Method
    ];
    for (const properties of cases) {
      expectError(connectV5(properties, str("c")), 4, PROTOCOL_ERROR);
    }
  });

  test("v5 property length running past the packet", () => {
    expectError(frame(0x10, str("MQTT"), 5, 0x02, u16(0), 0x10, 0x11), 4, MALFORMED);
  });

  test("v5 unknown property identifier", () => {
    expectError(connectV5(props(0x7f, 0), str("c")), 4, MALFORMED, /0x7f/);
  });
});

describe("CONNACK", () => {
  test("[MQTT-3.2.2-1] flag bits 7-1", () => {
    expectError(frame(0x20, 0x02, 0x00), 4, MALFORMED, /MQTT-3\.2\.2-1/);
  });

  test("[MQTT-3.2.2-6] session present with a failure code", () => {
    expectError(frame(0x20, 0x01, 0x05), 4, PROTOCOL_ERROR, /MQTT-3\.2\.2-6/);
    expectError(frame(0x20, 0x01, 0x87, props()), 5, PROTOCOL_ERROR, /MQTT-3\.2\.2-6/);
  });

  test("reserved return / reason codes", () => {
    expectError(frame(0x20, 0x00, 0x06), 4, PROTOCOL_ERROR, /return code/);
    expectError(frame(0x20, 0x00, 0x01, props()), 5, PROTOCOL_ERROR, /reason code/);
  });

  test("3.1.1 trailing bytes; v5 without a property length", () => {
    expectError(frame(0x20, 0x00, 0x00, 0x00), 4, MALFORMED);
    expectError(frame(0x20, 0x00, 0x00), 5, MALFORMED, /property length/);
  });

  test("v5 flag properties other than 0 or 1", () => {
    for (const id of [0x24, 0x25, 0x28, 0x29, 0x2a]) {
      expectError(frame(0x20, 0x00, 0x00, props(id, 2)), 5, PROTOCOL_ERROR, /0 or 1/);
    }
  });
});

describe("PUBLISH", () => {
  test("[MQTT-2.2.1-3] QoS 1 and 2 with packet identifier 0", () => {
    expectError(frame(0x32, str("t"), u16(0)), 4, PROTOCOL_ERROR, /MQTT-2\.2\.1-3/);
    expectError(frame(0x34, str("t"), u16(0)), 4, PROTOCOL_ERROR, /MQTT-2\.2\.1-3/);
  });

  test("[MQTT-4.7.3-1] empty topic name (3.1.1); v5 only with a Topic Alias", () => {
    expectError(frame(0x30, str("")), 4, PROTOCOL_ERROR, /MQTT-4\.7\.3-1/);
    expectError(frame(0x30, str(""), props()), 5, PROTOCOL_ERROR, /Topic Alias/);
    const aliased = parseOne(frame(0x30, str(""), props(0x23, u16(4))), 5);
    assert.equal(aliased.type === "publish" && aliased.properties?.topicAlias, 4);
  });

  test("[MQTT-3.3.2-8] Topic Alias 0", () => {
    expectError(publishV5(props(0x23, u16(0))), 5, PROTOCOL_ERROR, /Topic Alias of 0/);
  });

  test("Payload Format Indicator other than 0 or 1", () => {
    expectError(publishV5(props(0x01, 2)), 5, PROTOCOL_ERROR, /0 or 1/);
  });

  test("Subscription Identifier 0, and one longer than 4 bytes", () => {
    expectError(publishV5(props(0x0b, 0)), 5, PROTOCOL_ERROR, /Subscription Identifier of 0/);
    expectError(publishV5(props(0x0b, 0xff, 0xff, 0xff, 0xff, 0x01)), 5, MALFORMED, /4 bytes/);
    expectError(publishV5(props(0x0b, 0x81, 0x00)), 5, MALFORMED, /MQTT-1\.5\.5-1/);
  });

  test("repeated Subscription Identifier is fine in PUBLISH, a duplicate alias is not", () => {
    const packet = parseOne(publishV5(props(0x0b, 1, 0x0b, 2)), 5);
    assert.deepEqual(packet.type === "publish" && packet.properties, {
      subscriptionIdentifiers: [1, 2],
    });
    expectError(publishV5(props(0x23, u16(1), 0x23, u16(2))), 5, PROTOCOL_ERROR, /more than once/);
  });

  test("property not allowed in PUBLISH is malformed", () => {
    expectError(publishV5(props(0x11, u32(1))), 5, MALFORMED, /not allowed in PUBLISH/);
  });

  test("a property overrunning the property length", () => {
    // Property length 2, but the Message Expiry Interval it starts needs 5 bytes.
    expectError(frame(0x30, str("t"), 0x02, 0x02, 0x00, 0x00, 0x00, 0x01), 5, MALFORMED);
  });
});

describe("PUBACK, PUBREC, PUBREL, PUBCOMP", () => {
  test("3.1.1 remaining length other than 2", () => {
    expectError(frame(0x40, u16(1), 0x00), 4, MALFORMED);
    expectError(frame(0x62, u16(1), 0x00, 0x00), 4, MALFORMED);
  });

  test("[MQTT-2.2.1-3] packet identifier 0", () => {
    expectError(frame(0x40, u16(0)), 4, PROTOCOL_ERROR, /MQTT-2\.2\.1-3/);
  });

  test("v5 short forms: 2 bytes means success, 3 bytes a reason without properties", () => {
    assert.deepEqual(parseOne(frame(0x50, u16(3)), 5), {
      type: "pubrec",
      packetId: 3,
      reasonCode: 0,
    });
    assert.deepEqual(parseOne(frame(0x70, u16(3), 0x92), 5), {
      type: "pubcomp",
      packetId: 3,
      reasonCode: 0x92,
    });
    assert.deepEqual(parseOne(frame(0x40, u16(3), 0x00, props()), 5), {
      type: "puback",
      packetId: 3,
      reasonCode: 0,
    });
  });

  test("v5 reason codes outside the packet's table", () => {
    expectError(frame(0x40, u16(1), 0x92), 5, PROTOCOL_ERROR, /PUBACK reason code/);
    expectError(frame(0x62, u16(1), 0x10), 5, PROTOCOL_ERROR, /PUBREL reason code/);
  });

  test("v5 property not allowed in an ack; trailing bytes after the properties", () => {
    expectError(frame(0x40, u16(1), 0x00, props(0x23, u16(1))), 5, MALFORMED, /not allowed/);
    expectError(frame(0x40, u16(1), 0x00, props(), 0x00), 5, MALFORMED, /after its last field/);
  });
});

describe("SUBSCRIBE and SUBACK", () => {
  test("no topic filters: v3.1.1 [MQTT-3.8.3-3], v5 [MQTT-3.8.3-2]", () => {
    expectError(frame(0x82, u16(1)), 4, PROTOCOL_ERROR, /MQTT-3\.8\.3-3/);
    expectError(frame(0x82, u16(1), props()), 5, PROTOCOL_ERROR, /MQTT-3\.8\.3-2/);
  });

  test("[MQTT-2.2.1-3] packet identifier 0", () => {
    expectError(frame(0x82, u16(0), str("a"), 0), 4, PROTOCOL_ERROR);
  });

  test("v3.1.1 [MQTT-3-8.3-4]: any bit but QoS, or QoS 3, is malformed", () => {
    for (const options of [0x03, 0x04, 0x08, 0x10, 0x80]) {
      expectError(frame(0x82, u16(1), str("a"), options), 4, MALFORMED, /MQTT-3-8\.3-4/);
    }
  });

  test("v5 options: reserved bits malformed [MQTT-3.8.3-5]; QoS 3 and retain handling 3 protocol errors", () => {
    expectError(frame(0x82, u16(1), props(), str("a"), 0x40), 5, MALFORMED, /MQTT-3\.8\.3-5/);
    expectError(frame(0x82, u16(1), props(), str("a"), 0x80), 5, MALFORMED, /MQTT-3\.8\.3-5/);
    expectError(frame(0x82, u16(1), props(), str("a"), 0x03), 5, PROTOCOL_ERROR, /QoS 3/);
    expectError(
      frame(0x82, u16(1), props(), str("a"), 0x30),
      5,
      PROTOCOL_ERROR,
      /retain handling 3/,
    );
  });

  test("missing options byte", () => {
    expectError(frame(0x82, u16(1), str("a")), 4, MALFORMED, /subscription options/);
  });

  test("Subscription Identifier twice, or 0, in SUBSCRIBE", () => {
    expectError(
      frame(0x82, u16(1), props(0x0b, 1, 0x0b, 2), str("a"), 0),
      5,
      PROTOCOL_ERROR,
      /more than once/,
    );
    expectError(frame(0x82, u16(1), props(0x0b, 0), str("a"), 0), 5, PROTOCOL_ERROR, /of 0/);
  });

  test("SUBACK codes outside the table, and an empty SUBACK", () => {
    expectError(frame(0x90, u16(1), 0x03), 4, PROTOCOL_ERROR, /SUBACK reason code/);
    expectError(frame(0x90, u16(1), 0x87), 4, PROTOCOL_ERROR, /SUBACK reason code/);
    expectError(frame(0x90, u16(1), props(), 0x03), 5, PROTOCOL_ERROR, /SUBACK reason code/);
    expectError(frame(0x90, u16(1)), 4, PROTOCOL_ERROR, /no reason codes/);
  });
});

describe("UNSUBSCRIBE and UNSUBACK", () => {
  test("[MQTT-3.10.3-2] no topic filters", () => {
    expectError(frame(0xa2, u16(1)), 4, PROTOCOL_ERROR, /MQTT-3\.10\.3-2/);
    expectError(frame(0xa2, u16(1), props()), 5, PROTOCOL_ERROR, /MQTT-3\.10\.3-2/);
  });

  test("[MQTT-2.2.1-3] packet identifier 0", () => {
    expectError(frame(0xa2, u16(0), str("a")), 4, PROTOCOL_ERROR);
  });

  test("3.1.1 UNSUBACK with a payload; v5 UNSUBACK with bad or no codes", () => {
    expectError(frame(0xb0, u16(1), 0x00), 4, MALFORMED);
    expectError(frame(0xb0, u16(1), props()), 5, PROTOCOL_ERROR, /no reason codes/);
    expectError(frame(0xb0, u16(1), props(), 0x92), 5, PROTOCOL_ERROR, /UNSUBACK reason code/);
  });
});

describe("PINGREQ, PINGRESP, DISCONNECT, AUTH", () => {
  for (const version of [3, 4, 5] satisfies ProtocolLevel[]) {
    test(`v${version} PINGREQ and PINGRESP must be empty`, () => {
      expectError(frame(0xc0, 0x00), version, MALFORMED);
      expectError(frame(0xd0, 0x00), version, MALFORMED);
    });
  }

  test("3.1 and 3.1.1 DISCONNECT must be empty", () => {
    expectError(frame(0xe0, 0x00), 4, MALFORMED);
    expectError(frame(0xe0, 0x00), 3, MALFORMED);
  });

  test("v5 DISCONNECT: empty means 0, a reason alone, a bad reason, a bad property", () => {
    assert.deepEqual(parseOne(frame(0xe0), 5), { type: "disconnect", reasonCode: 0 });
    assert.deepEqual(parseOne(frame(0xe0, 0x8e), 5), { type: "disconnect", reasonCode: 0x8e });
    expectError(frame(0xe0, 0x05), 5, PROTOCOL_ERROR, /DISCONNECT reason code/);
    expectError(frame(0xe0, 0x00, props(0x23, u16(1))), 5, MALFORMED, /not allowed in DISCONNECT/);
  });

  test("v5 AUTH: empty means success; bad reason; data without method", () => {
    assert.deepEqual(parseOne(frame(0xf0), 5), { type: "auth", reasonCode: 0 });
    expectError(frame(0xf0, 0x01, props()), 5, PROTOCOL_ERROR, /AUTH reason code/);
    expectError(
      frame(0xf0, 0x18, props(0x16, str("d"))),
      5,
      PROTOCOL_ERROR,
      /Authentication Method/,
    );
  });
});
