import assert from "node:assert/strict";
import { test } from "node:test";
import { encode, MqttParser } from "../../../../src/protocol/mqtt/index.ts";
import type { Packet } from "../../../../src/protocol/mqtt/packets.ts";

function publishes(count: number): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    parts.push(
      encode(
        {
          type: "publish",
          topic: "t",
          payload: Buffer.from([i]),
          qos: 0,
          retain: false,
          dup: false,
        },
        4,
      ),
    );
  }
  return Buffer.concat(parts);
}

test("pause() inside onPacket stops the chunk after that packet; resume() parses the rest", () => {
  const seen: number[] = [];
  const parser: MqttParser = new MqttParser((packet: Packet) => {
    if (packet.type !== "publish") return;
    seen.push(packet.payload[0]);
    if (packet.payload[0] === 2) parser.pause();
  }, 1024);
  const bytes = publishes(6);
  assert.equal(parser.push(bytes), null);
  assert.deepEqual(seen, [0, 1, 2]);
  // Bytes pushed while paused wait too, behind the held ones and in order.
  assert.equal(parser.push(publishes(1)), null);
  assert.deepEqual(seen, [0, 1, 2]);
  assert.equal(parser.resume(), null);
  assert.deepEqual(seen, [0, 1, 2, 3, 4, 5, 0]);
});

test("pausing inside a packet that spanned chunks holds the remainder of the next chunk", () => {
  const seen: number[] = [];
  const parser: MqttParser = new MqttParser((packet: Packet) => {
    if (packet.type !== "publish") return;
    seen.push(packet.payload[0]);
    parser.pause();
  }, 1024);
  const bytes = publishes(3);
  assert.equal(parser.push(bytes.subarray(0, 3)), null);
  assert.equal(parser.push(bytes.subarray(3)), null);
  assert.deepEqual(seen, [0]);
  assert.equal(parser.resume(), null);
  assert.deepEqual(seen, [0, 1]);
  assert.equal(parser.resume(), null);
  assert.deepEqual(seen, [0, 1, 2]);
  assert.equal(parser.resume(), null);
  assert.deepEqual(seen, [0, 1, 2]);
});

test("an error in held bytes is reported by resume()", () => {
  const parser: MqttParser = new MqttParser(() => parser.pause(), 1024);
  const bad = Buffer.concat([publishes(1), Buffer.from([0x00, 0x00])]);
  assert.equal(parser.push(bad), null);
  const error = parser.resume();
  assert.ok(error !== null);
  assert.equal(error.reasonCode, 0x81);
});
