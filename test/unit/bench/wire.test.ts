/**
 * The bytes the generator sends: publish templates whose patched packet id and timestamp decode
 * as intended with our parser, the payload header, and CONNECT fields.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import {
  benchPayload,
  connectPacket,
  payloadTimestampMicros,
  publishTemplate,
  reasonText,
} from "../../../src/bench/wire.ts";
import {
  MqttParser,
  type Packet,
  type ProtocolLevel,
  type QoS,
} from "../../../src/protocol/mqtt/index.ts";

function decodeAll(bytes: Buffer, version: ProtocolLevel): Packet[] {
  const packets: Packet[] = [];
  const parser = new MqttParser((packet) => packets.push(packet), 1 << 24);
  parser.protocolVersion = version;
  const error = parser.push(bytes);
  assert.equal(error, null, error?.message);
  return packets;
}

describe("publish templates", () => {
  test("patched packet id and timestamp decode as written, for every version and QoS", () => {
    fc.assert(
      fc.property(
        fc.constantFrom<ProtocolLevel>(3, 4, 5),
        fc.constantFrom<QoS>(0, 1, 2),
        fc.integer({ min: 0, max: 300 }),
        fc.string({ minLength: 1, maxLength: 200 }).filter((t) => !/[+#\0]/.test(t)),
        fc.integer({ min: 1, max: 65_535 }),
        fc.double({ min: 1e15, max: 2e15, noNaN: true }),
        (version, qos, size, topic, id, micros) => {
          const template = publishTemplate(topic, qos, size, version);
          const bytes = Buffer.from(template.packet);
          if (template.packetIdOffset > 0) bytes.writeUInt16BE(id, template.packetIdOffset);
          if (template.timestampOffset > 0) bytes.writeDoubleLE(micros, template.timestampOffset);
          const [packet] = decodeAll(bytes, version);
          assert.ok(packet.type === "publish");
          assert.equal(packet.topic, topic);
          assert.equal(packet.qos, qos);
          assert.equal(packet.payload.length, size);
          assert.equal(packet.packetId, qos > 0 ? id : undefined);
          assert.equal(template.timestampOffset > 0, size >= 16);
          assert.equal(payloadTimestampMicros(packet.payload), size >= 16 ? micros : -1);
        },
      ),
      { numRuns: 300 },
    );
  });

  test("the packet id sits in front of the payload in a long topic's template", () => {
    const topic = "t".repeat(300); // remaining length takes 2 bytes
    const template = publishTemplate(topic, 1, 64, 4);
    assert.equal(template.packetIdOffset, 1 + 2 + 2 + 300);
    assert.equal(template.timestampOffset, template.packet.length - 64);
  });
});

describe("payload header", () => {
  test("only payloads carrying the marker have a timestamp", () => {
    const payload = benchPayload(64);
    payload.writeDoubleLE(1.75e15, 0);
    assert.equal(payloadTimestampMicros(payload), 1.75e15);
    assert.equal(payloadTimestampMicros(Buffer.alloc(64)), -1, "a foreign payload");
    assert.equal(payloadTimestampMicros(benchPayload(15)), -1, "too short");
    assert.equal(payload.toString("latin1", 8, 16), "rmqbench");
  });
});

describe("CONNECT", () => {
  test("carries the session fields, the credentials and (v5) the session expiry", () => {
    const bytes = connectPacket({
      clientId: "rmq1-pub-0",
      protocolVersion: 5,
      cleanStart: false,
      keepAliveSeconds: 30,
      sessionExpirySeconds: 120,
      username: "user",
      password: "pass",
    });
    const [packet] = decodeAll(bytes, 5);
    assert.ok(packet.type === "connect");
    assert.equal(packet.clientId, "rmq1-pub-0");
    assert.equal(packet.cleanStart, false);
    assert.equal(packet.keepAlive, 30);
    assert.equal(packet.properties?.sessionExpiryInterval, 120);
    assert.equal(packet.username, "user");
    assert.equal(packet.password?.toString(), "pass");
  });

  test("MQTT 3.1 says MQIsdp, 3.1.1 says MQTT", () => {
    const fields = {
      clientId: "c",
      cleanStart: true,
      keepAliveSeconds: 0,
      sessionExpirySeconds: null,
      username: null,
      password: null,
    };
    const [v3] = decodeAll(connectPacket({ ...fields, protocolVersion: 3 }), 3);
    const [v4] = decodeAll(connectPacket({ ...fields, protocolVersion: 4 }), 4);
    assert.ok(v3.type === "connect" && v4.type === "connect");
    assert.deepEqual([v3.protocolName, v3.protocolVersion], ["MQIsdp", 3]);
    assert.deepEqual([v4.protocolName, v4.protocolVersion], ["MQTT", 4]);
  });
});

test("reason codes are shown in hex with their name", () => {
  assert.equal(reasonText(0x87, 5), "0x87 NOT_AUTHORIZED");
  assert.equal(reasonText(0x05, 4, true), "0x05 NOT_AUTHORIZED");
  assert.equal(reasonText(0x8e, 5), "0x8E SESSION_TAKEN_OVER");
  assert.equal(reasonText(0xfe, 5), "0xFE");
});
