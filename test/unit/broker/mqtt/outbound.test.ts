import assert from "node:assert/strict";
import { test } from "node:test";
import {
  ACK_TEMPLATES,
  type AckType,
  DUP_FLAG,
  writePacketId,
} from "../../../../src/broker/mqtt/outbound.ts";
import { encode, encodePublish } from "../../../../src/protocol/mqtt/index.ts";
import type { PublishPacket } from "../../../../src/protocol/mqtt/packets.ts";

const ACK_TYPES: AckType[] = ["puback", "pubrec", "pubrel", "pubcomp"];

test("acknowledgement templates with their id written in are what the encoder makes", () => {
  for (const version of [3, 4, 5] as const) {
    for (const type of ACK_TYPES) {
      for (const packetId of [1, 0x1234, 0xffff]) {
        const bytes = Buffer.from(ACK_TEMPLATES[type]);
        writePacketId(bytes, 0, packetId, false);
        assert.deepEqual(bytes, encode({ type, packetId, reasonCode: 0 }, version), type);
      }
    }
  }
});

test("a PUBLISH template with its id and DUP written in is what the encoder makes", () => {
  const packet = (packetId: number, dup: boolean, topic: string): PublishPacket => ({
    type: "publish",
    topic,
    payload: Buffer.alloc(200, 7),
    qos: 1,
    retain: true,
    dup,
    packetId,
    properties: { contentType: "text/plain", userProperties: [["k", "v"]] },
  });
  for (const version of [4, 5] as const) {
    // A long topic makes a 2-byte remaining length, so the id is not at a fixed offset.
    for (const topic of ["t", "a/".repeat(100)]) {
      const template = encodePublish(packet(1, false, topic), version);
      for (const [packetId, dup] of [
        [0xbeef, false],
        [7, true],
      ] as const) {
        // At an offset, as when the turn's output is joined.
        const out = Buffer.concat([Buffer.from([9, 9, 9]), template]);
        const id = packetId | (dup ? DUP_FLAG : 0);
        writePacketId(out, 3, id & 0xffff, (id & DUP_FLAG) !== 0);
        assert.deepEqual(out.subarray(3), encodePublish(packet(packetId, dup, topic), version));
        assert.deepEqual(out.subarray(0, 3), Buffer.from([9, 9, 9]));
      }
    }
  }
});
